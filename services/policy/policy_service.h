// PolicyService: the authority for desired policy and the publisher of effective policy per
// station. Serves setBlock, setWebMode, editWebList, setUsbLock, groupEdit, groupListRequest,
// scheduleAdd, scheduleRemove, scheduleListRequest, policyShowRequest, auditQuery and
// snapshotRequest (topic "policy"). Every mutation runs in one SQLite transaction with its audit
// entry, its idempotency record, the effective policies it changed and the state version; the
// changes are published after the commit as numbered updates on "policy.effective". Testable
// without a process: feed it Incoming requests, set its clock.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "carried_restrictions.h"
#include "domain_lists.h"
#include "effective_policy.h"
#include "envelope.capnp.h"
#include "mp/bus/client.h"
#include "mp/bus/frame.h"
#include "policy_model.h"
#include "policy_store.h"

namespace mp::policy {

inline constexpr std::string_view kServiceName = "policy";
inline constexpr std::string_view kSnapshotTopic = "policy";
inline constexpr std::string_view kEffectiveTopic = "policy.effective";

struct PolicyServiceOptions {
  // Idempotency records: forgotten after the TTL, and beyond this many.
  std::size_t max_applied_requests = 100000;
  std::chrono::hours applied_request_ttl{24};
  std::size_t max_audit_entries = 100000;
  std::size_t prune_every = 256;  // mutations between two prunings (and one at start)
  std::size_t max_domains_per_list = 10000;
  std::size_t max_domains_total = 100000;  // every scope list and schedule together
  // The bus's limits: a message larger than max_message_bytes would cost the connection.
  mp::bus::Limits limits;
  // The snapshot comes in pages of about this many bytes of effective policies (well under
  // the bus's limit, whatever the number of stations).
  std::size_t snapshot_page_bytes = 256 * 1024;
  // CLOCK_REALTIME in nanoseconds; empty: the system clock. Tests inject their own. Schedules
  // read it as local time (the process's TZ).
  std::function<std::int64_t()> clock;
};

// What mp-session says about one station: admitted, or new (the "new stations" scope applies).
struct SeenStation {
  std::string key;
  bool admitted = true;
};

class PolicyService {
 public:
  // Publishes one numbered update; main() binds it to Client::publish.
  using Publish = std::function<void(std::string_view topic, const mp::bus::Build& body,
                                     std::uint64_t state_version)>;

  PolicyService(PolicyStore& store, Publish publish, PolicyServiceOptions options = {});

  // A Client::RequestHandler: fills `reply`, or returns false for a body it does not serve.
  bool handle(const mp::bus::Incoming& request, mp::schema::Envelope::Builder reply);

  // Recomputes every station's effective policy at the clock's time and publishes what changed
  // (schedules starting or ending). main() calls it at every minute boundary.
  void reevaluate();
  // Stations mp-session knows; ones not seen before get their effective policy published, and
  // a change of admission recomputes the station's.
  void stations_reported(const std::vector<SeenStation>& stations);
  void stations_seen(const std::vector<std::string>& admitted_keys);
  // Sessions mp-session reports (carried_restrictions.h): moves carry restrictions, ended
  // sessions drop theirs. `complete`: the whole set of open sessions (a snapshot).
  void sessions_reported(const std::vector<SeenSession>& sessions, bool complete);

  std::uint64_t state_version() { return store_.state_version(); }
  const std::map<std::string, Effective>& published() const { return published_; }
  const PolicyState& desired() const { return state_; }
  const std::set<std::string>& new_stations() const { return new_stations_; }
  const CarriedRestrictions& carried() const { return carried_; }
  // From the clock's now to just after the next minute boundary.
  std::chrono::milliseconds delay_to_next_minute() const;

 private:
  // What one mutating request does, before it is committed.
  struct Mutation {
    std::int64_t now_ns = 0;
    PolicyState next;        // the desired state after the request
    AuditRecord audit;       // action, detail, stations (who and when are filled in)
    std::string ack_detail;  // for the Ack
  };
  // Returns an error text (the request is refused, nothing changes) or empty.
  using Apply = std::function<std::string(Mutation&, mp::schema::Envelope::Builder reply)>;

