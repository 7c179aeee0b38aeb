// What the dashboard shows, kept on the bus thread: mp-session's stations, sessions and users
// and mp-policy's effective policy (both followed as Clone replicas), combined into one view per
// station. Every change that alters a station's view is handed to `changed` as a server event,
// so browsers update without polling.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "envelope.capnp.h"
#include "event_broadcaster.h"

namespace mp::dashboard {

class StationBoard {
 public:
  using Publish = std::function<void(const ServerEvent&)>;
  explicit StationBoard(Publish publish) : publish_(std::move(publish)) {}

  // From mp-session (snapshot topic "session", updates "session.*").
  void session_snapshot(mp::schema::Snapshot::Reader snapshot);
  void station_update(mp::schema::StationUpdate::Reader update);
  void session_update(mp::schema::SessionUpdate::Reader update);
  void user_update(mp::schema::UserUpdate::Reader update);
  // From mp-policy (snapshot topic "policy", updates "policy.effective").
  void policy_snapshot(mp::schema::PolicySnapshot::Reader snapshot);
  void effective_update(mp::schema::EffectivePolicy::Reader effective);

  bool session_synced() const { return session_synced_; }
  bool policy_synced() const { return policy_synced_; }

  // {"stations": [...], "synced": {"session": bool, "policy": bool}}, stations by key.
  nlohmann::json stations_json() const;
  // {"users": [{"name", "role"}]}, by name.
  nlohmann::json users_json() const;
  nlohmann::json station_json(const std::string& key) const;
  bool has_station(const std::string& key) const { return stations_.contains(key); }
  // Keys of stations that show an open session (active or disconnected).
  std::vector<std::string> stations_with_sessions() const;
  // The open session the station shows; 0 if none.
  std::uint64_t session_on(const std::string& key) const;

 private:
  struct StationView {
    std::string name, transport, address, client_name;
    mp::schema::StationState state = mp::schema::StationState::UNKNOWN;
    std::uint64_t session_id = 0;
    std::string showing;  // projection: the station whose desktop it shows
  };
  struct SessionView {
    std::string station_key, user;
    mp::schema::SessionState state = mp::schema::SessionState::UNKNOWN;
    bool agent_up = false;
  };
  struct PolicyView {
    bool blocked = false;
    std::string message, source;
    mp::schema::WebMode web_mode = mp::schema::WebMode::UNKNOWN;
    bool usb_locked = false;
    bool operator==(const PolicyView&) const = default;
  };
  static PolicyView view_of(mp::schema::EffectivePolicy::Reader effective);
  void set_station(mp::schema::Station::Reader station);
  void set_session(mp::schema::SessionRecord::Reader session);
  void station_changed(const std::string& key);
  void resynced();

  Publish publish_;
  std::map<std::string, StationView> stations_;
  std::map<std::uint64_t, SessionView> sessions_;  // open ones only
  std::map<std::string, std::string> users_;       // name -> role
  std::map<std::string, PolicyView> policy_;       // station key -> its effective block
  bool session_synced_ = false;
  bool policy_synced_ = false;
};

// The name the API uses for an effective web mode: "off", "allow_only", "block_only".
std::string web_mode_name(mp::schema::WebMode mode);

// The name the API uses for a role ("standard", "admin", "dashboard", "unknown").
std::string role_name(mp::schema::Role role);

}  // namespace mp::dashboard
