#include "session_rules.h"

#include <spdlog/spdlog.h>

namespace mp::session {

using mp::schema::SessionState;

OpenedSession open_session(SessionStore& store, Mutation& m, Station station,
                           const std::string& user) {
  if (station.session_id != 0) {
    auto record = store.session(station.session_id);
    if (record && record->state != SessionState::ENDED) {
      if (record->user == user) {
        if (record->state == SessionState::DISCONNECTED) {
          record->state = SessionState::ACTIVE;
          store.update_session(*record);
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
  for (auto record : store.open_sessions_of_user(user)) {
    if (record.state == SessionState::ACTIVE) {
      return "user '" + user + "' is logged on at station '" + record.station_key +
             "'; log off there first";
    }
    if (auto old = store.station(record.station_key); old && old->session_id == record.id) {
      old->session_id = 0;
      store.put_station(*old);
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
    store.update_session(record);
    m.changes.emplace_back(record);
    station.session_id = record.id;
    store.put_station(station);
    m.changes.emplace_back(station);
    return record;
  }
  return NewSession{};  // once its desktop is up
}

void close_session(SessionStore& store, Mutation& m, SessionRecord record) {
  record.state = SessionState::ENDED;
  record.ended_at_ns = m.now_ns;
  store.update_session(record);
  m.changes.emplace_back(record);
  if (auto station = store.station(record.station_key);
      station && station->session_id == record.id) {
    station->session_id = 0;
    store.put_station(*station);
    m.changes.emplace_back(*station);
  }
  spdlog::info("session {} of {} on station {} ended", record.id, record.user, record.station_key);
}

}  // namespace mp::session
