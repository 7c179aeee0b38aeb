#include "station_board.h"
#include "capnp_text.h"

namespace mp::dashboard {

using mp::schema::SessionState;
using mp::schema::StationState;
using nlohmann::json;

namespace {

// Replacement characters instead of an exception for text that is not UTF-8.
std::string dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

const char* session_state_name(SessionState state) {
  switch (state) {
    case SessionState::ACTIVE:
      return "active";
    case SessionState::DISCONNECTED:
      return "disconnected";
    case SessionState::ENDED:
      return "ended";
    default:
      return "none";
  }
}

}  // namespace

std::string role_name(mp::schema::Role role) {
  switch (role) {
    case mp::schema::Role::STANDARD:
      return "standard";
    case mp::schema::Role::ADMIN:
      return "admin";
    case mp::schema::Role::DASHBOARD:
      return "dashboard";
    default:
      return "unknown";
  }
}

// mp-session -------------------------------------------------------------------------------

void StationBoard::session_snapshot(mp::schema::Snapshot::Reader snapshot) {
  stations_.clear();
  sessions_.clear();
  users_.clear();
  for (auto station : snapshot.getStations()) set_station(station);
  for (auto session : snapshot.getSessions()) set_session(session);
  for (auto user : snapshot.getUsers()) users_[text(user.getName())] = role_name(user.getRole());
  session_synced_ = true;
  resynced();
}

void StationBoard::station_update(mp::schema::StationUpdate::Reader update) {
  std::string key = text(update.getStation().getKey());
  if (update.getRemoved()) {
    if (stations_.erase(key) == 0) return;
    publish_({"station_removed", dump(json{{"key", key}})});
    return;
  }
  set_station(update.getStation());
  station_changed(key);
}

void StationBoard::session_update(mp::schema::SessionUpdate::Reader update) {
  auto session = update.getSession();
  std::string old_station;
  if (auto it = sessions_.find(session.getId()); it != sessions_.end()) {
    old_station = it->second.station_key;
  }
  set_session(session);
  std::string station = text(session.getStationKey());
  if (!old_station.empty() && old_station != station) station_changed(old_station);
  station_changed(station);
}

void StationBoard::user_update(mp::schema::UserUpdate::Reader update) {
  std::string name = text(update.getUser().getName());
  if (update.getRemoved()) {
    users_.erase(name);
  } else {
    users_[name] = role_name(update.getUser().getRole());
  }
}

void StationBoard::set_station(mp::schema::Station::Reader station) {
  stations_[text(station.getKey())] = StationView{.name = text(station.getName()),
                                                  .transport = text(station.getTransport()),
                                                  .address = text(station.getAddress()),
                                                  .client_name = text(station.getClientName()),
                                                  .state = station.getState(),
                                                  .session_id = station.getSessionId(),
                                                  .showing = text(station.getShowing())};
}

void StationBoard::set_session(mp::schema::SessionRecord::Reader session) {
  if (session.getState() == SessionState::ENDED) {
    sessions_.erase(session.getId());
    return;
  }
  sessions_[session.getId()] = SessionView{.station_key = text(session.getStationKey()),
                                           .user = text(session.getUser()),
                                           .state = session.getState(),
                                           .agent_up = session.getAgentUp()};
}

// mp-policy --------------------------------------------------------------------------------

StationBoard::PolicyView StationBoard::view_of(mp::schema::EffectivePolicy::Reader effective) {
  return PolicyView{.blocked = effective.getBlocked(),
                    .message = text(effective.getBlockMessage()),
                    .source = text(effective.getBlockSource()),
                    .web_mode = effective.getWebMode(),
                    .usb_locked = effective.getUsbStorageLocked()};
}

void StationBoard::policy_snapshot(mp::schema::PolicySnapshot::Reader snapshot) {
  policy_.clear();
  for (auto effective : snapshot.getEffective()) {
    policy_[text(effective.getStationKey())] = view_of(effective);
  }
  policy_synced_ = true;
  resynced();
}

void StationBoard::effective_update(mp::schema::EffectivePolicy::Reader effective) {
  std::string key = text(effective.getStationKey());
  PolicyView view = view_of(effective);
  auto& stored = policy_[key];
  bool same = stored == view;
  stored = std::move(view);
  if (same) return;
  if (stations_.contains(key)) station_changed(key);
  if (!key.empty()) return;
  // "" is what a station mp-policy has not published yet follows.
  for (const auto& entry : stations_) {
    if (!policy_.contains(entry.first)) station_changed(entry.first);
  }
}

// Views ------------------------------------------------------------------------------------

std::string web_mode_name(mp::schema::WebMode mode) {
  switch (mode) {
    case mp::schema::WebMode::ALLOW_ONLY:
      return "allow_only";
    case mp::schema::WebMode::BLOCK_ONLY:
      return "block_only";
    default:
      return "off";  // what an effective policy without a mode means: no limit
  }
}

json StationBoard::station_json(const std::string& key) const {
  auto it = stations_.find(key);
  if (it == stations_.end()) return nullptr;
  const StationView& station = it->second;
  const SessionView* session = nullptr;
  if (auto s = sessions_.find(station.session_id);
      station.session_id != 0 && s != sessions_.end()) {
    session = &s->second;
  }
  // A station mp-policy has not published yet follows the all-stations scope ("").
  const PolicyView* policy = nullptr;
  if (auto p = policy_.find(key); p != policy_.end()) {
    policy = &p->second;
  } else if (auto all = policy_.find(""); all != policy_.end()) {
    policy = &all->second;
  }
  bool attached = station.state == StationState::ATTACHED;
  bool blocked = policy && policy->blocked;
  bool in_use = session && session->state == SessionState::ACTIVE;
  const char* state = !attached ? "disconnected" : blocked ? "blocked" : in_use ? "in_use" : "free";
  return json{{"key", key},
              {"name", station.name.empty() ? key : station.name},
              {"transport", station.transport},
              {"showing", station.showing},
              {"address", station.address},
              {"client_name", station.client_name},
              {"state", state},
              {"attached", attached},
              {"blocked", blocked},
              {"block_message", policy ? policy->message : std::string()},
              {"block_source", policy ? policy->source : std::string()},
              {"user", session ? session->user : std::string()},
              {"session_id", session ? station.session_id : 0},
              {"session_state", session ? session_state_name(session->state) : "none"},
              {"agent_up", session && session->agent_up},
              {"web_mode", web_mode_name(policy ? policy->web_mode : mp::schema::WebMode::OFF)},
              {"usb_locked", policy && policy->usb_locked}};
}

json StationBoard::stations_json() const {
  json list = json::array();
  for (const auto& [key, station] : stations_) list.push_back(station_json(key));
  return json{{"stations", std::move(list)},
              {"synced", {{"session", session_synced_}, {"policy", policy_synced_}}}};
}

json StationBoard::users_json() const {
  json list = json::array();
  for (const auto& [name, role] : users_) list.push_back({{"name", name}, {"role", role}});
  return json{{"users", std::move(list)}};
}

std::uint64_t StationBoard::session_on(const std::string& key) const {
  auto it = stations_.find(key);
  if (it == stations_.end() || it->second.session_id == 0) return 0;
  return sessions_.contains(it->second.session_id) ? it->second.session_id : 0;
}

std::vector<std::string> StationBoard::stations_with_sessions() const {
  std::vector<std::string> keys;
  for (const auto& [key, station] : stations_) {
    if (station.session_id != 0 && sessions_.contains(station.session_id)) keys.push_back(key);
  }
  return keys;
}

void StationBoard::station_changed(const std::string& key) {
  json view = station_json(key);
  if (view.is_null()) return;
  publish_({"station", dump(view)});
}

void StationBoard::resynced() { publish_({"resync", "{}"}); }

}  // namespace mp::dashboard
