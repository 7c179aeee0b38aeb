// What mp-policy says each station's screen must show: a replica (zguide Clone, lib/bus Replica)
// of the effective policy, snapshot topic "policy", updates on "policy.effective". A station
// without an entry of its own gets the entry of station key "" (what applies to everyone).
// Tells its owner at once when the lock of any station may have changed.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "mp/bus/client.h"
#include "mp/bus/replica.h"

namespace mp::session {

struct StationLock {
  bool locked = false;
  std::string message;
  bool operator==(const StationLock&) const = default;
};

class PolicyRelay {
 public:
  // `changed` runs after a snapshot or an update changed any station's lock.
  PolicyRelay(mp::bus::Client& client, std::function<void()> changed);

  void start() { replica_->start(); }
  bool synced() const { return replica_->synced(); }
  // The lock for `station_key`: its own entry, else the entry for "", else unlocked.
  StationLock lock_of(const std::string& station_key) const;

 private:
  std::map<std::string, StationLock> locks_;
  std::function<void()> changed_;
  std::unique_ptr<mp::bus::Replica> replica_;
};

}  // namespace mp::session
