#include "session_store.h"

#include <array>
#include <stdexcept>
#include <utility>

namespace mp::session {

namespace {

using mp::schema::Role;
using mp::schema::SessionState;
using mp::schema::StationState;

using mp::service::Statement;

// Schema migrations: entry i takes the database from user_version i to i + 1.
// Append only; never edit a released step.
constexpr std::array<const char*, 4> kMigrations = {
    R"sql(
CREATE TABLE meta (
  key TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) STRICT;
INSERT INTO meta (key, value) VALUES ('state_version', 0);

CREATE TABLE stations (
  key TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  transport TEXT NOT NULL,
  state INTEGER NOT NULL,
  client_name TEXT NOT NULL,
  address TEXT NOT NULL,
  video INTEGER NOT NULL,
  keyboard INTEGER NOT NULL,
  mouse INTEGER NOT NULL,
  audio INTEGER NOT NULL,
  usb_storage INTEGER NOT NULL,
  width INTEGER NOT NULL,
  height INTEGER NOT NULL,
  attached_at_ns INTEGER NOT NULL,
  session_id INTEGER NOT NULL
) STRICT;
CREATE INDEX stations_by_transport ON stations (transport);

CREATE TABLE users (
  name TEXT PRIMARY KEY,
  role INTEGER NOT NULL,
  password_hash TEXT NOT NULL,
  created_at_ns INTEGER NOT NULL
) STRICT;

CREATE TABLE sessions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  station_key TEXT NOT NULL,
  user_name TEXT NOT NULL,
  display TEXT NOT NULL,
  state INTEGER NOT NULL,
  started_at_ns INTEGER NOT NULL,
  ended_at_ns INTEGER NOT NULL,
  unix_user TEXT NOT NULL
) STRICT;
CREATE INDEX sessions_by_state ON sessions (state);

CREATE TABLE applied_requests (
  key TEXT PRIMARY KEY,
  body TEXT NOT NULL,
  reply BLOB NOT NULL,
  applied_at_ns INTEGER NOT NULL
) STRICT;
CREATE INDEX applied_requests_by_age ON applied_requests (applied_at_ns);
)sql",
    // 2: running desktops (display file, size, agent, the processes to re-adopt) and the
    // privacy notice per user.
    R"sql(
ALTER TABLE sessions ADD COLUMN xauthority TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN width INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN height INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN agent_up INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN xvfb_pid INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN session_pid INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN agent_pid INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN notice_acknowledged INTEGER NOT NULL DEFAULT 0;
)sql",
    // 3: projection: the station whose desktop a station shows.
    R"sql(
ALTER TABLE stations ADD COLUMN showing TEXT NOT NULL DEFAULT '';
)sql",
    // 4: admission (new stations), where a session came from (policy follows it), password
    // resets (dashboard logins end), the admission setting. Stations from before count as
    // admitted if someone logged on there or an operator named them. Earlier mp-rdp stored a
    // station for every connection, before its password was checked: those that nobody logged
    // on to (any host on the LAN could make thousands) go.
    R"sql(
ALTER TABLE stations ADD COLUMN admitted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE stations ADD COLUMN logged_on INTEGER NOT NULL DEFAULT 0;
UPDATE stations SET logged_on = 1
  WHERE session_id != 0 OR EXISTS (SELECT 1 FROM sessions WHERE sessions.station_key = stations.key);
UPDATE stations SET admitted = 1 WHERE logged_on = 1 OR name != key;
DELETE FROM stations WHERE transport = 'rdp' AND logged_on = 0 AND admitted = 0;
ALTER TABLE sessions ADD COLUMN moved_from TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN moved_at_ns INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN password_changed_at_ns INTEGER NOT NULL DEFAULT 0;
INSERT INTO meta (key, value) VALUES ('allow_new_stations', 1);
)sql",
};

// The file holds password hashes. Freed pages are zeroed: a removed user's hash does not linger
// in the file.
mp::service::Database::Options database_options() {
  return {
      .program = "mp-session", .migrations = kMigrations, .pragmas = {"PRAGMA secure_delete = ON"}};
}

