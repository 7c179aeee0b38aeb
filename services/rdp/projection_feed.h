// Projection: one display shown on many stations, captured and encoded once. A feed has its own
// thread with its own X connection to the projected display; it encodes damaged areas as
// RemoteFX at most max_fps times a second while anyone watches, and leaves each frame in every
// watcher's mailbox. A peer takes the newest frame when its client can take one; a frame it
// never took is replaced, and the areas of that frame are encoded again in the next one, so a
// slow client only gets fewer frames, never a stale picture. Every frame carries the RemoteFX
// header blocks, so a client may start with any frame.
#pragma once

#include <freerdp/codec/nsc.h>
#include <winpr/synch.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "screen_capture.h"

namespace mp::rdp {

class XConnection;
class RemoteFxEncoder;

// One frame in each codec some watcher's client uses.
struct EncodedFrame {
  std::vector<std::vector<std::uint8_t>> remotefx;  // RemoteFX messages, in order
  struct Band {
    Rect rect;
    std::vector<std::uint8_t> bytes;
  };
  std::vector<Band> nscodec;  // NSCodec bands, each one surface bits command
  std::vector<Rect> areas;    // what they cover
};

enum class FeedCodec { remotefx, nscodec };

class ProjectionFeed {
 public:
  // Opens the display (throws std::runtime_error with the reason) and starts the thread.
  ProjectionFeed(const std::string& display, const std::string& xauthority, int max_fps);
  ~ProjectionFeed();  // stops and joins the thread
  ProjectionFeed(const ProjectionFeed&) = delete;
  ProjectionFeed& operator=(const ProjectionFeed&) = delete;

  const std::string& display() const { return display_; }
  int width() const { return width_; }
  int height() const { return height_; }
  // The display went away; watchers should return to their own.
  bool broken() const { return broken_.load(); }

  // Any thread. `wake` is set whenever a frame waits in the watcher's mailbox. A new watcher
  // gets the whole screen in the next frame.
  std::uint64_t watch(HANDLE wake, FeedCodec codec);
  void unwatch(std::uint64_t watcher);
  bool has_frame(std::uint64_t watcher);
  // The newest frame not taken yet, or null.
  std::shared_ptr<const EncodedFrame> take(std::uint64_t watcher);
  // A watcher's client asked for these areas again.
  void refresh(const Rect& area);

  // Bytes of each message at most: what every RDP client accepts in one request.
  static constexpr std::size_t kMaxMessageBytes = 16256;

 private:
  struct Watcher {
    HANDLE wake = nullptr;
    FeedCodec codec = FeedCodec::remotefx;
    std::shared_ptr<const EncodedFrame> waiting;
  };

  void run();
  void encode_nscodec(const std::vector<Rect>& areas, EncodedFrame& frame);
  void publish(std::shared_ptr<const EncodedFrame> frame);
  void wake_thread();

  std::string display_;
  int width_ = 0;
  int height_ = 0;
  std::chrono::steady_clock::duration period_;
  std::unique_ptr<XConnection> x_;
  std::unique_ptr<ScreenCapture> capture_;
  std::unique_ptr<RemoteFxEncoder> encoder_;
  NSC_CONTEXT* nsc_ = nullptr;
  wStream* nsc_stream_ = nullptr;
  int wake_fd_ = -1;  // eventfd: stop, refresh, a new watcher
  std::atomic<bool> stop_{false};
  std::atomic<bool> broken_{false};

  std::mutex mutex_;  // guards what follows
  std::map<std::uint64_t, Watcher> watchers_;
  std::vector<Rect> refresh_;
  std::uint64_t next_watcher_ = 1;

  std::thread thread_;  // last: started once everything above exists
};

// The feeds that exist, one per display, shared by the peers that show it: the last peer to
// let go ends it. Any thread.
class FeedRegistry {
 public:
  explicit FeedRegistry(int max_fps) : max_fps_(max_fps) {}
  // Throws std::runtime_error when the display cannot be opened.
  std::shared_ptr<ProjectionFeed> acquire(const std::string& display,
                                          const std::string& xauthority);

 private:
  int max_fps_;
  std::mutex mutex_;
  std::map<std::string, std::weak_ptr<ProjectionFeed>> feeds_;
};

}  // namespace mp::rdp
