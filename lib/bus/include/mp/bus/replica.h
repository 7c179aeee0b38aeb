// The consumer half of state resync (zguide Clone): subscribe to the authority's numbered
// updates first, then take a snapshot, drop updates the snapshot covers, apply the rest in
// order. A gap in versions, or the authority coming back with a new incarnation, starts a
// fresh resync.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>

#include "mp/bus/client.h"

namespace mp::bus {

class Replica {
 public:
  struct Callbacks {
    // The whole state; replaces whatever the consumer had. `version` is the snapshot's.
    std::function<void(const Incoming& snapshot, std::uint64_t version)> on_snapshot;
    // One update with header.stateVersion == previous version + 1.
    std::function<void(std::string_view topic, const Incoming& update)> on_update;
  };
  // `topic` is both the snapshot topic and the update topic prefix (e.g. "session").
  // `version_of` extracts the SnapshotResponse version from the authority's snapshot body.
  Replica(Client& client, std::string authority, std::string topic,
          std::function<std::uint64_t(const Incoming&)> version_of, Callbacks callbacks);

  void start();
  bool synced() const { return synced_; }
  std::uint64_t version() const { return version_; }
  std::uint64_t resyncs() const { return resyncs_; }

 private:
  void request_snapshot();
  void on_update(std::string_view topic, const Incoming& update);

  Client& client_;
  std::string authority_;
  std::string topic_;
  std::function<std::uint64_t(const Incoming&)> version_of_;
  Callbacks callbacks_;
  bool synced_ = false;
  bool snapshot_in_flight_ = false;
  std::uint64_t version_ = 0;
  std::uint64_t authority_incarnation_ = 0;
  std::uint64_t resyncs_ = 0;
  std::deque<std::pair<std::string, Incoming>> buffered_;
};

}  // namespace mp::bus
