#include "screen_feeds.h"
#include "capnp_text.h"

#include <spdlog/spdlog.h>

#include "audit_trail.h"

namespace mp::dashboard {

using mp::bus::Incoming;
using mp::bus::Reply;
using mp::schema::Envelope;
using nlohmann::json;
using namespace std::chrono;

namespace {

constexpr milliseconds kTick{250};
// A new audit record for take control after this long without input from that operator.
constexpr minutes kControlStretch{10};
constexpr int kMaxImageSide = 4096;

}  // namespace

ScreenFeeds::ScreenFeeds(mp::bus::Client& client, mp::bus::Reactor& reactor,
                         const StationBoard& board, ThumbnailStore& store,
                         const EventBroadcaster& streams, StationBoard::Publish publish,
                         milliseconds deadline)
    : client_(client),
      reactor_(reactor),
      board_(board),
      store_(store),
      streams_(streams),
      publish_(std::move(publish)),
      deadline_(deadline) {}

ScreenFeeds::~ScreenFeeds() { reactor_.cancel(timer_); }

void ScreenFeeds::start() {
  client_.subscribe("thumbnail.",
                    [this](std::string_view, const Incoming& event) { take_image(event); });
  timer_ = reactor_.every(kTick, [this] { tick(); });
}

void ScreenFeeds::take_image(const Incoming& event) {
  auto e = event.envelope();
  if (!e.isThumbnail()) return;
  auto image = e.getThumbnail();
  std::string key = text(image.getStationKey());
  auto jpeg = image.getJpeg();
  // From mp-session, but made by an agent running as the student: checked like any input.
  bool fine = !key.empty() && image.getStream() <= 1 && jpeg.size() >= 4 &&
              jpeg.size() <= kMaxImageBytes && jpeg[0] == 0xFF && jpeg[1] == 0xD8 &&
              image.getWidth() >= 1 && image.getWidth() <= kMaxImageSide &&
              image.getHeight() >= 1 && image.getHeight() <= kMaxImageSide &&
              board_.session_on(key) == image.getSessionId() && image.getSessionId() != 0;
  if (!fine) {
    // Also late images of a session that just ended: not an error, only not shown.
    ++images_refused_;
    return;
  }
  ++images_taken_;
  std::uint8_t stream = image.getStream();
  std::uint64_t seq = store_.put(
      key, stream,
      StoredThumbnail{.jpeg = std::string(reinterpret_cast<const char*>(jpeg.begin()), jpeg.size()),
                      .width = image.getWidth(),
                      .height = image.getHeight(),
                      .captured_at_ns = image.getCapturedAtNs(),
                      .session_id = image.getSessionId()});
  json announce{{"station", key},
                {"stream", stream},
                {"seq", seq},
                {"width", image.getWidth()},
                {"height", image.getHeight()}};
  publish_({"thumbnail", announce.dump(-1, ' ', false, json::error_handler_t::replace)});
}

void ScreenFeeds::tick() {
  auto now = steady_clock::now();
  // The grid: watched while a page listens; asked again before the lease ends.
  bool watched = streams_.subscribers() > 0;
  if (watched && (!grid_watched_ || now - grid_renewed_ >= kRenewEvery)) {
    watch({}, 0, kGridStream, kLease);
  } else if (!watched && grid_watched_) {
    // Nobody watches: stop at once (at the next tick if a renewal is still on its way).
    watch({}, 0, kGridStream, milliseconds(0));
  }
  std::erase_if(live_until_, [now](const auto& entry) { return entry.second <= now; });
  // An image belongs to the session it shows.
  store_.keep_only([this](const std::string& key, std::uint64_t session_id) {
    return board_.session_on(key) == session_id;
  });
}

void ScreenFeeds::watch(const std::vector<std::string>& stations, std::uint8_t stream,
                        const StreamParameters& parameters, milliseconds lease) {
  bool grid = stream == 0;
  if (grid) {
    if (grid_request_in_flight_) return;
    grid_request_in_flight_ = true;
    grid_watched_ = lease.count() > 0;
    grid_renewed_ = steady_clock::now();
  }
  client_.request(
      "session",
      [&](Envelope::Builder e) {
        auto body = e.initThumbnailWatch();
        auto list = body.initStations(static_cast<unsigned>(stations.size()));
        for (unsigned i = 0; i < stations.size(); ++i) list.set(i, stations[i]);
        body.setStream(stream);
        body.setIntervalMs(parameters.interval_ms);
        body.setWidth(parameters.width);
        body.setMaxBytes(parameters.max_bytes);
        body.setLeaseMs(static_cast<std::uint32_t>(lease.count()));
      },
      mp::bus::RequestOptions{.deadline = deadline_},
      [this, grid](Reply reply) {
        if (grid) grid_request_in_flight_ = false;
        if (!reply.ok()) {
          spdlog::debug("thumbnail watch not taken: {}", reply.error_text());
          // Asked again at the next tick.
          if (grid) grid_renewed_ = {};
        }
      });
}

void ScreenFeeds::live(const std::string& operator_name, const std::string& key, bool on,
                       Respond respond) {
  if (!board_.has_station(key)) {
    respond(error_outcome(404, "no station " + key));
    return;
  }
  if (!on) {
    live_until_.erase(key);
    watch({key}, 1, kLiveStream, milliseconds(0));
    respond(Outcome{200, json{{"ok", true}}});
    return;
  }
  if (!live_until_.contains(key) && live_until_.size() >= kMaxLiveViews) {
    respond(error_outcome(
        409, "already " + std::to_string(kMaxLiveViews) + " live views open; close one first"));
    return;
  }
  if (board_.session_on(key) == 0) {
    respond(error_outcome(409, "station " + key + " has no session to show"));
    return;
  }
  live_until_[key] = steady_clock::now() + kLease;
  watch({key}, 1, kLiveStream, kLease);
  spdlog::debug("{} watches {} live", operator_name, key);
  respond(Outcome{200, json{{"ok", true}, {"lease_ms", kLease.count()}}});
}

void ScreenFeeds::input(const std::string& operator_name, const std::string& key,
                        std::vector<InputAction> actions, Respond respond) {
  client_.request(
      "session",
      [&](Envelope::Builder e) {
        e.getHeader().setOperator(operator_name);
        auto body = e.initRemoteInput();
        body.setStationKey(key);
        auto events = body.initEvents(static_cast<unsigned>(actions.size()));
        for (unsigned i = 0; i < actions.size(); ++i) {
          const InputAction& a = actions[i];
          switch (a.kind) {
            case InputAction::Kind::move: {
              auto move = events[i].initPointer();
              move.setX(a.x);
              move.setY(a.y);
              break;
            }
            case InputAction::Kind::button: {
              auto button = events[i].initButton();
              button.setButton(a.button);
              button.setDown(a.down);
              break;
            }
            case InputAction::Kind::key: {
              auto stroke = events[i].initKey();
              stroke.setKeysym(a.keysym);
              stroke.setDown(a.down);
              break;
            }
          }
        }
      },
      mp::bus::RequestOptions{.deadline = deadline_},
      [this, operator_name, key, respond = std::move(respond)](Reply reply) {
        if (!reply.ok()) {
          respond(error_outcome(status_for(reply), failure_text("session", reply, deadline_)));
          return;
        }
        auto now = steady_clock::now();
        auto [it, fresh] = controls_.try_emplace({operator_name, key}, now);
        if (fresh || now - it->second > kControlStretch) {
          record_audit(client_, operator_name, {.action = "take control", .stations = {key}});
        }
        it->second = now;
        respond(Outcome{200, json{{"ok", true}}});
      });
}

}  // namespace mp::dashboard
