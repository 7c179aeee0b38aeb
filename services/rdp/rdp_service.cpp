#include "rdp_service.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <future>
#include <optional>
#include <sstream>
#include <stdexcept>

#include "mp/bus/frame.h"
#include "projection_feed.h"

namespace mp::rdp {

using mp::bus::Reply;
using mp::bus::RequestOptions;
using mp::schema::Envelope;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

// Waits on a peer thread for the main thread's answer, giving up when the peer is told to
// close. A dropped task (queue closed) breaks the promise and ends the wait at once.
template <typename T>
std::optional<T> wait_answer(std::future<T>& answer, std::chrono::milliseconds timeout,
                             const std::atomic<bool>& cancel) {
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline && !cancel) {
    if (answer.wait_for(50ms) == std::future_status::ready) {
      try {
        return answer.get();
      } catch (const std::future_error&) {
        return std::nullopt;
      }
    }
  }
  return std::nullopt;
}

// A client that vanishes without closing (cable pulled, laptop lid shut) is noticed within
// about a minute instead of never.
void enable_keepalive(int fd) {
  int on = 1, idle = 30, interval = 10, count = 3;
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof(interval));
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof(count));
}

void fill_station(mp::schema::StationInfo::Builder info, const StationDescription& station,
                  const std::string& transport) {
  info.setKey(station.key);
  info.setTransport(transport);
  info.setClientName(station.client_name);
  info.setAddress(station.address);
  auto caps = info.initCapabilities();
  caps.setVideo(true);
  caps.setKeyboard(true);
  caps.setMouse(true);
  caps.setWidth(station.width);
  caps.setHeight(station.height);
}

RdpOptions with_feeds(RdpOptions options) {
  if (!options.peer.feeds)
    options.peer.feeds = std::make_shared<FeedRegistry>(options.peer.max_fps);
  return options;
}

// A display name as X writes it (":N" or ":N.S") and an absolute Xauthority path: what
// StationShow may name. Empty display: the station's own.
std::string check_shown_display(const std::string& display, const std::string& xauthority) {
  if (display.empty()) return "";
  bool digits = display.size() >= 2 && display.size() <= 16 && display[0] == ':' &&
                display.find_first_not_of("0123456789.", 1) == std::string::npos;
  if (!digits) return "display '" + display.substr(0, 32) + "' is not of the form :N";
  if (xauthority.empty() || xauthority[0] != '/' || xauthority.size() > 4096) {
    return "the Xauthority file must be an absolute path";
  }
  return "";
}

}  // namespace

RdpService::RdpService(mp::bus::Client& client, RdpOptions options)
    : client_(client),
      options_(with_feeds(std::move(options))),
      queue_(client.reactor()),
      throttle_(options_.throttle),
      locks_(
          client,
          [this](const std::set<std::string>& stations, bool everyone) {
            locks_changed(stations, everyone);
          },
          options_.lock_cache) {}

RdpService::~RdpService() { stop(); }

void RdpService::start() {
  listener_ = freerdp_listener_new();
  if (listener_ == nullptr) throw std::runtime_error("freerdp_listener_new failed");
  listener_->info = this;
  listener_->PeerAccepted = on_peer_accepted;
  if (!listener_->Open(listener_, options_.bind_address.c_str(), options_.port)) {
    throw std::runtime_error("cannot listen on " + options_.bind_address + ":" +
                             std::to_string(options_.port));
  }
  void* fds[32] = {};
  int count = 0;
  listener_->GetFileDescriptor(listener_, fds, &count);
  for (int i = 0; i < count; ++i) {
    int fd = static_cast<int>(reinterpret_cast<intptr_t>(fds[i]));
    listener_fds_.push_back(fd);
    // A failed accept (e.g. out of file descriptors) is logged by FreeRDP; we keep listening.
    client_.reactor().watch_fd(fd, [this] { listener_->CheckFileDescriptor(listener_); });
  }
  spdlog::info("listening on {}:{} (at most {} clients)", options_.bind_address, options_.port,
               options_.max_peers);

  // mp-session's requests of the transport contract: what a station shows, disconnects.
  client_.serve([this](const mp::bus::Incoming& request, Envelope::Builder reply) {
    auto envelope = request.envelope();
    if (envelope.isStationShow()) {
      show(envelope.getStationShow(), reply);
      return true;
    }
    if (envelope.isStationDisconnectRequest()) {
      disconnect(envelope.getStationDisconnectRequest(), reply);
      return true;
    }
    return false;
  });
  client_.on_registered([this] { send_sync(); });
  locks_.start();
  client_.subscribe("bus.presence", [this](std::string_view, const mp::bus::Incoming& event) {
    auto presence = event.envelope().getPresence();
    if (presence.getService() != "session" ||
        presence.getState() != mp::schema::Presence::State::UP ||
        presence.getIncarnation() == session_incarnation_) {
      return;
    }
    // mp-session came back: whatever it missed while away, the full list repairs.
    session_incarnation_ = presence.getIncarnation();
    send_sync();
  });
}

