#include "session_service.h"

#include <capnp/dynamic.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <stdexcept>

#include "mp/service/idempotency.h"
#include "snapshot_pages.h"
#include "validation.h"
#include "wire_records.h"

namespace mp::session {

namespace {

using mp::bus::Incoming;
using mp::bus::set_error;
using mp::schema::Envelope;
using mp::schema::Error;
using mp::schema::Role;
using mp::schema::SessionState;
using mp::schema::StationState;
using mp::service::answer_retry;
using mp::service::record_reply;
using mp::service::retry_text;

constexpr std::size_t kMaxIdempotencyKeyBytes = 256;
constexpr std::size_t kMaxClientNameBytes = 256;
constexpr std::size_t kMaxAddressBytes = 256;
constexpr std::size_t kMaxReasonBytes = 1024;
constexpr std::size_t kMaxSyncStations = 4096;
constexpr std::size_t kMaxMessageBytes = 4096;
constexpr std::size_t kMaxSenderBytes = 128;
// Desktop sizes a transport may ask for; 0 means "no preference".
constexpr std::uint16_t kDefaultWidth = 1920, kDefaultHeight = 1080;
constexpr std::uint16_t kMinWidth = 640, kMaxWidth = 4096;
constexpr std::uint16_t kMinHeight = 480, kMaxHeight = 2160;
// The same answer for an unknown user and a wrong password.
constexpr const char* kLogonRefused = "unknown user or wrong password";
constexpr const char* kLogonThrottled = "too many failed logons";

// Wire text, whole: kj's own conversion to std::string stops at the first NUL, which would let
// "ok\0<anything>" pass validation as "ok".
std::string_view view(kj::StringPtr text) { return {text.begin(), text.size()}; }
std::string text(kj::StringPtr wire) { return std::string(view(wire)); }

std::uint16_t clamp_size(std::uint16_t requested, std::uint16_t fallback, std::uint16_t low,
                         std::uint16_t high) {
  if (requested == 0) return fallback;
  return std::clamp(requested, low, high);
}

std::string check_station_info(mp::schema::StationInfo::Reader info) {
  if (auto e = check_station_key(view(info.getKey())); !e.empty()) return e;
  if (auto e = check_transport_name(view(info.getTransport())); !e.empty()) return e;
  if (auto e = check_text("clientName", view(info.getClientName()), kMaxClientNameBytes);
      !e.empty()) {
    return e;
  }
  return check_text("address", view(info.getAddress()), kMaxAddressBytes);
}

bool valid_role(Role role) {
  return role == Role::STANDARD || role == Role::ADMIN || role == Role::DASHBOARD;
}

}  // namespace

SessionService::SessionService(SessionStore& store, const PasswordHasher& hasher,
                               Desktops& desktops, Publish publish, AnswerLater answer_later,
                               SessionServiceOptions options)
    : store_(store),
      hasher_(hasher),
      desktops_(desktops),
      publish_(std::move(publish)),
      answer_later_(std::move(answer_later)),
      options_(std::move(options)),
      throttle_(options_.throttle),
      // Message ids stay unique across restarts without being stored.
      next_message_id_(static_cast<std::uint64_t>(now_ns())) {
  desktops_.set_events(Desktops::Events{
      .ended = [this](std::uint64_t id, const std::string& reason) { desktop_ended(id, reason); },
      .agent_up = [this](std::uint64_t id, bool up) { agent_up(id, up); },
      .agent_started = [this](std::uint64_t id, pid_t pid) { agent_started(id, pid); },
      .reply = [this](std::uint64_t id, std::uint64_t message_id,
                      const std::string& text) { agent_replied(id, message_id, text); },
      .notice_acknowledged = [this](std::uint64_t id) { notice_acknowledged(id); },
      .thumbnail = [this](std::uint64_t id,
                          mp::schema::AgentThumbnail::Reader image) { agent_thumbnail(id, image); },
  });
  if (store_.existed_before()) {
    // Restart path: the store is the state; transports resync their stations by themselves.
    spdlog::info("restart: {} at state version {}: {} stations, {} users, {} open sessions",
                 store_.file().string(), store_.state_version(), store_.stations().size(),
                 store_.users().size(), store_.open_sessions().size());
  } else {
    spdlog::info("fresh start: new state in {}", store_.file().string());
  }
  prune(now_ns());
}

SessionService::~SessionService() {
  // Nothing stored these sessions yet: their desktops end, and the transports may retry with the
  // next mp-session (the logons were not remembered under their keys).
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

void SessionService::recover_desktops() {
  std::vector<SessionRecord> gone;
  for (const auto& record : store_.open_sessions()) {
    if (!desktops_.adopt(record, privacy_notice_for(record.user))) gone.push_back(record);
  }
  if (gone.empty()) return;
  mutate_internally([&](Mutation& m) {
    for (const auto& record : gone) close_session(m, record);
  });
}

void SessionService::tick() {
  if (options_.disconnected_timeout.count() <= 0) return;
  auto now = std::chrono::steady_clock::now();
  std::map<std::uint64_t, std::chrono::steady_clock::time_point> still;
  std::vector<SessionRecord> expired;
  for (const auto& record : store_.open_sessions()) {
    if (record.state != SessionState::DISCONNECTED) continue;
    auto it = disconnected_since_.find(record.id);
    auto since = it == disconnected_since_.end() ? now : it->second;
    if (now - since >= options_.disconnected_timeout) {
      expired.push_back(record);
    } else {
      still[record.id] = since;
    }
  }
  disconnected_since_ = std::move(still);
  if (expired.empty()) return;
  for (const auto& record : expired) {
    spdlog::info("session {} of {} disconnected for {} s: logged off", record.id, record.user,
                 options_.disconnected_timeout.count());
  }
  mutate_internally([&](Mutation& m) {
    for (const auto& record : expired) close_session(m, record);
  });
}

std::size_t SessionService::end_all_sessions(const std::string& reason) {
  auto open = store_.open_sessions();
  if (open.empty()) return 0;
  mutate_internally([&](Mutation& m) {
    for (const auto& record : open) close_session(m, record);
  });
  spdlog::info("ended {} sessions: {}", open.size(), reason);
  return open.size();
}

std::int64_t SessionService::now_ns() const {
  if (options_.clock) return options_.clock();
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void SessionService::prune(std::int64_t now) {
  auto ttl_ns = [](std::chrono::hours h) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(h).count();
  };
  SessionStore::Transaction transaction(store_);
  store_.prune_applied_requests(now - ttl_ns(options_.applied_request_ttl),
                                options_.max_applied_requests);
  store_.delete_sessions_ended_before(now - ttl_ns(options_.ended_session_ttl));
  transaction.commit();
  mutations_since_prune_ = 0;
}

// Dispatch ---------------------------------------------------------------------------------

bool SessionService::handle(const Incoming& request, Envelope::Builder reply) {
  auto envelope = request.envelope();
  switch (envelope.which()) {
    case Envelope::STATION_ATTACH:
      return mutate(request, reply, [&](Mutation& m, Envelope::Builder r) {
        attach(m, envelope.getStationAttach(), r);
      });
    case Envelope::STATION_DETACH:
      return mutate(request, reply, [&](Mutation& m, Envelope::Builder r) {
        detach(m, envelope.getStationDetach(), r);
      });
    case Envelope::TRANSPORT_SYNC:
      return mutate(request, reply, [&](Mutation& m, Envelope::Builder r) {
        sync(m, envelope.getTransportSync(), r);
      });
    case Envelope::CREDENTIALS:
      return mutate(request, reply, [&](Mutation& m, Envelope::Builder r) {
        logon(m, envelope.getCredentials(), view(request.header().getSource()), r);
      });
    case Envelope::USER_ADD:
      return mutate(request, reply, [&](Mutation& m, Envelope::Builder r) {
        add_user(m, envelope.getUserAdd(), r);
      });
    case Envelope::USER_REMOVE:
      return mutate(request, reply, [&](Mutation& m, Envelope::Builder r) {
        remove_user(m, envelope.getUserRemove(), r);
      });
    case Envelope::USER_MODIFY:
      return mutate(request, reply, [&](Mutation& m, Envelope::Builder r) {
        modify_user(m, envelope.getUserModify(), r);
      });
    case Envelope::STATION_RENAME:
      return mutate(request, reply, [&](Mutation& m, Envelope::Builder r) {
        rename(m, envelope.getStationRename(), r);
      });
    case Envelope::SESSION_START:
      return mutate(request, reply, [&](Mutation& m, Envelope::Builder r) {
        start_session(m, envelope.getSessionStart(), r);
      });
    case Envelope::SESSION_END:
      return mutate(request, reply, [&](Mutation& m, Envelope::Builder r) {
        end_session(m, envelope.getSessionEnd(), r);
      });
    case Envelope::STATION_ADMISSION:
      return mutate(request, reply, [&](Mutation& m, Envelope::Builder r) {
        admit_stations(m, envelope.getStationAdmission(), r);
      });
    case Envelope::AUTHENTICATE:
      authenticate(envelope.getAuthenticate(), view(request.header().getSource()), reply);
      return true;
    case Envelope::USER_LIST_REQUEST:
      list_users(envelope.getUserListRequest(), reply);
      return true;
    case Envelope::STATION_LIST_REQUEST:
      list_stations(envelope.getStationListRequest(), reply);
      return true;
    case Envelope::SESSION_LIST_REQUEST:
      list_sessions(envelope.getSessionListRequest(), reply);
      return true;
    case Envelope::SNAPSHOT_REQUEST:
      snapshot(envelope.getSnapshotRequest(), reply);
      return true;
    case Envelope::SEND_MESSAGE:
      send_message(envelope.getSendMessage(), text(request.header().getOperator()), reply);
      return true;
    case Envelope::THUMBNAIL_WATCH:
      watch_thumbnails(envelope.getThumbnailWatch(), reply);
      return true;
    case Envelope::REMOTE_INPUT:
      remote_input(envelope.getRemoteInput(), reply);
      return true;
    default:
      return false;
  }
}

bool SessionService::mutate(const Incoming& request, Envelope::Builder reply, const Apply& apply) {
  std::string key = text(request.header().getIdempotencyKey());
  if (auto e = check_text("idempotencyKey", key, kMaxIdempotencyKeyBytes); !e.empty()) {
    set_error(reply, Error::Kind::INVALID, e);
    return true;
  }
  run_mutation(key, mp::bus::body_name(request.envelope()), reply, apply);
  return true;
}

void SessionService::run_mutation(const std::string& key, const std::string& body,
                                  Envelope::Builder reply, const Apply& apply) {
  Mutation m;
  m.now_ns = now_ns();
  m.idempotency_key = key;
  m.body = body;
  std::uint64_t base = 0;
  try {
    SessionStore::Transaction transaction(store_);
    if (!key.empty() && answer_retry(store_.applied_request(key), key, body, reply)) {
      return;  // nothing changes: the transaction rolls back
    }
    apply(m, reply);
    if (m.answered_later) {
      // The reply and the key come with the desktop; what changed on the way (the station the
      // logon attached) is versioned and published now.
      base = store_.state_version();
      if (!m.changes.empty()) store_.set_state_version(base + m.changes.size());
      transaction.commit();
    } else if (reply.isError()) {  // refused: nothing was applied, nothing to remember
      rolled_back(m);
      return;
    } else {
      base = store_.state_version();
      if (!m.changes.empty()) store_.set_state_version(base + m.changes.size());
      if (!key.empty()) store_.record_applied_request(key, record_reply(body, reply), m.now_ns);
      transaction.commit();
    }
  } catch (...) {
    rolled_back(m);
    throw;
  }
  committed(m, base);
}

void SessionService::set_showing(const std::vector<std::string>& stations,
                                 const std::string& source) {
  mutate_internally([&](Mutation& m) {
    for (const auto& key : stations) {
      auto station = store_.station(key);
      if (!station || station->showing == source) continue;
      station->showing = source;
      store_.put_station(*station);
      m.changes.emplace_back(*station);
    }
  });
}

void SessionService::mutate_internally(const std::function<void(Mutation&)>& apply) {
  Mutation m;
  m.now_ns = now_ns();
  std::uint64_t base = 0;
  try {
    SessionStore::Transaction transaction(store_);
    apply(m);
    base = store_.state_version();
    if (!m.changes.empty()) store_.set_state_version(base + m.changes.size());
    transaction.commit();
  } catch (...) {
    rolled_back(m);
    throw;
  }
  committed(m, base);
}

void SessionService::committed(Mutation& m, std::uint64_t base) {
  // Published only once durable: an update a subscriber saw is never lost by a crash. A crash
  // between commit and publish leaves a version gap, which makes consumers resync.
  for (std::size_t i = 0; i < m.changes.size(); ++i) publish(m.changes[i], base + i + 1);
  // Only now do desktops end or move: a refused or failed request leaves them as they were.
  for (const auto& change : m.changes) {
    if (auto* record = std::get_if<SessionRecord>(&change)) desktops_.changed(*record);
  }
  for (const auto& change : m.changes) {
    if (auto* station = std::get_if<Station>(&change); station && options_.station_changed) {
      options_.station_changed(*station);
    } else if (auto* record = std::get_if<SessionRecord>(&change);
               record && options_.session_changed) {
      options_.session_changed(*record);
    }
  }
  if (++mutations_since_prune_ >= options_.prune_every) prune(m.now_ns);
  for (const auto& [id, why] : m.starts_to_cancel) abandon_desktop(id, why);
  for (std::uint64_t id : m.starts_to_launch) launch_desktop(id);
}

void SessionService::rolled_back(Mutation& m) {
  for (SessionRecord record : m.started) {
    record.state = SessionState::ENDED;
    desktops_.changed(record);
  }
  m.started.clear();
  // Starts this mutation would have launched: their logons are answered by the dispatch loop's
  // error (their Responders are dropped with them).
  for (std::uint64_t id : m.starts_to_launch) starting_.erase(id);
  m.starts_to_launch.clear();
  m.starts_to_cancel.clear();
}

void SessionService::publish(const Change& change, std::uint64_t version) {
  if (auto* station = std::get_if<Station>(&change)) {
    publish_(
        kStationTopic,
        [&](Envelope::Builder e) { fill(e.initStationUpdate().initStation(), *station); }, version);
  } else if (auto* user = std::get_if<UserChange>(&change)) {
    publish_(
        kUserTopic,
        [&](Envelope::Builder e) {
          auto update = e.initUserUpdate();
          fill(update.initUser(), user->user);
          update.setRemoved(user->removed);
        },
        version);
  } else {
    const auto& record = std::get<SessionRecord>(change);
    publish_(
        kSessionTopic,
        [&](Envelope::Builder e) { fill(e.initSessionUpdate().initSession(), record); }, version);
  }
}

// Stations ---------------------------------------------------------------------------------

Station SessionService::attach_station(Mutation& m, mp::schema::StationInfo::Reader info) {
  std::string key = text(info.getKey());
  auto existing = store_.station(key);
  Station station = existing ? *existing : Station{.key = key, .name = key};
  station.transport = text(info.getTransport());
  station.client_name = text(info.getClientName());
  station.address = text(info.getAddress());
  auto caps = info.getCapabilities();
  station.capabilities = Capabilities{
      .video = caps.getVideo(),
      .keyboard = caps.getKeyboard(),
      .mouse = caps.getMouse(),
      .audio = caps.getAudio(),
      .usb_storage = caps.getUsbStorage(),
      .width = clamp_size(caps.getWidth(), kDefaultWidth, kMinWidth, kMaxWidth),
      .height = clamp_size(caps.getHeight(), kDefaultHeight, kMinHeight, kMaxHeight),
  };
  if (station.state != StationState::ATTACHED) {
    station.state = StationState::ATTACHED;
    station.attached_at_ns = m.now_ns;
  }
  if (!existing || station != *existing) {
    store_.put_station(station);
    m.changes.emplace_back(station);
    spdlog::info("station {} attached via {}", station.key, station.transport);
  }
  return station;
}

void SessionService::detach_station(Mutation& m, Station station) {
  if (station.state == StationState::DETACHED) return;
  // A desktop starting there is not kept: nobody is there to see it.
  if (std::uint64_t id = start_on_station(station.key); id != 0) {
    m.starts_to_cancel.emplace_back(id, "station '" + station.key + "' went away");
  }
  station.state = StationState::DETACHED;
  store_.put_station(station);
  m.changes.emplace_back(station);
  // The session outlives the transport: kept, disconnected, until log off.
  if (station.session_id != 0) {
    if (auto record = store_.session(station.session_id);
        record && record->state == SessionState::ACTIVE) {
      record->state = SessionState::DISCONNECTED;
      store_.update_session(*record);
      m.changes.emplace_back(*record);
    }
  }
}

void SessionService::mark_logged_on(Mutation& m, Station& station) {
  if (station.logged_on) return;
  station.logged_on = true;
  store_.put_station(station);
  m.changes.emplace_back(station);
}

void SessionService::attach(Mutation& m, mp::schema::StationAttach::Reader body,
                            Envelope::Builder reply) {
  auto info = body.getStation();
  if (auto e = check_station_info(info); !e.empty()) {
    set_error(reply, Error::Kind::INVALID, e);
    return;
  }
  Station station = attach_station(m, info);
  auto assignment = reply.initDisplayAssignment();
  assignment.setStationKey(station.key);
  assignment.setWidth(station.capabilities.width);
  assignment.setHeight(station.capabilities.height);
  if (station.session_id == 0) return;
  // Only an active session is shown; a disconnected one waits for its user's logon.
  if (auto record = store_.session(station.session_id);
      record && record->state == SessionState::ACTIVE) {
    assignment.setDisplay(record->display);
    assignment.setXauthority(record->xauthority);
    assignment.setSessionId(record->id);
  }
}

void SessionService::detach(Mutation& m, mp::schema::StationDetach::Reader body,
                            Envelope::Builder reply) {
  std::string key = text(body.getKey());
  if (auto e = check_station_key(key); !e.empty()) {
    set_error(reply, Error::Kind::INVALID, e);
    return;
  }
  if (auto e = check_text("reason", view(body.getReason()), kMaxReasonBytes); !e.empty()) {
    set_error(reply, Error::Kind::INVALID, e);
    return;
  }
  auto station = store_.station(key);
  if (!station) {
    // A transport lets go of a station whose logon failed: nothing was stored for it.
    reply.initAck().setDetail("no station '" + key + "'");
    return;
  }
  if (station->state != StationState::DETACHED) {
    spdlog::info("station {} detached: {}", key, view(body.getReason()));
  }
  detach_station(m, *station);
  reply.initAck();
}

void SessionService::sync(Mutation& m, mp::schema::TransportSync::Reader body,
                          Envelope::Builder reply) {
  std::string transport = text(body.getTransport());
  if (auto e = check_transport_name(transport); !e.empty()) {
    set_error(reply, Error::Kind::INVALID, e);
    return;
  }
  auto listed = body.getStations();
  if (listed.size() > kMaxSyncStations) {
    set_error(reply, Error::Kind::INVALID,
              "more than " + std::to_string(kMaxSyncStations) + " stations in one sync");
    return;
  }
  // Check everything before changing anything.
  std::set<std::string> keys;
  for (auto info : listed) {
    std::string e = check_station_info(info);
    if (e.empty() && view(info.getTransport()) != transport) {
      e = "station '" + text(info.getKey()) + "' names transport '" + text(info.getTransport()) +
          "' in a sync from '" + transport + "'";
    }
    if (e.empty() && !keys.insert(text(info.getKey())).second) {
      e = "station '" + text(info.getKey()) + "' is listed twice";
    }
    if (!e.empty()) {
      set_error(reply, Error::Kind::INVALID, e);
      return;
    }
  }
  for (auto info : listed) attach_station(m, info);
  for (Station& station : store_.stations_of_transport(transport)) {
    if (!keys.contains(station.key) && station.state == StationState::ATTACHED) {
      spdlog::info("station {} detached: missing from {}'s sync", station.key, transport);
      detach_station(m, station);
    }
  }
  reply.initAck().setDetail(std::to_string(listed.size()) + " stations");
}

void SessionService::admit_stations(Mutation& m, mp::schema::StationAdmission::Reader body,
                                    Envelope::Builder reply) {
  auto keys = body.getAdmit();
  if (keys.size() > kMaxSyncStations) {
    set_error(reply, Error::Kind::INVALID,
              "more than " + std::to_string(kMaxSyncStations) + " stations in one request");
    return;
  }
  for (auto key : keys) {
    if (auto e = check_station_key(view(key)); !e.empty()) {
      set_error(reply, Error::Kind::INVALID, e);
      return;
    }
  }
  if (body.getSetAllowNew() && body.getAllowNew() != store_.allow_new_stations()) {
    store_.set_allow_new_stations(body.getAllowNew());
    spdlog::info("new stations {} log on", body.getAllowNew() ? "may" : "may not");
  }
  auto state = reply.initStationAdmissionState();
  state.setAllowNew(store_.allow_new_stations());
  auto admitted = state.initAdmitted(keys.size());
  for (unsigned i = 0; i < keys.size(); ++i) {
    std::string key = text(keys[i]);
    admitted.set(i, key);
    auto existing = store_.station(key);
    // A station admitted before it ever connected waits, detached, for its transport.
    Station station =
        existing ? *existing
                 : Station{.key = key,
                           .name = key,
                           .state = StationState::DETACHED,
                           .capabilities = {.width = kDefaultWidth, .height = kDefaultHeight}};
    if (existing && existing->admitted) continue;
    station.admitted = true;
    store_.put_station(station);
    m.changes.emplace_back(station);
    spdlog::info("station {} admitted", key);
  }
}

void SessionService::rename(Mutation& m, mp::schema::StationRename::Reader body,
                            Envelope::Builder reply) {
  std::string key = text(body.getKey());
  std::string name = text(body.getName());
  std::string e = check_station_key(key);
  if (e.empty()) e = check_station_name(name);
  if (!e.empty()) {
    set_error(reply, Error::Kind::INVALID, e);
    return;
  }
  auto station = store_.station(key);
  if (!station) {
    set_error(reply, Error::Kind::INVALID, "no station '" + key + "'");
    return;
  }
  if (station->name != name) {
    station->name = name;
    store_.put_station(*station);
    m.changes.emplace_back(*station);
  }
  reply.initAck();
}

// Sessions ---------------------------------------------------------------------------------

std::string SessionService::privacy_notice_for(const std::string& user) {
  if (options_.privacy_notice.empty() || store_.notice_acknowledged(user)) return "";
  return options_.privacy_notice;
}

SessionService::Opened SessionService::open_session(Mutation& m, Station station,
                                                    const std::string& user) {
  // A desktop starting on this station or for this user decides what this logon gets.
  std::uint64_t on_station = start_on_station(station.key), of_user = start_of_user(user);
  if (on_station != 0 || of_user != 0) {
    return WaitForDesktop{.start = on_station != 0 ? on_station : of_user,
                          .joins = on_station == of_user};
  }
  if (station.session_id != 0) {
    auto record = store_.session(station.session_id);
    if (record && record->state != SessionState::ENDED) {
      if (record->user == user) {
        if (record->state == SessionState::DISCONNECTED) {
          record->state = SessionState::ACTIVE;
          store_.update_session(*record);
          m.changes.emplace_back(*record);
        }
        return *record;
      }
      if (record->state == SessionState::ACTIVE) {
        return "station '" + station.key + "' holds another user's session; log it off first";
      }
      // Another user's disconnected session: it stays, waiting for its user at any station.
    }
  }
  // One session per user: a disconnected one follows its user to this station; an active one
  // elsewhere must be logged off first.
  for (auto record : store_.open_sessions_of_user(user)) {
    if (record.state == SessionState::ACTIVE) {
      return "user '" + user + "' is logged on at station '" + record.station_key +
             "'; log off there first";
    }
    if (auto old = store_.station(record.station_key); old && old->session_id == record.id) {
      old->session_id = 0;
      store_.put_station(*old);
      m.changes.emplace_back(*old);
    }
    spdlog::info("session {} of {} moves from station {} to {}", record.id, user,
                 record.station_key, station.key);
    // Where it came from: mp-policy lets restrictions in force there follow the session.
    if (record.station_key != station.key) {
      record.moved_from = record.station_key;
      record.moved_at_ns = m.now_ns;
    }
    record.station_key = station.key;
    record.state = SessionState::ACTIVE;
    store_.update_session(record);
    m.changes.emplace_back(record);
    station.session_id = record.id;
    store_.put_station(station);
    m.changes.emplace_back(station);
    return record;
  }
  return WaitForDesktop{};  // a new session: once its desktop is up
}

void SessionService::close_session(Mutation& m, SessionRecord record) {
  record.state = SessionState::ENDED;
  record.ended_at_ns = m.now_ns;
  store_.update_session(record);
  m.changes.emplace_back(record);
  if (auto station = store_.station(record.station_key);
      station && station->session_id == record.id) {
    station->session_id = 0;
    store_.put_station(*station);
    m.changes.emplace_back(*station);
  }
  spdlog::info("session {} of {} on station {} ended", record.id, record.user, record.station_key);
}

void SessionService::start_session(Mutation& m, mp::schema::SessionStart::Reader body,
                                   Envelope::Builder reply) {
  std::string key = text(body.getStationKey());
  std::string user = text(body.getUser());
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
  open_for(m, request, reply, answer_later_);
}

void SessionService::end_session(Mutation& m, mp::schema::SessionEnd::Reader body,
                                 Envelope::Builder reply) {
  std::uint64_t id = body.getSessionId();
  if (id == 0) {
    // By the station that shows it.
    std::string key = text(body.getStationKey());
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
    id = station->session_id != 0 ? station->session_id : start_on_station(key);
    if (id == 0) {
      set_error(reply, Error::Kind::INVALID, "station '" + key + "' has no session");
      return;
    }
  }
  if (starting_.contains(id)) {
    // Logged off before it was up: the desktop being started ends and its logons are refused.
    m.starts_to_cancel.emplace_back(id, "logged off while its desktop started");
    reply.initAck().setDetail("session " + std::to_string(id) + " of " +
                              starting_.at(id).record.user + " logged off while starting");
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
  close_session(m, *record);
  reply.initAck().setDetail("session " + std::to_string(id) + " of " + record->user +
                            " logged off");
}

void SessionService::send_message(mp::schema::SendMessage::Reader body,
                                  const std::string& operator_name, Envelope::Builder reply) {
  std::string message = text(body.getText());
  std::string from = text(body.getFrom());
  std::string e = message.empty() ? "text is empty" : check_text("text", message, kMaxMessageBytes);
  if (e.empty()) e = check_text("from", from, kMaxSenderBytes);
  if (e.empty() && body.getStations().size() > kMaxSyncStations) e = "too many stations";
  std::vector<std::string> keys;
  for (auto key : body.getStations()) {
    if (!e.empty()) break;
    keys.push_back(text(key));
    e = check_station_key(keys.back());
  }
  if (!e.empty()) {
    set_error(reply, Error::Kind::INVALID, e);
    return;
  }
  if (from.empty()) from = operator_name;
  if (auto oe = check_text("operator", from, kMaxSenderBytes); !oe.empty()) from = "teacher";
  // Empty list: every active session.
  if (keys.empty()) {
    for (const auto& record : store_.open_sessions()) {
      if (record.state == SessionState::ACTIVE) keys.push_back(record.station_key);
    }
  }
  auto delivered = reply.initSendMessageResult().initDelivered(static_cast<unsigned>(keys.size()));
  for (unsigned i = 0; i < keys.size(); ++i) {
    auto out = delivered[i];
    out.setStationKey(keys[i]);
    auto station = store_.station(keys[i]);
    std::optional<SessionRecord> record;
    if (station && station->session_id != 0) record = store_.session(station->session_id);
    if (!station) {
      out.setReason("no such station");
    } else if (!record || record->state != SessionState::ACTIVE) {
      out.setReason("no active session");
    } else {
      std::uint64_t id = ++next_message_id_;
      std::string reason;
      if (desktops_.show_message(record->id, id, from, message, &reason)) {
        out.setMessageId(id);
      } else {
        out.setReason(reason);
      }
    }
  }
}

// Desktop events -----------------------------------------------------------------------------

void SessionService::desktop_ended(std::uint64_t id, const std::string& reason) {
  auto record = store_.session(id);
  if (!record || record->state == SessionState::ENDED) return;
  spdlog::info("session {} of {} ends: {}", id, record->user, reason);
  mutate_internally([&](Mutation& m) { close_session(m, *record); });
}

void SessionService::agent_up(std::uint64_t id, bool up) {
  auto record = store_.session(id);
  if (!record || record->state == SessionState::ENDED || record->agent_up == up) return;
  mutate_internally([&](Mutation& m) {
    record->agent_up = up;
    store_.update_session(*record);
    m.changes.emplace_back(*record);
  });
}

void SessionService::agent_started(std::uint64_t id, pid_t pid) {
  SessionStore::Transaction transaction(store_);
  store_.set_agent_pid(id, pid);
  transaction.commit();
}

void SessionService::agent_replied(std::uint64_t id, std::uint64_t message_id,
                                   const std::string& reply_text) {
  auto record = store_.session(id);
  if (!record || record->state == SessionState::ENDED) return;
  std::int64_t at = now_ns();
  // An event, not state: no version.
  publish_(
      kReplyTopic,
      [&](Envelope::Builder e) {
        auto reply = e.initMessageReply();
        reply.setStationKey(record->station_key);
        reply.setUser(record->user);
        reply.setMessageId(message_id);
        reply.setText(reply_text);
        reply.setAtNs(at);
      },
      0);
}

void SessionService::notice_acknowledged(std::uint64_t id) {
  auto record = store_.session(id);
  if (!record || !store_.user(record->user)) return;
  {
    SessionStore::Transaction transaction(store_);
    store_.set_notice_acknowledged(record->user);
    transaction.commit();
  }
  spdlog::info("{} acknowledged the privacy notice", record->user);
  for (const auto& open : store_.open_sessions_of_user(record->user)) {
    desktops_.set_privacy_notice(open.id, "");
  }
}

// Users and logon --------------------------------------------------------------------------

SessionService::LogonCheck SessionService::check_password(std::string_view name,
                                                          std::string_view password,
                                                          std::string_view client_address,
                                                          std::string_view channel) {
  // Malformed names count against their source only; unknown names count like accounts, so
  // the throttle tells nothing about which names exist.
  bool well_formed = check_user_name(name).empty();
  auto admission =
      throttle_.begin(well_formed ? name : std::string_view(), client_address, channel);
  if (!admission.allowed()) {
    spdlog::warn("logon for {} from {} via {} refused: too many failures ({})", user_for_log(name),
                 client_address, channel, retry_text(admission.retry_after));
    return {std::nullopt, std::string(kLogonThrottled) + "; " + retry_text(admission.retry_after)};
  }
  // Malformed names and unknown users cost one verification too: timing reveals nothing.
  std::optional<User> user;
  std::optional<std::string> hash;
  if (well_formed) {
    user = store_.user(name);
    hash = store_.password_hash(name);
  }
  bool ok = user && hash ? hasher_.verify(*hash, password) : hasher_.verify_decoy(password);
  if (!ok) {
    throttle_.finish(*admission.attempt, mp::service::LogonThrottle::Outcome::failed);
    spdlog::warn("logon failed for {} from {} via {}", user_for_log(name), client_address, channel);
    return {std::nullopt, kLogonRefused};
  }
  throttle_.finish(*admission.attempt, mp::service::LogonThrottle::Outcome::succeeded);
  return {user, ""};
}

std::string SessionService::user_for_log(std::string_view name) const {
  bool is_account = check_user_name(name).empty() && store_.user(name).has_value();
  return name_redactor_.for_log(name, is_account);
}

void SessionService::authenticate(mp::schema::Authenticate::Reader body, std::string_view channel,
                                  Envelope::Builder reply) {
  std::string address = text(body.getClientAddress());
  if (auto e = check_text("clientAddress", address, kMaxAddressBytes); !e.empty()) {
    set_error(reply, Error::Kind::INVALID, e);
    return;
  }
  auto check = check_password(view(body.getUser()), view(body.getPassword()), address, channel);
  auto result = reply.initLogonResult();
  result.setOk(check.user.has_value());
  if (check.user) {
    result.setRole(check.user->role);
  } else {
    result.setReason(check.reason);
  }
}

void SessionService::logon(Mutation& m, mp::schema::Credentials::Reader body,
                           std::string_view channel, Envelope::Builder reply) {
  std::string key = text(body.getStationKey());
  std::string address = text(body.getClientAddress());
  // Transports without a logon screen (RDP) name the station here: it is stored only once the
  // password is right, so a host that merely connects leaves nothing behind.
  bool attach_here = body.hasStation() && body.getStation().getKey().size() > 0;
  std::string e = check_station_key(key);
  if (e.empty()) e = check_text("clientAddress", address, kMaxAddressBytes);
  if (e.empty() && attach_here) {
    e = check_station_info(body.getStation());
    if (e.empty() && view(body.getStation().getKey()) != key) {
      e = "station '" + text(body.getStation().getKey()) + "' is not stationKey '" + key + "'";
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
  auto check = check_password(view(body.getUser()), view(body.getPassword()), address, channel);
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
    Station attached = attach_station(m, body.getStation());
    mark_logged_on(m, attached);
  } else {
    mark_logged_on(m, *station);
  }
  LogonRequest request{.body = Envelope::CREDENTIALS,
                       .body_name = m.body,
                       .idempotency_key = m.idempotency_key,
                       .station_key = key,
                       .user = check.user->name,
                       .role = check.user->role,
                       .client_address = address};
  open_for(m, request, reply, answer_later_);
}

void SessionService::add_user(Mutation& m, mp::schema::UserAdd::Reader body,
                              Envelope::Builder reply) {
  std::string name = text(body.getName());
  std::string e = check_user_name(name);
  if (e.empty() && !valid_role(body.getRole())) e = "role must be standard, admin or dashboard";
  if (e.empty()) e = check_new_password(view(body.getPassword()));
  if (e.empty() && store_.user(name)) e = "user '" + name + "' already exists";
  if (e.empty()) e = desktops_.add_user(name);  // the Linux account behind it
  if (!e.empty()) {
    set_error(reply, Error::Kind::INVALID, e);
    return;
  }
  User user{.name = name, .role = body.getRole(), .created_at_ns = m.now_ns};
  store_.add_user(user, hasher_.hash(view(body.getPassword())));
  m.changes.emplace_back(UserChange{user, false});
  spdlog::info("user {} added", name);
  reply.initAck();
}

void SessionService::remove_user(Mutation& m, mp::schema::UserRemove::Reader body,
                                 Envelope::Builder reply) {
  std::string name = text(body.getName());
  if (auto e = check_user_name(name); !e.empty()) {
    set_error(reply, Error::Kind::INVALID, e);
    return;
  }
  auto user = store_.user(name);
  if (!user) {
    set_error(reply, Error::Kind::INVALID, "no user '" + name + "'");
    return;
  }
  if (std::uint64_t starting = start_of_user(name); starting != 0) {
    m.starts_to_cancel.emplace_back(starting, "user '" + name + "' was removed");
  }
  for (const auto& record : store_.open_sessions_of_user(name)) close_session(m, record);
  store_.remove_user(name);
  m.changes.emplace_back(UserChange{*user, true});
  spdlog::info("user {} removed", name);
  // The Linux account is locked, not deleted: the user's files stay for an administrator.
  std::string locked = desktops_.remove_user(name);
  if (!locked.empty()) spdlog::error("user {}: {}", name, locked);
  reply.initAck().setDetail(locked.empty() ? "sessions ended, account locked" : locked);
}

void SessionService::modify_user(Mutation& m, mp::schema::UserModify::Reader body,
                                 Envelope::Builder reply) {
  std::string name = text(body.getName());
  bool set_role = body.getRole() != Role::UNKNOWN;
  bool set_password = body.getPassword().size() > 0;
  std::string e = check_user_name(name);
  if (e.empty() && !set_role && !set_password) e = "nothing to change: give a role or a password";
  if (e.empty() && set_role && !valid_role(body.getRole())) {
    e = "role must be standard, admin or dashboard";
  }
  if (e.empty() && set_password) e = check_new_password(view(body.getPassword()));
  auto user = e.empty() ? store_.user(name) : std::nullopt;
  if (e.empty() && !user) e = "no user '" + name + "'";
  if (!e.empty()) {
    set_error(reply, Error::Kind::INVALID, e);
    return;
  }
  std::string detail;
  if (set_role && body.getRole() != user->role) {
    store_.set_user_role(name, body.getRole());
    user->role = body.getRole();
    m.changes.emplace_back(UserChange{*user, false});
    detail = "role changed";
  }
  if (set_password) {
    // Only when, never what: logins made before it end (the dashboard's, for one).
    store_.set_password_hash(name, hasher_.hash(view(body.getPassword())), m.now_ns);
    user->password_changed_at_ns = m.now_ns;
    if (!m.changes.empty() && std::holds_alternative<UserChange>(m.changes.back())) {
      std::get<UserChange>(m.changes.back()).user = *user;
    } else {
      m.changes.emplace_back(UserChange{*user, false});
    }
    detail += detail.empty() ? "password reset" : ", password reset";
  }
  if (detail.empty()) detail = "unchanged";
  spdlog::info("user {}: {}", name, detail);
  reply.initAck().setDetail(detail);
}

// Reads ------------------------------------------------------------------------------------

// Paged (snapshot_pages.h): a page stays well under the bus's message limit.
void SessionService::list_users(mp::schema::UserListRequest::Reader body, Envelope::Builder reply) {
  write_user_page(store_, view(body.getCursor()), reply);
}

void SessionService::list_stations(mp::schema::StationListRequest::Reader body,
                                   Envelope::Builder reply) {
  write_station_page(store_, view(body.getCursor()), reply);
}

void SessionService::list_sessions(mp::schema::SessionListRequest::Reader body,
                                   Envelope::Builder reply) {
  write_session_page(store_, view(body.getCursor()), reply);
}

void SessionService::snapshot(mp::schema::SnapshotRequest::Reader body, Envelope::Builder reply) {
  if (view(body.getTopic()) != kSnapshotTopic) {
    set_error(reply, Error::Kind::INVALID,
              "mp-session serves the snapshot of topic 'session' only");
    return;
  }
  write_snapshot_page(store_, kSnapshotTopic, view(body.getCursor()), reply);
}

}  // namespace mp::session
