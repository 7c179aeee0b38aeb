#include "desktop_starts.h"

#include <capnp/message.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <set>
#include <stdexcept>

#include "mp/service/idempotency.h"
#include "session_rules.h"
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

DesktopStarts::DesktopStarts(SessionStore& store, StateJournal& journal, Desktops& desktops,
                             const PrivacyNotice& notice)
    : store_(store), journal_(journal), desktops_(desktops), notice_(notice) {}

DesktopStarts::~DesktopStarts() {
  auto starting = std::move(starting_);
  starting_.clear();
  for (auto& [id, start] : starting) {
    desktops_.cancel_start(id);
    for (auto* logons : {&start.joined, &start.queued}) {
      for (auto& logon : *logons) {
        logon.responder.fail(Error::Kind::UNAVAILABLE, "mp-session is stopping");
      }
    }
  }
}

void DesktopStarts::open_for(Mutation& m, const LogonRequest& request, Envelope::Builder reply,
                             const AnswerLater& answer_later) {
  if (!store_.user(request.user)) {
    refuse_logon(request, "no user '" + request.user + "'", reply);
    return;
  }
  auto station = store_.station(request.station_key);
  if (!station || station->state != StationState::ATTACHED) {
    refuse_logon(request, "station '" + request.station_key + "' is not attached", reply);
    return;
  }
  // A desktop starting on this station or for this user decides what this logon gets.
  std::uint64_t here = on_station(station->key), theirs = of_user(request.user);
  OpenedSession opened = NewSession{};
  if (here == 0 && theirs == 0) opened = open_session(store_, m, *station, request.user);
  if (auto* record = std::get_if<SessionRecord>(&opened)) {
    answer_logon(request, *record, reply);
    return;
  }
  if (auto* why = std::get_if<std::string>(&opened)) {
    refuse_logon(request, *why, reply);
    return;
  }
  if (!answer_later)
    throw std::logic_error("a logon must wait for a desktop, but cannot answer later");
  WaitingLogon waiting{request, answer_later()};
  m.answered_later = true;
  if (here == 0 && theirs == 0) {
    begin(m, *station, std::move(waiting));
    return;
  }
  std::uint64_t id = here != 0 ? here : theirs;
  Start& start = starting_.at(id);
  spdlog::info("{} of {} on station {} waits for the desktop of session {}", request.body_name,
               request.user, request.station_key, id);
  // Same user, same station: it joins; otherwise it runs once the start is over.
  (here == theirs ? start.joined : start.queued).push_back(std::move(waiting));
}

void DesktopStarts::answer_logon(const LogonRequest& request, const SessionRecord& record,
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

void DesktopStarts::refuse_logon(const LogonRequest& request, const std::string& why,
                                 Envelope::Builder reply) {
  // A refused logon is an answer (ok = false) to the transport; a refused sessionStart is
  // invalid for the operator who asked.
  if (request.body == Envelope::CREDENTIALS) {
    reply.initLogonResult().setReason(why);
  } else {
    set_error(reply, Error::Kind::INVALID, why);
  }
}

void DesktopStarts::begin(Mutation& m, const Station& station, WaitingLogon waiting) {
  SessionRecord record{.id = store_.reserve_session_id(),
                       .station_key = station.key,
                       .user = waiting.request.user,
                       .state = SessionState::ACTIVE,
                       .started_at_ns = m.now_ns,
                       .width = station.capabilities.width,
                       .height = station.capabilities.height};
  Start start{.record = record};
  start.joined.push_back(std::move(waiting));
  starting_.emplace(record.id, std::move(start));
  std::uint64_t id = record.id;
  m.after_commit.push_back([this, id] { launch(id); });
  // Not committed: its logon is answered by the dispatch loop's error (its Responder is dropped
  // with it).
  m.if_rolled_back.push_back([this, id] { starting_.erase(id); });
}

std::uint64_t DesktopStarts::on_station(std::string_view station_key) const {
  for (const auto& [id, start] : starting_) {
    if (start.record.station_key == station_key) return id;
  }
  return 0;
}

std::uint64_t DesktopStarts::of_user(std::string_view user) const {
  for (const auto& [id, start] : starting_) {
    if (start.record.user == user) return id;
  }
  return 0;
}

const SessionRecord* DesktopStarts::starting(std::uint64_t id) const {
  auto it = starting_.find(id);
  return it == starting_.end() ? nullptr : &it->second.record;
}

void DesktopStarts::abandon_after(Mutation& m, std::uint64_t id, std::string why) {
  m.after_commit.push_back([this, id, why = std::move(why)] { abandon(id, why); });
}

void DesktopStarts::launch(std::uint64_t id) {
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
    desktops_.start(record, taken, notice_.for_user(record.user),
                    [this, id](std::variant<SessionRecord, std::string> result) {
                      started(id, std::move(result));
                    });
  } catch (const std::exception& e) {
    // A start left waiting forever would hold every later logon of this user and station.
    desktops_.cancel_start(id);
    started(id, std::string(e.what()));
  }
}

