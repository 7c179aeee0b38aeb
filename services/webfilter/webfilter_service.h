// WebfilterService: what mp-webfilter knows from the bus. It keeps two replicas (zguide Clone):
// mp-session's sessions (which station each Unix user is at) and mp-policy's effective
// policy per station, answers the proxy's question "which rules apply to this uid now", and
// keeps the nftables rules in step with the set of station users. Testable without a process:
// give it a Client on an in-process bus.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string_view>

#include "mp/bus/client.h"
#include "mp/bus/replica.h"
#include "nftables.h"
#include "policy_view.h"
#include "proxy.h"
#include "station_map.h"

namespace mp::webfilter {

inline constexpr std::string_view kServiceName = "webfilter";
inline constexpr std::string_view kSessionService = "session";
inline constexpr std::string_view kSessionTopic = "session";
inline constexpr std::string_view kPolicyService = "policy";
inline constexpr std::string_view kPolicyTopic = "policy";

class WebfilterService : public AccessPolicy {
 public:
  // `nftables` may be null (not root, or --no-nftables).
  WebfilterService(mp::bus::Client& client, UserDirectory& users, Nftables* nftables);

  // Subscribes and asks both authorities for snapshots.
  void start();

  bool ready() const override { return stations_.synced() && policies_.synced(); }
  const WebRules& rules_for(uid_t uid) override;

  StationMap& stations() { return stations_; }
  const PolicyView& policies() const { return policies_; }
  std::uint64_t policy_version() const { return policy_replica_.version(); }
  std::uint64_t session_version() const { return session_replica_.version(); }

 private:
  void sessions_changed();

  mp::bus::Client& client_;
  Nftables* nftables_;
  StationMap stations_;
  PolicyView policies_;
  mp::bus::Replica session_replica_;
  mp::bus::Replica policy_replica_;
};

}  // namespace mp::webfilter