void RdpService::stop() {
  queue_.close();
  for (auto& [id, peer] : peers_) peer->request_close();
  peers_.clear();  // joins every peer thread
  for (int fd : listener_fds_) client_.reactor().unwatch_fd(fd);
  listener_fds_.clear();
  if (listener_ != nullptr) {
    listener_->Close(listener_);
    freerdp_listener_free(listener_);
    listener_ = nullptr;
  }
}

BOOL RdpService::on_peer_accepted(freerdp_listener* listener, freerdp_peer* peer) {
  return static_cast<RdpService*>(listener->info)->accept(peer) ? TRUE : FALSE;
}

bool RdpService::accept(freerdp_peer* peer) {
  if (peers_.size() >= options_.max_peers) {
    spdlog::warn("client {} refused: already {} clients", peer->hostname, peers_.size());
    return false;  // FreeRDP closes the socket and frees the peer
  }
  // A source whose failed logons put it in a wait is turned away before TLS: any logon it tried
  // would be refused unchecked, and a flood from it then costs an accept and a close.
  if (auto wait = throttle_.source_wait(peer->hostname); wait.count() > 0) {
    note_turned_away(peer->hostname, wait);
    return false;
  }
  enable_keepalive(peer->sockfd);
  PeerId id = next_peer_++;
  auto connection = std::make_unique<PeerConnection>(peer, id, *this, options_.peer);
  connection->start();
  peers_[id] = std::move(connection);
  return true;
}

void RdpService::note_turned_away(const std::string& address, std::chrono::milliseconds wait) {
  // One line per source and wait, not one per connection: a flood must not flood the log.
  auto source = mp::service::logon_source(address);
  auto now = std::chrono::steady_clock::now();
  auto [it, fresh] = turned_away_.try_emplace(source, TurnedAway{});
  ++it->second.count;
  if (!fresh && now < it->second.quiet_until) return;
  spdlog::warn("connections from {} turned away for {}: too many failed logons ({} so far)",
               address, mp::service::retry_text(wait), it->second.count);
  it->second.quiet_until = now + wait;
  if (turned_away_.size() > kMaxTurnedAwaySources) turned_away_.clear();
}

std::string RdpService::next_key() {
  std::ostringstream key;
  key << client_.service() << ":" << std::hex << client_.incarnation() << ":" << std::dec
      << ++requests_sent_;
  return key.str();
}

// Peer threads -----------------------------------------------------------------------------

LogonOutcome RdpService::logon(PeerId peer, const StationDescription& station,
                               const std::string& user, const std::string& password,
                               const std::atomic<bool>& cancel) {
  auto promise = std::make_shared<std::promise<LogonOutcome>>();
  auto answer = promise->get_future();
  bool posted = queue_.post([this, peer, station, user, password, promise] {
    logon_on_main(peer, station, user, password, promise);
  });
  LogonOutcome unavailable;
  unavailable.reason = "mp-rdp is stopping";
  if (!posted) return unavailable;
  return wait_answer(answer, options_.bus_timeout * 2 + 1s, cancel).value_or(unavailable);
}

void RdpService::detach(PeerId peer, const std::string& station_key) {
  queue_.post([this, peer, station_key] {
    auto it = stations_.find(station_key);
    if (it == stations_.end() || it->second.peer != peer) return;  // taken over meanwhile
    stations_.erase(it);
    send_detach(station_key);
  });
}

void RdpService::screen_shown(PeerId peer, const std::string& station_key, ScreenShown shown,
                              const std::string& lock_message) {
  queue_.post([this, peer, station_key, shown, lock_message] {
    auto it = stations_.find(station_key);
    if (it == stations_.end() || it->second.peer != peer) return;  // not its station (any more)
    publish_screen(station_key, shown, lock_message);
  });
}

void RdpService::finished(PeerId peer) {
  queue_.post([this, peer] {
    peers_.erase(peer);  // joins the (ending) thread
  });
}

// Main thread ------------------------------------------------------------------------------

