// SessionService: logons that wait for a new desktop. The logon that needs one reserves a session
// id and asks the Desktops to start it; the session is stored, published and answered only once
// the desktop is up. Meanwhile logons of the same user on the same station join it (one desktop,
// one answer for all), logons that touch its user or station otherwise wait behind it and run
// once it is over, and a detach, log off or user removal abandons it.
#include <capnp/message.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <set>
#include <stdexcept>

#include "mp/service/idempotency.h"
#include "session_service.h"
#include "wire_records.h"

namespace mp::session {

namespace {

using mp::bus::set_error;
using mp::schema::Envelope;
using mp::schema::Error;
using mp::schema::SessionState;
using mp::schema::StationState;

void answer(mp::bus::Responder& responder, Envelope::Reader reply) {
  responder.reply([reply](Envelope::Builder e) { mp::bus::copy_body(reply, e); });
}

}  // namespace

void SessionService::open_for(Mutation& m, const LogonRequest& request, Envelope::Builder reply,
                              const AnswerLater& responder) {
  if (!store_.user(request.user)) {
    refuse_logon(request, "no user '" + request.user + "'", reply);
    return;
  }
  auto station = store_.station(request.station_key);
  if (!station || station->state != StationState::ATTACHED) {
    refuse_logon(request, "station '" + request.station_key + "' is not attached", reply);
    return;
  }
  Opened opened = open_session(m, *station, request.user);
  if (auto* record = std::get_if<SessionRecord>(&opened)) {
    answer_logon(request, *record, reply);
    return;
  }
  if (auto* why = std::get_if<std::string>(&opened)) {
    refuse_logon(request, *why, reply);
    return;
  }
  if (!responder)
    throw std::logic_error("a logon must wait for a desktop, but cannot answer later");
  WaitForDesktop wait = std::get<WaitForDesktop>(opened);
  WaitingLogon waiting{request, responder()};
  m.answered_later = true;
  if (wait.start == 0) {
    begin_desktop(m, *station, std::move(waiting));
    return;
  }
  DesktopStart& start = starting_.at(wait.start);
  spdlog::info("{} of {} on station {} waits for the desktop of session {}", request.body_name,
               request.user, request.station_key, wait.start);
  (wait.joins ? start.joined : start.queued).push_back(std::move(waiting));
}

void SessionService::answer_logon(const LogonRequest& request, const SessionRecord& record,
                                  Envelope::Builder reply) {
  if (request.body == Envelope::CREDENTIALS) {
    auto result = reply.initLogonResult();
    result.setOk(true);
    result.setRole(request.role);
    fill(result.initSession(), record);
    spdlog::info("logon of {} on station {} from {}", request.user, request.station_key,
                 request.client_address);
  } else {
    fill(reply.initSessionRecord(), record);
  }
}

void SessionService::refuse_logon(const LogonRequest& request, const std::string& why,
                                  Envelope::Builder reply) {
  // A refused logon is an answer (ok = false) to the transport; a refused sessionStart is
  // invalid for the operator who asked.
  if (request.body == Envelope::CREDENTIALS) {
    reply.initLogonResult().setReason(why);
  } else {
    set_error(reply, Error::Kind::INVALID, why);
  }
}

void SessionService::begin_desktop(Mutation& m, const Station& station, WaitingLogon waiting) {
  SessionRecord record{.id = store_.reserve_session_id(),
                       .station_key = station.key,
                       .user = waiting.request.user,
                       .state = SessionState::ACTIVE,
                       .started_at_ns = m.now_ns,
                       .width = station.capabilities.width,
                       .height = station.capabilities.height};
  DesktopStart start{.record = record};
  start.joined.push_back(std::move(waiting));
  starting_.emplace(record.id, std::move(start));
  m.starts_to_launch.push_back(record.id);
}

std::uint64_t SessionService::start_on_station(std::string_view station_key) const {
  for (const auto& [id, start] : starting_) {
    if (start.record.station_key == station_key) return id;
  }
  return 0;
}

std::uint64_t SessionService::start_of_user(std::string_view user) const {
  for (const auto& [id, start] : starting_) {
    if (start.record.user == user) return id;
  }
  return 0;
}

void SessionService::launch_desktop(std::uint64_t id) {
  auto it = starting_.find(id);
  if (it == starting_.end()) return;
  SessionRecord record = it->second.record;  // the start may be over before start() returns
  std::set<std::string> taken;
  for (const auto& open : store_.open_sessions()) {
    if (!open.display.empty()) taken.insert(open.display);
  }
  spdlog::info("session {} for {} on station {}: starting its desktop", id, record.user,
               record.station_key);
  try {
    desktops_.start(record, taken, privacy_notice_for(record.user),
                    [this, id](std::variant<SessionRecord, std::string> result) {
                      desktop_started(id, std::move(result));
                    });
  } catch (const std::exception& e) {
    // A start left waiting forever would hold every later logon of this user and station.
    desktops_.cancel_start(id);
    desktop_started(id, std::string(e.what()));
  }
}

void SessionService::desktop_started(std::uint64_t id,
                                     std::variant<SessionRecord, std::string> result) {
  auto it = starting_.find(id);
  if (it == starting_.end()) return;  // abandoned meanwhile
  DesktopStart start = std::move(it->second);
  starting_.erase(it);
  if (auto* error = std::get_if<std::string>(&result)) {
    spdlog::error("session for {} on station {}: cannot start the desktop: {}", start.record.user,
                  start.record.station_key, *error);
    refuse_waiting(start.joined, "cannot start the desktop: " + *error);
  } else {
    commit_desktop(start, std::get<SessionRecord>(result));
  }
  run_queued(std::move(start.queued));
}

void SessionService::commit_desktop(DesktopStart& start, const SessionRecord& record) {
  Mutation m;
  m.now_ns = now_ns();
  m.started.push_back(record);
  std::vector<std::unique_ptr<capnp::MallocMessageBuilder>> replies;
  std::uint64_t base = 0;
  std::string refused;
  try {
    SessionStore::Transaction transaction(store_);
    refused = why_not_storable(record);
    if (refused.empty()) {
      store_.insert_session(record);
      Station station = *store_.station(record.station_key);
      station.session_id = record.id;
      store_.put_station(station);
      m.changes.emplace_back(record);
      m.changes.emplace_back(station);
      for (const auto& logon : start.joined) {
        auto reply = replies.emplace_back(std::make_unique<capnp::MallocMessageBuilder>())
                         ->initRoot<Envelope>();
        answer_logon(logon.request, record, reply);
        if (!logon.request.idempotency_key.empty()) {
          store_.record_applied_request(logon.request.idempotency_key,
                                        mp::service::record_reply(logon.request.body_name, reply),
                                        m.now_ns);
        }
      }
      base = store_.state_version();
      store_.set_state_version(base + m.changes.size());
      transaction.commit();
    }
  } catch (const std::exception& e) {
    // Only the dispatch loop and this, the end of a start, catch: a reactor callback has no
    // caller to throw to.
    spdlog::error("session {}: cannot store it: {}", record.id, e.what());
    rolled_back(m);
    for (auto& logon : start.joined) {
      logon.responder.fail(Error::Kind::FAILED,
                           std::string("cannot store the session: ") + e.what());
    }
    return;
  }
  if (!refused.empty()) {
    spdlog::warn("session {} of {}: its desktop came up, but {}", record.id, record.user, refused);
    rolled_back(m);
    refuse_waiting(start.joined, refused);
    return;
  }
  committed(m, base);
  spdlog::info("session {} for {} on station {} (display {})", record.id, record.user,
               record.station_key, record.display);
  for (std::size_t i = 0; i < start.joined.size(); ++i) {
    answer(start.joined[i].responder, replies[i]->getRoot<Envelope>().asReader());
  }
}

std::string SessionService::why_not_storable(const SessionRecord& record) {
  if (!store_.user(record.user)) return "user '" + record.user + "' was removed";
  auto station = store_.station(record.station_key);
  if (!station || station->state != StationState::ATTACHED) {
    return "station '" + record.station_key + "' went away";
  }
  if (station->session_id != 0) {
    if (auto other = store_.session(station->session_id);
        other && other->state != SessionState::ENDED) {
      return "station '" + record.station_key + "' holds another session";
    }
  }
  if (!store_.open_sessions_of_user(record.user).empty()) {
    return "user '" + record.user + "' has another session";
  }
  return "";
}

void SessionService::abandon_desktop(std::uint64_t id, const std::string& why) {
  auto it = starting_.find(id);
  if (it == starting_.end()) return;
  DesktopStart start = std::move(it->second);
  starting_.erase(it);
  spdlog::info("session {} for {} on station {}: desktop start abandoned: {}", id,
               start.record.user, start.record.station_key, why);
  desktops_.cancel_start(id);
  refuse_waiting(start.joined, why);
  run_queued(std::move(start.queued));
}

void SessionService::refuse_waiting(std::vector<WaitingLogon>& logons, const std::string& why) {
  for (auto& logon : logons) {
    capnp::MallocMessageBuilder message;
    auto reply = message.initRoot<Envelope>();
    refuse_logon(logon.request, why, reply);
    answer(logon.responder, reply.asReader());
  }
}

void SessionService::run_queued(std::vector<WaitingLogon> queued) {
  for (auto& logon : queued) {
    const LogonRequest& request = logon.request;
    capnp::MallocMessageBuilder message;
    auto reply = message.initRoot<Envelope>();
    try {
      run_mutation(request.idempotency_key, request.body_name, reply,
                   [&](Mutation& m, Envelope::Builder r) {
                     open_for(m, request, r, [&logon] { return std::move(logon.responder); });
                   });
    } catch (const std::exception& e) {
      spdlog::error("{} of {} on station {} failed: {}", request.body_name, request.user,
                    request.station_key, e.what());
      logon.responder.fail(Error::Kind::FAILED, e.what());  // unless it waits again
      continue;
    }
    // Unless it waits again, for another desktop.
    if (logon.responder.pending()) answer(logon.responder, reply.asReader());
  }
}

}  // namespace mp::session
