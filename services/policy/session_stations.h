// What mp-policy learns from mp-session (zguide Clone: its snapshot in pages, then its numbered
// updates on "session.*"): every station with whether an administrator admitted it, handed to
// PolicyService::stations_reported (a station attached later gets its effective policy published; a
// station not admitted is under the "new stations" scope), and every session with where it is
// and where it moved from, handed to PolicyService::sessions_reported (carried restrictions).
// Updates are handed over in batches, a few milliseconds after they arrive: thousands of
// stations attaching cost one recomputation per batch, not one per station.
#pragma once

#include <chrono>
#include <memory>
#include <vector>

#include "mp/bus/client.h"
#include "mp/bus/replica.h"
#include "policy_service.h"

namespace mp::policy {

class SessionStations {
 public:
  SessionStations(mp::bus::Client& client, PolicyService& service);
  ~SessionStations();
  void start() { replica_->start(); }
  bool synced() const { return replica_->synced(); }

  static constexpr std::chrono::milliseconds kBatchDelay{10};

 private:
  void take(mp::schema::Station::Reader station);
  void take(mp::schema::SessionRecord::Reader session);
  // Hands what was taken to the service.
  void hand_over(bool complete);
  void hand_over_soon();

  mp::bus::Client& client_;
  PolicyService& service_;
  std::vector<SeenStation> stations_;
  std::vector<SeenSession> sessions_;
  mp::bus::Reactor::TimerId batch_timer_ = 0;
  std::unique_ptr<mp::bus::Replica> replica_;
};

}  // namespace mp::policy
