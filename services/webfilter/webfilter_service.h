// WebfilterService: what mp-webfilter knows from the bus. It keeps two replicas (zguide Clone):
// mp-session's sessions and users (which station each Unix user is at, who the multipoint
// users are) and mp-policy's effective policy per station, answers the proxy's question
// "which rules apply to this uid now", and keeps the firewall (nftables) in step with the set of
// station users: every multipoint user's uid, plus every uid admitted by a webAdmit request
// (mp-session's, before a session's first process starts). Testable without a process: give it
// a Client on an in-process bus and a fake firewall.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "mp/bus/client.h"
#include "mp/bus/replica.h"
#include "policy_view.h"
#include "proxy.h"
#include "station_firewall.h"
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
  // `firewall` may be null (not root, or --no-nftables): webAdmit is then `unavailable`.
  WebfilterService(mp::bus::Client& client, UserDirectory& users, StationFirewall* firewall);

  // Serves webAdmit, subscribes and asks both authorities for snapshots. Until the sessions'
  // snapshot has arrived the firewall is left as it is (the rules of an mp-webfilter killed
  // earlier stay in force) and webAdmit answers wait.
  void start();

  bool ready() const override { return stations_.synced() && policies_.synced(); }
  const WebRules& rules_for(uid_t uid) override;

  StationMap& stations() { return stations_; }
  const PolicyView& policies() const { return policies_; }
  std::uint64_t policy_version() const { return policy_replica_.version(); }
  std::uint64_t session_version() const { return session_replica_.version(); }
  const std::set<uid_t>& admitted() const { return admitted_; }

 private:
  bool serve(const mp::bus::Incoming& request, mp::schema::Envelope::Builder reply);
  void admit(const mp::bus::Incoming& request, mp::schema::Envelope::Builder reply);
  // Puts every station user under the rules; answers the webAdmits that waited. Empty on
  // success, else the firewall's error.
  std::string update_firewall();
  // Shared domain lists (DomainListFetch, page by page): fetches every list a policy names
  // and the view does not hold yet; failures are retried after a second.
  void fetch_missing_lists();
  void fetch_page(const std::string& key);
  void on_page(const std::string& key, const mp::bus::Reply& reply);
  void retry_lists_later();

  mp::bus::Client& client_;
  StationFirewall* firewall_;
  std::set<uid_t> admitted_;                        // by webAdmit, for the life of this process
  std::vector<mp::bus::Responder> waiting_admits_;  // until the sessions are synced
  StationMap stations_;
  PolicyView policies_;
  mp::bus::Replica session_replica_;
  mp::bus::Replica policy_replica_;
  std::map<std::string, std::vector<std::string>> fetching_;  // key -> domains so far
  bool retry_scheduled_ = false;
};

}  // namespace mp::webfilter
