// The agent's thumbnail streams: mp-session asks for images of the screen (the dashboard's grid,
// a live view) with a lease that each request renews; the agent grabs, scales and encodes one
// image per interval while the lease lasts and sends it up the session channel. An unchanged
// screen is not sent again (only every kResendUnchanged, so a dashboard that just opened
// catches up), and nothing is grabbed at all when nobody watches.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "agent.capnp.h"
#include "mp/bus/reactor.h"
#include "session_link.h"
#include "thumbnail_encoder.h"

namespace mp::agent {

inline constexpr std::chrono::seconds kResendUnchanged{5};

// Grabs the whole screen; the pixels stay valid until the next call. False if it cannot.
using GrabScreen = std::function<bool(ScreenImage*)>;

struct ThumbnailCounters {
  std::uint64_t sent = 0;
  std::uint64_t unchanged = 0;      // frames not sent: the screen looked the same
  std::uint64_t not_looked = 0;     // of those, not even scaled: the grabber saw no change
  std::uint64_t partly_scaled = 0;  // pictures of which only the changed rows were scaled
  std::uint64_t not_sent = 0;       // mp-session away
  std::uint64_t grab_failed = 0;
  std::uint64_t too_large = 0;  // did not fit at the lowest quality: the stream got smaller
  std::uint64_t refused = 0;    // requests out of bounds
};

class ThumbnailStreams {
 public:
  ThumbnailStreams(mp::bus::Reactor& reactor, GrabScreen grab,
                   std::function<bool(const mp::bus::Build&)> send);
  ~ThumbnailStreams();
  ThumbnailStreams(const ThumbnailStreams&) = delete;
  ThumbnailStreams& operator=(const ThumbnailStreams&) = delete;

  // Starts, renews or changes a stream; a zero lease stops it. The first image goes at once.
  void request(mp::schema::AgentThumbnailRequest::Reader request);
  // Grabs and sends one image of `stream` now (also what the stream's timer calls).
  void capture(std::uint8_t stream);

  bool active(std::uint8_t stream) const { return streams_.contains(stream); }
  const ThumbnailCounters& counters() const { return counters_; }

 private:
  struct Stream {
    std::chrono::milliseconds interval{1000};
    int width = 320;
    int fitted_width = 320;  // narrower when the JPEG did not fit at the lowest quality
    std::size_t max_bytes = 10240;
    std::chrono::steady_clock::time_point lease_end{};
    mp::bus::Reactor::TimerId timer = 0;
    int quality = 70;
    bool unsent = true;  // the picture changed since the last image sent
    RgbImage picture;    // the screen scaled, as of version `picture_version`
    std::uint64_t picture_version = 0;
    int source_width = 0, source_height = 0;
    std::chrono::steady_clock::time_point last_sent{};
  };
  void stop(std::uint8_t stream);

  mp::bus::Reactor& reactor_;
  GrabScreen grab_;
  std::function<bool(const mp::bus::Build&)> send_;
  // Brings the stream's picture up to `screen`, scaling only changed rows when it can; true if
  // the picture is not what it was.
  bool update_picture(Stream& stream, const ScreenImage& screen);

  JpegEncoder encoder_;
  std::map<std::uint8_t, Stream> streams_;
  ThumbnailCounters counters_;
};

}  // namespace mp::agent
