// Which stations exist, learnt from mp-session (zguide Clone: its snapshot, then its numbered
// updates on "session.*"). Every station it reports is handed to PolicyService::stations_seen,
// so a station attached later gets its effective policy published.
#pragma once

#include <memory>

#include "mp/bus/client.h"
#include "mp/bus/replica.h"
#include "policy_service.h"

namespace mp::policy {

class SessionStations {
 public:
  SessionStations(mp::bus::Client& client, PolicyService& service);
  void start() { replica_->start(); }
  bool synced() const { return replica_->synced(); }

 private:
  PolicyService& service_;
  std::unique_ptr<mp::bus::Replica> replica_;
};

}  // namespace mp::policy
