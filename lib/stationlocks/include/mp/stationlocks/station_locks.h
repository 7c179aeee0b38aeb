// Which stations are blocked, and with what message: a replica (zguide Clone, lib/bus Replica)
// of mp-policy's effective policy, snapshot topic "policy", updates on "policy.effective". A
// station without an entry of its own gets the entry of station key "" (what applies to
// everyone). Transports draw their lock from it; mp-session shows the agent's courtesy overlay
// from it. Tells its owner which stations' locks may have changed.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "mp/bus/client.h"
#include "mp/bus/replica.h"

namespace mp::stationlocks {

struct StationLock {
  bool locked = false;
  std::string message;
  bool operator==(const StationLock&) const = default;
};

class StationLocks {
 public:
  // `changed` runs after a snapshot or an update: with the station keys whose own entry changed,
  // or with `everyone` set when the entry for "" (or the whole state) changed.
  using Changed = std::function<void(const std::set<std::string>& stations, bool everyone)>;
  // `cache_file` (optional) keeps the last locks known: a restarted transport applies them
  // before mp-policy answers, so a blocked station never shows its desktop meanwhile.
  StationLocks(mp::bus::Client& client, Changed changed, std::filesystem::path cache_file = {});

  void start() { replica_->start(); }
  bool synced() const { return replica_->synced(); }
  // The state version of mp-policy the locks reflect.
  std::uint64_t version() const { return replica_->version(); }
  // The lock for `station_key`: its own entry, else the entry for "", else unlocked.
  StationLock lock_of(const std::string& station_key) const;

 private:
  void load_cache();
  void save_cache() const;

  std::map<std::string, StationLock> locks_;
  std::map<std::string, StationLock> incoming_;  // a snapshot being received, page by page
  Changed changed_;
  std::filesystem::path cache_file_;
  std::unique_ptr<mp::bus::Replica> replica_;
};

}  // namespace mp::stationlocks