void DesktopStarts::started(std::uint64_t id, std::variant<SessionRecord, std::string> result) {
  auto it = starting_.find(id);
  if (it == starting_.end()) return;  // abandoned meanwhile
  Start start = std::move(it->second);
  starting_.erase(it);
  if (auto* error = std::get_if<std::string>(&result)) {
    spdlog::error("session for {} on station {}: cannot start the desktop: {}", start.record.user,
                  start.record.station_key, *error);
    refuse_waiting(start.joined, "cannot start the desktop: " + *error);
  } else {
    commit(start, std::get<SessionRecord>(result));
  }
  run_queued(std::move(start.queued));
}

void DesktopStarts::commit(Start& start, const SessionRecord& record) {
  std::vector<std::unique_ptr<capnp::MallocMessageBuilder>> replies;
  std::string refused;
  bool stored = false;  // committed: a failure after that is not the start's
  auto end_desktop = [&] {
    SessionRecord ended = record;
    ended.state = SessionState::ENDED;
    desktops_.changed(ended);
  };
  try {
    // One writer, this thread: nothing changes between the check and the transaction.
    refused = why_not_storable(record);
    if (refused.empty()) {
      journal_.run_internal([&](Mutation& m) {
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
        stored = true;
        m.if_rolled_back.push_back([&stored] { stored = false; });  // the commit failed
      });
    }
  } catch (const std::exception& e) {
    if (stored) throw;
    // Only the dispatch loop and this, the end of a start, catch: a reactor callback has no
    // caller to throw to.
    spdlog::error("session {}: cannot store it: {}", record.id, e.what());
    end_desktop();
    for (auto& logon : start.joined) {
      logon.responder.fail(Error::Kind::FAILED,
                           std::string("cannot store the session: ") + e.what());
    }
    return;
  }
  if (!refused.empty()) {
    spdlog::warn("session {} of {}: its desktop came up, but {}", record.id, record.user, refused);
    end_desktop();
    refuse_waiting(start.joined, refused);
    return;
  }
  spdlog::info("session {} for {} on station {} (display {})", record.id, record.user,
               record.station_key, record.display);
  for (std::size_t i = 0; i < start.joined.size(); ++i) {
    answer(start.joined[i].responder, replies[i]->getRoot<Envelope>().asReader());
  }
}

std::string DesktopStarts::why_not_storable(const SessionRecord& record) {
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

void DesktopStarts::abandon(std::uint64_t id, const std::string& why) {
  auto it = starting_.find(id);
  if (it == starting_.end()) return;
  Start start = std::move(it->second);
  starting_.erase(it);
  spdlog::info("session {} for {} on station {}: desktop start abandoned: {}", id,
               start.record.user, start.record.station_key, why);
  desktops_.cancel_start(id);
  refuse_waiting(start.joined, why);
  run_queued(std::move(start.queued));
}

void DesktopStarts::refuse_waiting(std::vector<WaitingLogon>& logons, const std::string& why) {
  for (auto& logon : logons) {
    capnp::MallocMessageBuilder message;
    auto reply = message.initRoot<Envelope>();
    refuse_logon(logon.request, why, reply);
    answer(logon.responder, reply.asReader());
  }
}

void DesktopStarts::run_queued(std::vector<WaitingLogon> queued) {
  for (auto& logon : queued) {
    const LogonRequest& request = logon.request;
    capnp::MallocMessageBuilder message;
    auto reply = message.initRoot<Envelope>();
    try {
      journal_.run(request.idempotency_key, request.body_name, reply,
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