constexpr const char* kStationColumns =
    "key, name, transport, state, client_name, address, video, keyboard, mouse, audio, "
    "usb_storage, width, height, attached_at_ns, session_id, showing, admitted, logged_on";

Station read_station(Statement& s) {
  Station station;
  station.key = s.text(0);
  station.name = s.text(1);
  station.transport = s.text(2);
  station.state = static_cast<StationState>(s.int64(3));
  station.client_name = s.text(4);
  station.address = s.text(5);
  station.capabilities.video = s.int64(6) != 0;
  station.capabilities.keyboard = s.int64(7) != 0;
  station.capabilities.mouse = s.int64(8) != 0;
  station.capabilities.audio = s.int64(9) != 0;
  station.capabilities.usb_storage = s.int64(10) != 0;
  station.capabilities.width = static_cast<std::uint16_t>(s.int64(11));
  station.capabilities.height = static_cast<std::uint16_t>(s.int64(12));
  station.attached_at_ns = s.int64(13);
  station.session_id = s.uint64(14);
  station.showing = s.text(15);
  station.admitted = s.int64(16) != 0;
  station.logged_on = s.int64(17) != 0;
  return station;
}

constexpr const char* kSessionColumns =
    "id, station_key, user_name, display, state, started_at_ns, ended_at_ns, unix_user, "
    "xauthority, width, height, agent_up, xvfb_pid, session_pid, agent_pid, moved_from, "
    "moved_at_ns";

SessionRecord read_session(Statement& s) {
  SessionRecord record;
  record.id = s.uint64(0);
  record.station_key = s.text(1);
  record.user = s.text(2);
  record.display = s.text(3);
  record.state = static_cast<SessionState>(s.int64(4));
  record.started_at_ns = s.int64(5);
  record.ended_at_ns = s.int64(6);
  record.unix_user = s.text(7);
  record.xauthority = s.text(8);
  record.width = static_cast<std::uint16_t>(s.int64(9));
  record.height = static_cast<std::uint16_t>(s.int64(10));
  record.agent_up = s.int64(11) != 0;
  record.processes = {.xvfb = s.int64(12), .session = s.int64(13), .agent = s.int64(14)};
  record.moved_from = s.text(15);
  record.moved_at_ns = s.int64(16);
  return record;
}

constexpr const char* kUserColumns = "name, role, created_at_ns, password_changed_at_ns";

User read_user(Statement& s) {
  return User{.name = s.text(0),
              .role = static_cast<Role>(s.int64(1)),
              .created_at_ns = s.int64(2),
              .password_changed_at_ns = s.int64(3)};
}

}  // namespace

SessionStore::SessionStore(const std::filesystem::path& file) : db_(file, database_options()) {}

SessionStore::~SessionStore() = default;

// State version ----------------------------------------------------------------------------

std::uint64_t SessionStore::state_version() {
  Statement s(db_, "SELECT value FROM meta WHERE key = 'state_version'");
  return s.step() ? s.uint64(0) : 0;
}

void SessionStore::set_state_version(std::uint64_t version) {
  Statement(db_, "UPDATE meta SET value = ?1 WHERE key = 'state_version'").bind(1, version).run();
}

// Stations ---------------------------------------------------------------------------------

std::optional<Station> SessionStore::station(std::string_view key) {
  Statement s(db_, std::string("SELECT ") + kStationColumns + " FROM stations WHERE key = ?1");
  s.bind(1, key);
  if (!s.step()) return std::nullopt;
  return read_station(s);
}

std::vector<Station> SessionStore::stations() {
  Statement s(db_, std::string("SELECT ") + kStationColumns + " FROM stations ORDER BY key");
  std::vector<Station> result;
  while (s.step()) result.push_back(read_station(s));
  return result;
}

std::vector<Station> SessionStore::stations_of_transport(std::string_view transport) {
  Statement s(db_, std::string("SELECT ") + kStationColumns +
                       " FROM stations WHERE transport = ?1 ORDER BY key");
  s.bind(1, transport);
  std::vector<Station> result;
  while (s.step()) result.push_back(read_station(s));
  return result;
}