void RdpService::logon_on_main(PeerId peer, const StationDescription& station,
                               const std::string& user, const std::string& password,
                               std::shared_ptr<std::promise<LogonOutcome>> answer) {
  const std::string& address = station.address;
  // Counted now, not when mp-session answers: parallel attempts cannot slip past.
  auto admission = throttle_.begin(user, address);
  if (!admission.allowed()) {
    std::string wait = mp::service::retry_text(admission.retry_after);
    spdlog::warn("logon of {} on station {} from {} refused: too many failed logons ({})",
                 name_redactor_.hashed(user), station.key, address, wait);
    LogonOutcome outcome;
    outcome.result = LogonOutcome::Result::throttled;
    outcome.reason = "too many failed logons; " + wait;
    answer->set_value(outcome);
    return;
  }
  auto attempt = *admission.attempt;
  ++logons_in_flight_[station.key];
  client_.request(
      "session",
      [&](Envelope::Builder e) {
        auto credentials = e.initCredentials();
        credentials.setStationKey(station.key);
        credentials.setUser(user);
        credentials.setPassword(password);
        credentials.setClientAddress(address);
        // The station is stored by mp-session only if the password is right.
        fill_station(credentials.initStation(), station, client_.service());
      },
      RequestOptions{
          .deadline = options_.bus_timeout, .idempotency_key = next_key(), .attempts = 2},
      [this, peer, station, user, answer, attempt](Reply reply) {
        using Outcome = mp::service::LogonThrottle::Outcome;
        const std::string& from = station.address;
        if (--logons_in_flight_[station.key] <= 0) logons_in_flight_.erase(station.key);
        LogonOutcome outcome;
        if (!reply.ok() || !reply.envelope().isLogonResult()) {
          outcome.result = LogonOutcome::Result::unavailable;
          outcome.reason = reply.ok() ? "unexpected reply" : reply.error_text();
          throttle_.finish(attempt, Outcome::undecided);  // no password was judged
          spdlog::warn("logon of {} on station {} from {} not answered: {}",
                       name_redactor_.hashed(user), station.key, from, outcome.reason);
          answer->set_value(outcome);
          return;
        }
        auto result = reply.envelope().getLogonResult();
        auto session = result.getSession();
        if (!result.getOk()) {
          outcome.result = LogonOutcome::Result::refused;
          outcome.reason = result.getReason().cStr();
          // mp-session's own throttle answered without checking the password; any other
          // refusal counts (LogonResult does not say whether the password was right).
          bool unchecked = outcome.reason.rfind("too many failed logons", 0) == 0;
          throttle_.finish(attempt, unchecked ? Outcome::undecided : Outcome::failed);
          // Not the name as typed: it may be a password (mp-session logs account names).
          spdlog::warn("logon failed for {} on station {} from {}: {}", name_redactor_.hashed(user),
                       station.key, from, outcome.reason);
          // mp-session may have stored the station (right password, but no session for it):
          // let go of it unless another client holds it or is logging on to it.
          if (!stations_.contains(station.key) && !logons_in_flight_.contains(station.key)) {
            send_detach(station.key);
          }
        } else if (session.getDisplay().size() == 0) {
          outcome.result = LogonOutcome::Result::unavailable;
          outcome.reason = "the session has no display";
          throttle_.finish(attempt, Outcome::succeeded);
          spdlog::error("logon of '{}' on station {} from {}: session {} has no display", user,
                        station.key, from, session.getId());
        } else {
          throttle_.finish(attempt, Outcome::succeeded);
          outcome.result = LogonOutcome::Result::accepted;
          outcome.display = session.getDisplay().cStr();
          outcome.xauthority = session.getXauthority().cStr();
          outcome.width = session.getWidth();
          outcome.height = session.getHeight();
          outcome.session_id = session.getId();
          take_over(peer, station);
          spdlog::info("logon of '{}' on station {} from {}: session {} on {}", user, station.key,
                       from, outcome.session_id, outcome.display);
        }
        answer->set_value(outcome);
      });
}

void RdpService::take_over(PeerId peer, const StationDescription& station) {
  auto connection = peers_.find(peer);
  if (connection == peers_.end()) return;  // the peer went meanwhile
  auto it = stations_.find(station.key);
  if (it != stations_.end() && it->second.peer != peer) {
    auto previous = peers_.find(it->second.peer);
    if (previous != peers_.end()) {
      spdlog::info("station {}: a new connection from {} replaces the one from {}", station.key,
                   station.address, previous->second->address());
      previous->second->request_close();
    }
  }
  stations_[station.key] = Holder{peer, station};
  // Before its first frame: a blocked station never shows its desktop.
  apply_lock(station.key, *connection->second);
  // A reconnected client goes on showing what its station was showing.
  if (auto shown = shows_.find(station.key); shown != shows_.end()) {
    connection->second->show(shown->second);
  }
}

