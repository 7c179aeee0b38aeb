// The durable state of mp-policy: desired policy (scopes, lists, groups, schedules), the
// effective policy last published per station with the state version, the audit log, and the
// replies of applied mutating requests (for idempotent retries). SQLite in WAL mode with
// synchronous=FULL: a committed transaction survives kill -9 and power loss. One writer: the
// service's thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "mp/service/sqlite.h"
#include "policy_model.h"

namespace mp::policy {

using AppliedRequest = mp::service::AppliedRequest;

struct AuditRecord {
  std::int64_t at_ns = 0;
  std::string operator_name;
  std::string source;
  std::string action;
  std::string detail;
  std::vector<std::string> stations;
  bool operator==(const AuditRecord&) const = default;
};

class PolicyStore {
 public:
  // Opens (creating if needed, mode 0600) and migrates the database. Throws std::runtime_error
  // if the file cannot be opened, is not a database, or was written by a newer schema.
  explicit PolicyStore(const std::filesystem::path& file);
  ~PolicyStore();
  PolicyStore(const PolicyStore&) = delete;
  PolicyStore& operator=(const PolicyStore&) = delete;

  // True if the database held state before this process opened it (the restart path).
  bool existed_before() const { return db_.existed_before(); }
  const std::filesystem::path& file() const { return db_.file(); }

  // One transaction; rolled back unless commit() is called.
  class Transaction : public mp::service::Database::Transaction {
   public:
    // BEGIN IMMEDIATE: takes the write lock now
    explicit Transaction(PolicyStore& store) : mp::service::Database::Transaction(store.db_) {}
  };

  std::uint64_t state_version();
  void set_state_version(std::uint64_t version);

  PolicyState load_state();
  // Writes what differs between `before` (what the store holds now) and `after`.
  void save_state(const PolicyState& before, const PolicyState& after);

  // The effective policy last published for each station (the Clone state).
  std::map<std::string, Effective> load_published();
  // `list_key` names effective.domains (DomainLists::key_of); each list is stored once.
  void put_published(const Effective& effective, const std::string& list_key);
  void forget_unpublished_lists();

  // Stations mp-session reports as not admitted ("new stations").
  std::set<std::string> load_new_stations();
  void set_new_station(const std::string& key, bool is_new);
  // Open sessions with what they carry (policy_model.h SessionCarry), by session id.
  std::map<std::uint64_t, SessionCarry> load_sessions();
  // Replaces what is stored for session `id`; nullptr forgets it.
  void save_session(std::uint64_t id, const SessionCarry* session);

  void add_audit(const AuditRecord& record);
  // Newest first; entries at or after `since_ns`.
  std::vector<AuditRecord> audit(std::size_t limit, std::int64_t since_ns);
  void prune_audit(std::size_t keep_at_most);
  std::size_t audit_count();

  std::optional<AppliedRequest> applied_request(std::string_view key);
  void record_applied_request(std::string_view key, const AppliedRequest& applied,
                              std::int64_t now_ns);
  // Forgets keys applied before `older_than_ns`, then the oldest beyond `keep_at_most`.
  void prune_applied_requests(std::int64_t older_than_ns, std::size_t keep_at_most);
  std::size_t applied_request_count();

 private:
  void save_scope(const ScopeRef& scope, const ScopeSettings* before, const ScopeSettings* after);
  void save_group(const std::string& name, const std::set<std::string>* before,
                  const std::set<std::string>* after);
  void insert_schedule(const Schedule& schedule);
  void delete_schedule(std::uint64_t id);

  mp::service::Database db_;
  mp::service::AppliedRequests applied_{db_};
};

}  // namespace mp::policy
