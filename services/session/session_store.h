// The durable state of mp-session: stations, users (with password hashes), sessions, the
// state version, and the replies of applied mutating requests (for idempotent retries).
// SQLite in WAL mode with synchronous=FULL: a committed transaction survives kill -9 and
// power loss. One writer: the service's thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mp/service/sqlite.h"
#include "session.capnp.h"

namespace mp::session {

struct Capabilities {
  bool video = false;
  bool keyboard = false;
  bool mouse = false;
  bool audio = false;
  bool usb_storage = false;
  std::uint16_t width = 0;
  std::uint16_t height = 0;
  bool operator==(const Capabilities&) const = default;
};

struct Station {
  std::string key;
  std::string name;
  std::string transport;
  mp::schema::StationState state = mp::schema::StationState::UNKNOWN;
  std::string client_name;
  std::string address;
  Capabilities capabilities;
  std::int64_t attached_at_ns = 0;
  std::uint64_t session_id = 0;  // the station's session that has not ended; 0: none
  std::string showing;           // projection: the station whose desktop it shows; "": its own
  // An administrator admitted it (or it predates admission); false: a new station, under the
  // "new stations" policy.
  bool admitted = false;
  // Someone logged on there once (stations of transports without a logon screen exist only
  // from their first logon on).
  bool logged_on = false;
  bool operator==(const Station&) const = default;
};

struct User {
  std::string name;
  mp::schema::Role role = mp::schema::Role::UNKNOWN;
  std::int64_t created_at_ns = 0;
  std::int64_t password_changed_at_ns = 0;  // the last reset; 0: none
  bool operator==(const User&) const = default;
};

// The processes behind a session's desktop, each the leader of its own Unix session; kept so a
// restarted mp-session can find them again. Not published.
struct DesktopProcesses {
  std::int64_t xvfb = 0;
  std::int64_t session = 0;  // the session command
  std::int64_t agent = 0;
  bool operator==(const DesktopProcesses&) const = default;
};

struct SessionRecord {
  std::uint64_t id = 0;
  std::string station_key;
  std::string user;
  std::string display;
  mp::schema::SessionState state = mp::schema::SessionState::UNKNOWN;
  std::int64_t started_at_ns = 0;
  std::int64_t ended_at_ns = 0;
  std::string unix_user;
  std::string xauthority;
  std::uint16_t width = 0;
  std::uint16_t height = 0;
  bool agent_up = false;
  DesktopProcesses processes;
  std::string moved_from;  // the station it was on before its last move; "": never moved
  std::int64_t moved_at_ns = 0;
  bool operator==(const SessionRecord&) const = default;
};

using AppliedRequest = mp::service::AppliedRequest;

class SessionStore {
 public:
  // Opens (creating if needed, mode 0600) and migrates the database. Throws std::runtime_error
  // if the file cannot be opened, is not a database, or was written by a newer schema.
  explicit SessionStore(const std::filesystem::path& file);
  ~SessionStore();
  SessionStore(const SessionStore&) = delete;
  SessionStore& operator=(const SessionStore&) = delete;

  // True if the database held state before this process opened it (the restart path).
  bool existed_before() const { return db_.existed_before(); }
  const std::filesystem::path& file() const { return db_.file(); }

  // One transaction; rolled back unless commit() is called.
  class Transaction : public mp::service::Database::Transaction {
   public:
    // BEGIN IMMEDIATE: takes the write lock now
    explicit Transaction(SessionStore& store) : mp::service::Database::Transaction(store.db_) {}
  };

  std::uint64_t state_version();
  void set_state_version(std::uint64_t version);

  std::optional<Station> station(std::string_view key);
  std::vector<Station> stations();
  std::vector<Station> stations_of_transport(std::string_view transport);
  void put_station(const Station& station);  // insert or replace
  // Whether stations never seen before may log on (default: yes).
  bool allow_new_stations();
  void set_allow_new_stations(bool allow);

  std::optional<User> user(std::string_view name);
  std::optional<std::string> password_hash(std::string_view name);
  std::vector<User> users();
  void add_user(const User& user, std::string_view password_hash);
  void remove_user(std::string_view name);
  void set_user_role(std::string_view name, mp::schema::Role role);
  void set_password_hash(std::string_view name, std::string_view password_hash,
                         std::int64_t changed_at_ns);

  std::optional<SessionRecord> session(std::uint64_t id);
  // Sessions that have not ended, by id.
  std::vector<SessionRecord> open_sessions();
  std::vector<SessionRecord> open_sessions_of_user(std::string_view user);
  // A new session id, never handed out again once the transaction commits, for a session that
  // is stored only when its desktop is up (the id names the desktop's directory meanwhile).
  std::uint64_t reserve_session_id();
  // Stores a new session under the id reserve_session_id() gave it.
  void insert_session(const SessionRecord& record);
  void update_session(const SessionRecord& record);
  void delete_sessions_ended_before(std::int64_t ended_before_ns);
  // The agent was restarted: only its pid changes, nothing published.
  void set_agent_pid(std::uint64_t id, std::int64_t pid);

  // The privacy notice: acknowledged once per user (forgotten when the user is removed).
  bool notice_acknowledged(std::string_view user);
  void set_notice_acknowledged(std::string_view user);

  std::optional<AppliedRequest> applied_request(std::string_view key);
  void record_applied_request(std::string_view key, const AppliedRequest& applied,
                              std::int64_t now_ns);
  // Forgets keys applied before `older_than_ns`, then the oldest beyond `keep_at_most`.
  void prune_applied_requests(std::int64_t older_than_ns, std::size_t keep_at_most);
  std::size_t applied_request_count();

 private:
  mp::service::Database db_;
  mp::service::AppliedRequests applied_{db_};
};

}  // namespace mp::session
