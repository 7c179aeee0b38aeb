// The stations' screens for the browsers, on the bus thread: images from the agents (events on
// "thumbnail.<station>", checked and kept in the ThumbnailStore, announced to the pages as
// `thumbnail` server events), the leases that make agents send them — the grid's for as long as
// at least one page has its event stream open, a live view's for as long as its page renews it —
// and take control (the operator's input as RemoteInput to mp-session). Nothing is captured
// while nobody watches.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "event_broadcaster.h"
#include "mp/bus/client.h"
#include "mp/bus/reactor.h"
#include "operator_actions.h"
#include "station_board.h"
#include "thumbnail_store.h"

namespace mp::dashboard {

// The grid's stream (0) and a live view's (1), as mp-session and the agents know them.
struct StreamParameters {
  std::uint32_t interval_ms;
  std::uint16_t width;
  std::uint32_t max_bytes;
};
inline constexpr StreamParameters kGridStream{1000, 320, 10 * 1024};
inline constexpr StreamParameters kLiveStream{250, 960, 96 * 1024};
inline constexpr std::chrono::milliseconds kLease{6000};
inline constexpr std::chrono::milliseconds kRenewEvery{2000};
inline constexpr std::size_t kMaxLiveViews = 4;
inline constexpr std::size_t kMaxImageBytes = 256 * 1024;

// One input event from the page, already checked: pointer in 0..65535 of the screen.
struct InputAction {
  enum class Kind { move, button, key } kind = Kind::move;
  std::uint16_t x = 0, y = 0;
  std::uint8_t button = 0;
  std::uint32_t keysym = 0;
  bool down = false;
};

class ScreenFeeds {
 public:
  using Respond = OperatorActions::Respond;

  ScreenFeeds(mp::bus::Client& client, mp::bus::Reactor& reactor, const StationBoard& board,
              ThumbnailStore& store, const EventBroadcaster& streams, StationBoard::Publish publish,
              std::chrono::milliseconds deadline);
  ~ScreenFeeds();
  ScreenFeeds(const ScreenFeeds&) = delete;
  ScreenFeeds& operator=(const ScreenFeeds&) = delete;

  // Subscribes to the images and starts keeping the leases.
  void start();
  // Starts or renews (on) or ends (off) the live view of one station.
  void live(const std::string& operator_name, const std::string& key, bool on, Respond respond);
  // Take control: the operator's input for the station's session.
  void input(const std::string& operator_name, const std::string& key,
             std::vector<InputAction> actions, Respond respond);

  // For tests: images taken and refused.
  std::uint64_t images_taken() const { return images_taken_; }
  std::uint64_t images_refused() const { return images_refused_; }

 private:
  void take_image(const mp::bus::Incoming& event);
  void tick();
  // Asks mp-session for a stream (one request in flight per kind at most).
  void watch(const std::vector<std::string>& stations, std::uint8_t stream,
             const StreamParameters& parameters, std::chrono::milliseconds lease);

  mp::bus::Client& client_;
  mp::bus::Reactor& reactor_;
  const StationBoard& board_;
  ThumbnailStore& store_;
  const EventBroadcaster& streams_;
  StationBoard::Publish publish_;
  std::chrono::milliseconds deadline_;
  mp::bus::Reactor::TimerId timer_ = 0;
  bool grid_watched_ = false;
  bool grid_request_in_flight_ = false;
  std::chrono::steady_clock::time_point grid_renewed_{};
  std::map<std::string, std::chrono::steady_clock::time_point> live_until_;  // station -> end
  // Who took control of which station last, and when: one audit record per stretch of control.
  std::map<std::pair<std::string, std::string>, std::chrono::steady_clock::time_point> controls_;
  std::uint64_t images_taken_ = 0;
  std::uint64_t images_refused_ = 0;
};

}  // namespace mp::dashboard