  bool mutate(const mp::bus::Incoming& request, mp::schema::Envelope::Builder reply,
              const Apply& apply);
  // Effective policies (own, merged with what `carried` puts on the station) that differ from
  // the published ones: of every station to publish, or of `only`.
  std::vector<Effective> changes_for(const PolicyState& state, const CarriedRestrictions& carried,
                                     std::int64_t now_ns,
                                     const std::set<std::string>* only = nullptr) const;
  // A station's own effective policy under `state` (new stations per new_stations_).
  CarriedRestrictions::OwnOf own_of(const PolicyState& state, std::int64_t now_ns) const;
  // In the caller's transaction: the sessions `carried` changed.
  void save_sessions(const CarriedRestrictions& carried, const std::set<std::uint64_t>& ids);
  // What mp-session reported, committed: admission changes (`newness`: key -> is new now),
  // `next` carried restrictions; lifts those whose origin is in `lift_origins`, recomputes
  // `stations`, persists and publishes what changed.
  void commit_session_facts(CarriedRestrictions next, std::set<std::string> stations,
                            const std::map<std::string, bool>& newness,
                            const std::set<std::string>& lift_origins);
  // In the caller's transaction: persist `changes` with new versions. Returns the first one.
  std::uint64_t record_published(const std::vector<Effective>& changes);
  void publish_committed(const std::vector<Effective>& changes, std::uint64_t first_version);
  void prune(std::int64_t now_ns);
  std::int64_t now_ns() const;
  std::set<std::string> stations_of(const PolicyState& state, const ScopeRef& scope) const;

  // Mutations.
  std::string set_block(Mutation& m, mp::schema::SetBlock::Reader body);
  std::string set_web_mode(Mutation& m, mp::schema::SetWebMode::Reader body);
  std::string edit_web_list(Mutation& m, mp::schema::EditWebList::Reader body);
  std::string set_usb_lock(Mutation& m, mp::schema::SetUsbLock::Reader body);
  std::string edit_group(Mutation& m, mp::schema::GroupEdit::Reader body);
  std::string add_schedule(Mutation& m, mp::schema::ScheduleAdd::Reader body,
                           mp::schema::Envelope::Builder reply);
  std::string remove_schedule(Mutation& m, mp::schema::ScheduleRemove::Reader body);

  // Reads.
  void snapshot(mp::schema::SnapshotRequest::Reader body, mp::schema::Envelope::Builder reply);
  void list_groups(mp::schema::Envelope::Builder reply);
  void list_schedules(mp::schema::Envelope::Builder reply);
  void show(mp::schema::PolicyShowRequest::Reader body, mp::schema::Envelope::Builder reply);
  void fetch_list(mp::schema::DomainListFetch::Reader body, mp::schema::Envelope::Builder reply);
  // Makes every published list and every scope list fetchable, and forgets the rest.
  void refresh_lists();
  // An operator action another service carried out, into the audit log (policy unchanged).
  std::string record_audit(Mutation& m, mp::schema::AuditRecord::Reader body);
  void query_audit(mp::schema::AuditQuery::Reader body, mp::schema::Envelope::Builder reply);

  // The scope of a request, checked (a group must exist); an error text or empty.
  std::string read_scope(mp::schema::Scope::Reader wire, const PolicyState& state,
                         ScopeRef* scope) const;
  std::size_t total_domains(const PolicyState& state) const;
  std::size_t message_budget() const;

  PolicyStore& store_;
  Publish publish_;
  PolicyServiceOptions options_;
  PolicyState state_;                               // what the store holds, committed
  std::map<std::string, Effective> published_;      // what the store says was published
  std::set<std::string> known_stations_;            // from mp-session and earlier publications
  std::set<std::string> new_stations_;              // not admitted, as mp-session says
  CarriedRestrictions carried_;                     // what the committed state holds
  DomainLists lists_;                               // what DomainListFetch serves
  std::map<std::string, ListRef> published_lists_;  // station -> its published web list
  bool lists_may_be_unused_ = false;                // refresh_lists() before the next publish
  std::uint64_t mutations_since_prune_ = 0;
};

}  // namespace mp::policy