void RdpService::locks_changed(const std::set<std::string>& stations, bool everyone) {
  for (const auto& [key, holder] : stations_) {
    if (!everyone && !stations.contains(key)) continue;
    if (auto peer = peers_.find(holder.peer); peer != peers_.end()) {
      apply_lock(key, *peer->second);
    }
  }
}

void RdpService::apply_lock(const std::string& station_key, PeerConnection& peer) {
  auto lock = locks_.lock_of(station_key);
  peer.lock(lock.locked ? std::optional<std::string>(lock.message) : std::nullopt);
}

void RdpService::publish_screen(const std::string& station_key, ScreenShown shown,
                                const std::string& lock_message) {
  using Shows = mp::schema::StationScreen::Shows;
  client_.publish("transport.screen." + station_key, [&](Envelope::Builder e) {
    auto screen = e.initStationScreen();
    screen.setStationKey(station_key);
    screen.setShows(shown == ScreenShown::lock         ? Shows::LOCK
                    : shown == ScreenShown::projection ? Shows::PROJECTION
                                                       : Shows::DESKTOP);
    screen.setLockMessage(lock_message);
    screen.setPolicyVersion(locks_.version());
  });
}

PeerConnection* RdpService::peer_of(const std::string& station_key) {
  auto it = stations_.find(station_key);
  if (it == stations_.end()) return nullptr;
  auto peer = peers_.find(it->second.peer);
  return peer == peers_.end() ? nullptr : peer->second.get();
}

void RdpService::show(mp::schema::StationShow::Reader body, Envelope::Builder reply) {
  std::string key = body.getStationKey();
  std::string display = body.getDisplay();
  std::string xauthority = body.getXauthority();
  if (auto e = check_shown_display(display, xauthority); !e.empty()) {
    mp::bus::set_error(reply, mp::schema::Error::Kind::INVALID, e);
    return;
  }
  PeerConnection* peer = peer_of(key);
  if (peer == nullptr) {
    mp::bus::set_error(reply, mp::schema::Error::Kind::INVALID,
                       "station '" + key + "' is not connected to mp-rdp");
    return;
  }
  if (display.empty()) {
    shows_.erase(key);
    peer->show(std::nullopt);
  } else {
    ShownDisplay shown{.display = display,
                       .xauthority = xauthority,
                       .source = body.getSourceKey(),
                       .view_only = body.getViewOnly()};
    shows_[key] = shown;
    peer->show(shown);
  }
  reply.initAck();
}

void RdpService::disconnect(mp::schema::StationDisconnectRequest::Reader body,
                            Envelope::Builder reply) {
  std::string key = body.getStationKey();
  PeerConnection* peer = peer_of(key);
  if (peer == nullptr) {
    mp::bus::set_error(reply, mp::schema::Error::Kind::INVALID,
                       "station '" + key + "' is not connected to mp-rdp");
    return;
  }
  spdlog::info("station {}: disconnect asked ({})", key, body.getReason().cStr());
  peer->disconnect_by_operator();
  reply.initAck();
}

void RdpService::send_detach(const std::string& key) {
  client_.request(
      "session",
      [&](Envelope::Builder e) {
        auto detach = e.initStationDetach();
        detach.setKey(key);
        detach.setReason("RDP client disconnected");
      },
      RequestOptions{
          .deadline = options_.bus_timeout, .idempotency_key = next_key(), .attempts = 3},
      [key](Reply reply) {
        // If mp-session is away, its return triggers a full sync; nothing is lost.
        if (!reply.ok()) spdlog::warn("detach {} not confirmed: {}", key, reply.error_text());
      });
}

void RdpService::send_sync() {
  spdlog::info("announcing {} stations to session", stations_.size());
  client_.request(
      "session",
      [&](Envelope::Builder e) {
        auto sync = e.initTransportSync();
        sync.setTransport(client_.service());
        auto list = sync.initStations(static_cast<unsigned>(stations_.size()));
        unsigned i = 0;
        for (const auto& [key, holder] : stations_) {
          fill_station(list[i++], holder.station, client_.service());
        }
      },
      RequestOptions{
          .deadline = options_.bus_timeout, .idempotency_key = next_key(), .attempts = 3},
      [](Reply reply) {
        if (!reply.ok()) spdlog::warn("station sync not confirmed: {}", reply.error_text());
      });
}

}  // namespace mp::rdp
