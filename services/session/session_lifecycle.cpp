#include "session_lifecycle.h"

#include <spdlog/spdlog.h>

#include <vector>

#include "request_limits.h"
#include "session_rules.h"
#include "validation.h"
#include "wire_text.h"

namespace mp::session {

namespace {

using mp::bus::set_error;
using mp::schema::Envelope;
using mp::schema::Error;
using mp::schema::SessionState;
using mp::schema::StationState;

}  // namespace

SessionLifecycle::SessionLifecycle(SessionStore& store, StateJournal& journal, Desktops& desktops,
                                   DesktopStarts& starts, UserRegistry& users,
                                   StationRegistry& stations, const PrivacyNotice& notice,
                                   AnswerLater answer_later,
                                   std::chrono::seconds disconnected_timeout)
    : store_(store),
      journal_(journal),
      desktops_(desktops),
      starts_(starts),
      users_(users),
      stations_(stations),
      notice_(notice),
      answer_later_(std::move(answer_later)),
      disconnected_timeout_(disconnected_timeout) {}

void SessionLifecycle::logon(Mutation& m, mp::schema::Credentials::Reader body,
                             std::string_view channel, Envelope::Builder reply) {
  std::string key = wire_text(body.getStationKey());
  std::string address = wire_text(body.getClientAddress());
  // Transports without a logon screen (RDP) name the station here: it is stored only once the
  // password is right, so a host that merely connects leaves nothing behind.
  bool attach_here = body.hasStation() && body.getStation().getKey().size() > 0;
  std::string e = check_station_key(key);
  if (e.empty()) e = check_text("clientAddress", address, kMaxAddressBytes);
  if (e.empty() && attach_here) {
    e = check_station_info(body.getStation());
    if (e.empty() && wire_view(body.getStation().getKey()) != key) {
      e = "station '" + wire_text(body.getStation().getKey()) + "' is not stationKey '" + key + "'";
    }
  }
  if (!e.empty()) {
    set_error(reply, Error::Kind::INVALID, e);
    return;
  }
  auto station = store_.station(key);
  if (!attach_here && (!station || station->state != StationState::ATTACHED)) {
    set_error(reply, Error::Kind::INVALID, "station '" + key + "' is not attached");
    return;
  }
  auto check = users_.check_password(wire_view(body.getUser()), wire_view(body.getPassword()),
                                     address, channel);
  if (!check.user) {
    reply.initLogonResult().setReason(check.reason);
    return;
  }
  if (!station && !store_.allow_new_stations()) {
    spdlog::warn("logon of {} from {} refused: station {} is new and new stations may not log on",
                 check.user->name, address, key);
    reply.initLogonResult().setReason("station '" + key +
                                      "' is not known here; an administrator must admit it");
    return;
  }
  if (attach_here) {
    Station attached = stations_.attach_station(m, body.getStation());
    stations_.mark_logged_on(m, attached);
  } else {
    stations_.mark_logged_on(m, *station);
  }
  LogonRequest request{.body = Envelope::CREDENTIALS,
                       .body_name = m.body,
                       .idempotency_key = m.idempotency_key,
                       .station_key = key,
                       .user = check.user->name,
                       .role = check.user->role,
                       .client_address = address};
  starts_.open_for(m, request, reply, answer_later_);
}

void SessionLifecycle::start(Mutation& m, mp::schema::SessionStart::Reader body,
                             Envelope::Builder reply) {
  std::string key = wire_text(body.getStationKey());
  std::string user = wire_text(body.getUser());
  std::string e = check_station_key(key);
  if (e.empty()) e = check_user_name(user);
  if (!e.empty()) {
    set_error(reply, Error::Kind::INVALID, e);
    return;
  }
  LogonRequest request{.body = Envelope::SESSION_START,
                       .body_name = m.body,
                       .idempotency_key = m.idempotency_key,
                       .station_key = key,
                       .user = user};
  starts_.open_for(m, request, reply, answer_later_);
}

void SessionLifecycle::end(Mutation& m, mp::schema::SessionEnd::Reader body,
                           Envelope::Builder reply) {
  std::uint64_t id = body.getSessionId();
  if (id == 0) {
    // By the station that shows it.
    std::string key = wire_text(body.getStationKey());
    if (auto e = check_station_key(key); !e.empty()) {
      set_error(reply, Error::Kind::INVALID, "give a sessionId or a stationKey: " + e);
      return;
    }
    auto station = store_.station(key);
    if (!station) {
      set_error(reply, Error::Kind::INVALID, "no station '" + key + "'");
      return;
    }
    // Its session, or the one whose desktop is starting there.
    id = station->session_id != 0 ? station->session_id : starts_.on_station(key);
    if (id == 0) {
      set_error(reply, Error::Kind::INVALID, "station '" + key + "' has no session");
      return;
    }
  }
  if (const SessionRecord* starting = starts_.starting(id)) {
    // Logged off before it was up: the desktop being started ends and its logons are refused.
    reply.initAck().setDetail("session " + std::to_string(id) + " of " + starting->user +
                              " logged off while starting");
    starts_.abandon_after(m, id, "logged off while its desktop started");
    return;
  }
  auto record = store_.session(id);
  if (!record) {
    set_error(reply, Error::Kind::INVALID, "no session " + std::to_string(id));
    return;
  }
  if (record->state == SessionState::ENDED) {
    reply.initAck().setDetail("already ended");
    return;
  }
  close_session(store_, m, *record);
  reply.initAck().setDetail("session " + std::to_string(id) + " of " + record->user +
                            " logged off");
}

void SessionLifecycle::recover_desktops() {
  std::vector<SessionRecord> gone;
  for (const auto& record : store_.open_sessions()) {
    if (!desktops_.adopt(record, notice_.for_user(record.user))) gone.push_back(record);
  }
  if (gone.empty()) return;
  journal_.run_internal([&](Mutation& m) {
    for (const auto& record : gone) close_session(store_, m, record);
  });
}

void SessionLifecycle::tick() {
  if (disconnected_timeout_.count() <= 0) return;
  auto now = std::chrono::steady_clock::now();
  std::map<std::uint64_t, std::chrono::steady_clock::time_point> still;
  std::vector<SessionRecord> expired;
  for (const auto& record : store_.open_sessions()) {
    if (record.state != SessionState::DISCONNECTED) continue;
    auto it = disconnected_since_.find(record.id);
    auto since = it == disconnected_since_.end() ? now : it->second;
    if (now - since >= disconnected_timeout_) {
      expired.push_back(record);
    } else {
      still[record.id] = since;
    }
  }
  disconnected_since_ = std::move(still);
  if (expired.empty()) return;
  for (const auto& record : expired) {
    spdlog::info("session {} of {} disconnected for {} s: logged off", record.id, record.user,
                 disconnected_timeout_.count());
  }
  journal_.run_internal([&](Mutation& m) {
    for (const auto& record : expired) close_session(store_, m, record);
  });
}

std::size_t SessionLifecycle::end_all(const std::string& reason) {
  auto open = store_.open_sessions();
  if (open.empty()) return 0;
  journal_.run_internal([&](Mutation& m) {
    for (const auto& record : open) close_session(store_, m, record);
  });
  spdlog::info("ended {} sessions: {}", open.size(), reason);
  return open.size();
}

void SessionLifecycle::desktop_ended(std::uint64_t id, const std::string& reason) {
  auto record = store_.session(id);
  if (!record || record->state == SessionState::ENDED) return;
  spdlog::info("session {} of {} ends: {}", id, record->user, reason);
  journal_.run_internal([&](Mutation& m) { close_session(store_, m, *record); });
}

void SessionLifecycle::agent_up(std::uint64_t id, bool up) {
  auto record = store_.session(id);
  if (!record || record->state == SessionState::ENDED || record->agent_up == up) return;
  journal_.run_internal([&](Mutation& m) {
    record->agent_up = up;
    store_.update_session(*record);
    m.changes.emplace_back(*record);
  });
}

void SessionLifecycle::agent_started(std::uint64_t id, pid_t pid) {
  SessionStore::Transaction transaction(store_);
  store_.set_agent_pid(id, pid);
  transaction.commit();
}

}  // namespace mp::session
