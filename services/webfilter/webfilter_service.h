// WebfilterService: what mp-webfilter knows from the bus. It keeps two replicas (zguide Clone):
// mp-session's sessions (which station each Unix user is at) and mp-policy's effective
// policy per station, answers the proxy's question "which rules apply to this uid now", and
// keeps the nftables rules in step with the set of station users. Testable without a process:
// give it a Client on an in-process bus.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

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
// A shared list longer than this is refused (and logged): a bound on what mp-policy may make
// this process hold.
inline constexpr std::size_t kMaxListDomains = 1'000'000;

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
  // Shared domain lists (DomainListFetch, page by page): fetches every list a policy names
  // and the view does not hold yet; failures are retried after a second.
  void fetch_missing_lists();
  void fetch_page(const std::string& key);
  void on_page(const std::string& key, const mp::bus::Reply& reply);
  void retry_lists_later();

  mp::bus::Client& client_;
  Nftables* nftables_;
  StationMap stations_;
  PolicyView policies_;
  mp::bus::Replica session_replica_;
  mp::bus::Replica policy_replica_;
  std::map<std::string, std::vector<std::string>> fetching_;  // key -> domains so far
  bool retry_scheduled_ = false;
};

}  // namespace mp::webfilter