void SessionStore::put_station(const Station& station) {
  Statement s(db_, std::string("INSERT OR REPLACE INTO stations (") + kStationColumns +
                       ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, "
                       "?15, ?16, ?17, ?18)");
  const Capabilities& c = station.capabilities;
  s.bind(1, station.key)
      .bind(2, station.name)
      .bind(3, station.transport)
      .bind(4, static_cast<std::int64_t>(station.state))
      .bind(5, station.client_name)
      .bind(6, station.address)
      .bind(7, std::int64_t{c.video})
      .bind(8, std::int64_t{c.keyboard})
      .bind(9, std::int64_t{c.mouse})
      .bind(10, std::int64_t{c.audio})
      .bind(11, std::int64_t{c.usb_storage})
      .bind(12, std::int64_t{c.width})
      .bind(13, std::int64_t{c.height})
      .bind(14, station.attached_at_ns)
      .bind(15, station.session_id)
      .bind(16, station.showing)
      .bind(17, std::int64_t{station.admitted})
      .bind(18, std::int64_t{station.logged_on})
      .run();
}

bool SessionStore::allow_new_stations() {
  Statement s(db_, "SELECT value FROM meta WHERE key = 'allow_new_stations'");
  return !s.step() || s.int64(0) != 0;
}

void SessionStore::set_allow_new_stations(bool allow) {
  Statement(db_, "UPDATE meta SET value = ?1 WHERE key = 'allow_new_stations'")
      .bind(1, std::int64_t{allow})
      .run();
}

// Users ------------------------------------------------------------------------------------

std::optional<User> SessionStore::user(std::string_view name) {
  Statement s(db_, std::string("SELECT ") + kUserColumns + " FROM users WHERE name = ?1");
  s.bind(1, name);
  if (!s.step()) return std::nullopt;
  return read_user(s);
}

std::optional<std::string> SessionStore::password_hash(std::string_view name) {
  Statement s(db_, "SELECT password_hash FROM users WHERE name = ?1");
  s.bind(1, name);
  if (!s.step()) return std::nullopt;
  return s.text(0);
}

std::vector<User> SessionStore::users() {
  Statement s(db_, std::string("SELECT ") + kUserColumns + " FROM users ORDER BY name");
  std::vector<User> result;
  while (s.step()) result.push_back(read_user(s));
  return result;
}

void SessionStore::add_user(const User& user, std::string_view password_hash) {
  Statement(db_,
            "INSERT INTO users (name, role, password_hash, created_at_ns) VALUES (?1, ?2, ?3, ?4)")
      .bind(1, user.name)
      .bind(2, static_cast<std::int64_t>(user.role))
      .bind(3, password_hash)
      .bind(4, user.created_at_ns)
      .run();
}

void SessionStore::remove_user(std::string_view name) {
  Statement(db_, "DELETE FROM users WHERE name = ?1").bind(1, name).run();
}

void SessionStore::set_user_role(std::string_view name, mp::schema::Role role) {
  Statement(db_, "UPDATE users SET role = ?2 WHERE name = ?1")
      .bind(1, name)
      .bind(2, static_cast<std::int64_t>(role))
      .run();
}

void SessionStore::set_password_hash(std::string_view name, std::string_view password_hash,
                                     std::int64_t changed_at_ns) {
  Statement(db_, "UPDATE users SET password_hash = ?2, password_changed_at_ns = ?3 WHERE name = ?1")
      .bind(1, name)
      .bind(2, password_hash)
      .bind(3, changed_at_ns)
      .run();
}

// Sessions ---------------------------------------------------------------------------------

std::optional<SessionRecord> SessionStore::session(std::uint64_t id) {
  Statement s(db_, std::string("SELECT ") + kSessionColumns + " FROM sessions WHERE id = ?1");
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return read_session(s);
}

std::vector<SessionRecord> SessionStore::open_sessions() {
  Statement s(db_, std::string("SELECT ") + kSessionColumns +
                       " FROM sessions WHERE state != ?1 ORDER BY id");
  s.bind(1, static_cast<std::int64_t>(SessionState::ENDED));
  std::vector<SessionRecord> result;
  while (s.step()) result.push_back(read_session(s));
  return result;
}

std::vector<SessionRecord> SessionStore::open_sessions_of_user(std::string_view user) {
  Statement s(db_, std::string("SELECT ") + kSessionColumns +
                       " FROM sessions WHERE state != ?1 AND user_name = ?2 ORDER BY id");
  s.bind(1, static_cast<std::int64_t>(SessionState::ENDED)).bind(2, user);
  std::vector<SessionRecord> result;
  while (s.step()) result.push_back(read_session(s));
  return result;
}

std::uint64_t SessionStore::reserve_session_id() {
  // AUTOINCREMENT: sqlite_sequence keeps the highest id ever inserted, so an id taken here (and
  // ids of ended, pruned sessions) is never handed out again.
  Statement(db_,
            "INSERT INTO sessions (station_key, user_name, display, state, started_at_ns, "
            "ended_at_ns, unix_user) VALUES ('', '', '', 0, 0, 0, '')")
      .run();
  auto id = static_cast<std::uint64_t>(db_.last_insert_rowid());
  Statement(db_, "DELETE FROM sessions WHERE id = ?1").bind(1, id).run();
  return id;
}

void SessionStore::insert_session(const SessionRecord& record) {
  Statement(db_,
            "INSERT INTO sessions (id, station_key, user_name, display, state, started_at_ns, "
            "ended_at_ns, unix_user) VALUES (?1, '', '', '', 0, 0, 0, '')")
      .bind(1, record.id)
      .run();
  update_session(record);
}

void SessionStore::update_session(const SessionRecord& record) {
  Statement(db_,
            "UPDATE sessions SET station_key = ?2, user_name = ?3, display = ?4, state = ?5, "
            "started_at_ns = ?6, ended_at_ns = ?7, unix_user = ?8, xauthority = ?9, width = ?10, "
            "height = ?11, agent_up = ?12, xvfb_pid = ?13, session_pid = ?14, agent_pid = ?15, "
            "moved_from = ?16, moved_at_ns = ?17 WHERE id = ?1")
      .bind(1, record.id)
      .bind(2, record.station_key)
      .bind(3, record.user)
      .bind(4, record.display)
      .bind(5, static_cast<std::int64_t>(record.state))
      .bind(6, record.started_at_ns)
      .bind(7, record.ended_at_ns)
      .bind(8, record.unix_user)
      .bind(9, record.xauthority)
      .bind(10, std::int64_t{record.width})
      .bind(11, std::int64_t{record.height})
      .bind(12, std::int64_t{record.agent_up})
      .bind(13, record.processes.xvfb)
      .bind(14, record.processes.session)
      .bind(15, record.processes.agent)
      .bind(16, record.moved_from)
      .bind(17, record.moved_at_ns)
      .run();
}

void SessionStore::delete_sessions_ended_before(std::int64_t ended_before_ns) {
  Statement(db_, "DELETE FROM sessions WHERE state = ?1 AND ended_at_ns < ?2")
      .bind(1, static_cast<std::int64_t>(SessionState::ENDED))
      .bind(2, ended_before_ns)
      .run();
}

void SessionStore::set_agent_pid(std::uint64_t id, std::int64_t pid) {
  Statement(db_, "UPDATE sessions SET agent_pid = ?2 WHERE id = ?1").bind(1, id).bind(2, pid).run();
}

bool SessionStore::notice_acknowledged(std::string_view user) {
  Statement s(db_, "SELECT notice_acknowledged FROM users WHERE name = ?1");
  s.bind(1, user);
  return s.step() && s.int64(0) != 0;
}

void SessionStore::set_notice_acknowledged(std::string_view user) {
  Statement(db_, "UPDATE users SET notice_acknowledged = 1 WHERE name = ?1").bind(1, user).run();
}

// Applied requests -------------------------------------------------------------------------

std::optional<AppliedRequest> SessionStore::applied_request(std::string_view key) {
  return applied_.find(key);
}

void SessionStore::record_applied_request(std::string_view key, const AppliedRequest& applied,
                                          std::int64_t now_ns) {
  applied_.record(key, applied, now_ns);
}

void SessionStore::prune_applied_requests(std::int64_t older_than_ns, std::size_t keep_at_most) {
  applied_.prune(older_than_ns, keep_at_most);
}

std::size_t SessionStore::applied_request_count() { return applied_.count(); }

}  // namespace mp::session
