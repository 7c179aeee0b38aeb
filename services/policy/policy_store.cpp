#include "policy_store.h"

#include <algorithm>
#include <array>
#include <iterator>
#include <stdexcept>

namespace mp::policy {

namespace {

using mp::service::Statement;

// Schema migrations: entry i takes the database from user_version i to i + 1.
// Append only; never edit a released step.
constexpr std::array<const char*, 3> kMigrations = {
    R"sql(
CREATE TABLE meta (
  key TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) STRICT;
INSERT INTO meta (key, value) VALUES ('state_version', 0), ('next_schedule_id', 1);

-- kind: 0 all, 1 group, 2 station; block and usb_lock: Setting; web_mode: WebMode.
CREATE TABLE scopes (
  kind INTEGER NOT NULL,
  name TEXT NOT NULL,
  block INTEGER NOT NULL,
  block_message TEXT NOT NULL,
  web_mode INTEGER NOT NULL,
  usb_lock INTEGER NOT NULL,
  PRIMARY KEY (kind, name)
) STRICT;

-- list: WebList (1 allow, 2 block).
CREATE TABLE scope_domains (
  kind INTEGER NOT NULL,
  name TEXT NOT NULL,
  list INTEGER NOT NULL,
  domain TEXT NOT NULL,
  PRIMARY KEY (kind, name, list, domain)
) STRICT, WITHOUT ROWID;

CREATE TABLE groups (
  name TEXT PRIMARY KEY
) STRICT;

CREATE TABLE group_members (
  group_name TEXT NOT NULL REFERENCES groups (name) ON DELETE CASCADE,
  station_key TEXT NOT NULL,
  PRIMARY KEY (group_name, station_key)
) STRICT, WITHOUT ROWID;

-- kind: 0 block, 1 web, 2 usb lock.
CREATE TABLE schedules (
  id INTEGER PRIMARY KEY,
  scope_kind INTEGER NOT NULL,
  scope_name TEXT NOT NULL,
  days INTEGER NOT NULL,
  start_minute INTEGER NOT NULL,
  end_minute INTEGER NOT NULL,
  kind INTEGER NOT NULL,
  block_message TEXT NOT NULL,
  web_mode INTEGER NOT NULL,
  label TEXT NOT NULL
) STRICT;

CREATE TABLE schedule_domains (
  schedule_id INTEGER NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
  domain TEXT NOT NULL,
  PRIMARY KEY (schedule_id, domain)
) STRICT, WITHOUT ROWID;

-- What subscribers were last told per station; domains one per line.
CREATE TABLE published (
  station_key TEXT PRIMARY KEY,
  blocked INTEGER NOT NULL,
  block_message TEXT NOT NULL,
  web_mode INTEGER NOT NULL,
  domains TEXT NOT NULL,
  usb_locked INTEGER NOT NULL,
  block_source TEXT NOT NULL,
  web_source TEXT NOT NULL,
  usb_source TEXT NOT NULL
) STRICT;

-- stations: one key per line.
CREATE TABLE audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at_ns INTEGER NOT NULL,
  operator TEXT NOT NULL,
  source TEXT NOT NULL,
  action TEXT NOT NULL,
  detail TEXT NOT NULL,
  stations TEXT NOT NULL
) STRICT;
CREATE INDEX audit_by_time ON audit (at_ns);

CREATE TABLE applied_requests (
  key TEXT PRIMARY KEY,
  body TEXT NOT NULL,
  reply BLOB NOT NULL,
  applied_at_ns INTEGER NOT NULL
) STRICT;
CREATE INDEX applied_requests_by_age ON applied_requests (applied_at_ns);
)sql",
    // 2: published lists are stored once per content key (published.domains holds the key):
    // a 10,000-domain list used by 500 stations was written 500 times per change. What was
    // published is forgotten once, so everything is published again after the upgrade.
    R"sql(
DELETE FROM published;
CREATE TABLE published_lists (
  key TEXT PRIMARY KEY,
  domains TEXT NOT NULL
) STRICT;
)sql",
    // 3: stations mp-session reports as not admitted (the "new stations" scope applies; kept so
    // that a restart applies it before mp-session is heard again), and the open sessions
    // mp-policy follows with the restrictions they carried from stations they left (kept so
    // that a restart keeps them, and does not take a move into account twice).
    R"sql(
CREATE TABLE new_stations (
  station_key TEXT PRIMARY KEY
) STRICT, WITHOUT ROWID;

CREATE TABLE sessions (
  id INTEGER PRIMARY KEY,
  station_key TEXT NOT NULL,
  moved_at_ns INTEGER NOT NULL
) STRICT;

-- what: Restriction (0 block, 1 web, 2 usb); web_mode: WebMode; domains one per line.
CREATE TABLE carried (
  session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  origin TEXT NOT NULL,
  what INTEGER NOT NULL,
  block_message TEXT NOT NULL,
  web_mode INTEGER NOT NULL,
  domains TEXT NOT NULL,
  carried_at_ns INTEGER NOT NULL,
  PRIMARY KEY (session_id, origin, what)
) STRICT, WITHOUT ROWID;
)sql",
};

mp::service::Database::Options database_options() {
  return {.program = "mp-policy", .migrations = kMigrations};
}

constexpr std::int64_t kAllowList = static_cast<std::int64_t>(mp::schema::WebList::ALLOW);
constexpr std::int64_t kBlockList = static_cast<std::int64_t>(mp::schema::WebList::BLOCK);

std::string join_lines(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out.push_back('\n');
    out += item;
  }
  return out;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> out;
  if (text.empty()) return out;
  std::size_t start = 0;
  while (true) {
    std::size_t end = text.find('\n', start);
    out.push_back(text.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

std::vector<std::string> minus(const std::vector<std::string>& a,
                               const std::vector<std::string>& b) {
  std::vector<std::string> out;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

}  // namespace

PolicyStore::PolicyStore(const std::filesystem::path& file) : db_(file, database_options()) {}

PolicyStore::~PolicyStore() = default;

// State version ----------------------------------------------------------------------------

std::uint64_t PolicyStore::state_version() {
  Statement s(db_, "SELECT value FROM meta WHERE key = 'state_version'");
  return s.step() ? s.uint64(0) : 0;
}

void PolicyStore::set_state_version(std::uint64_t version) {
  Statement(db_, "UPDATE meta SET value = ?1 WHERE key = 'state_version'").bind(1, version).run();
}

// Desired policy ---------------------------------------------------------------------------

PolicyState PolicyStore::load_state() {
  PolicyState state;
  {
    Statement s(db_, "SELECT value FROM meta WHERE key = 'next_schedule_id'");
    if (s.step()) state.next_schedule_id = s.uint64(0);
  }
  {
    Statement s(db_, "SELECT kind, name, block, block_message, web_mode, usb_lock FROM scopes");
    while (s.step()) {
      ScopeRef scope{static_cast<ScopeKind>(s.int64(0)), s.text(1)};
      ScopeSettings& settings = state.scopes[scope];
      settings.block = static_cast<Setting>(s.int64(2));
      settings.block_message = s.text(3);
      settings.web_mode = static_cast<WebMode>(s.int64(4));
      settings.usb_lock = static_cast<Setting>(s.int64(5));
    }
  }
  {
    Statement s(db_, "SELECT kind, name, list, domain FROM scope_domains ORDER BY domain");
    std::map<std::pair<ScopeRef, bool>, std::vector<std::string>> lists;  // (scope, allow?)
    while (s.step()) {
      ScopeRef scope{static_cast<ScopeKind>(s.int64(0)), s.text(1)};
      lists[{scope, s.int64(2) == kAllowList}].push_back(s.text(3));
    }
    for (auto& [which, domains] : lists) {
      ScopeSettings& settings = state.scopes[which.first];
      (which.second ? settings.allow_list : settings.block_list) = std::move(domains);
    }
  }
  {
    Statement s(db_, "SELECT name FROM groups");
    while (s.step()) state.groups[s.text(0)];
    Statement m(db_, "SELECT group_name, station_key FROM group_members");
    while (m.step()) state.groups[m.text(0)].insert(m.text(1));
  }
  {
    Statement s(db_,
                "SELECT id, scope_kind, scope_name, days, start_minute, end_minute, kind, "
                "block_message, web_mode, label FROM schedules");
    while (s.step()) {
      Schedule schedule;
      schedule.id = s.uint64(0);
      schedule.scope = {static_cast<ScopeKind>(s.int64(1)), s.text(2)};
      schedule.days = static_cast<std::uint8_t>(s.int64(3));
      schedule.start_minute = static_cast<std::uint16_t>(s.int64(4));
      schedule.end_minute = static_cast<std::uint16_t>(s.int64(5));
      schedule.kind = static_cast<ScheduleKind>(s.int64(6));
      schedule.block_message = s.text(7);
      schedule.web_mode = static_cast<WebMode>(s.int64(8));
      schedule.label = s.text(9);
      state.schedules.emplace(schedule.id, std::move(schedule));
    }
    Statement d(db_, "SELECT schedule_id, domain FROM schedule_domains ORDER BY domain");
    std::map<std::uint64_t, std::vector<std::string>> lists;
    while (d.step()) lists[d.uint64(0)].push_back(d.text(1));
    for (auto& [id, domains] : lists) state.schedules[id].domains = std::move(domains);
  }
  return state;
}

void PolicyStore::save_scope(const ScopeRef& scope, const ScopeSettings* before,
                             const ScopeSettings* after) {
  auto kind = static_cast<std::int64_t>(scope.kind);
  if (!after) {
    Statement(db_, "DELETE FROM scopes WHERE kind = ?1 AND name = ?2")
        .bind(1, kind)
        .bind(2, scope.name)
        .run();
    Statement(db_, "DELETE FROM scope_domains WHERE kind = ?1 AND name = ?2")
        .bind(1, kind)
        .bind(2, scope.name)
        .run();
    return;
  }
  bool row_changed = !before || before->block != after->block ||
                     before->block_message != after->block_message ||
                     before->web_mode != after->web_mode || before->usb_lock != after->usb_lock;
  if (row_changed) {
    Statement(db_,
              "INSERT OR REPLACE INTO scopes (kind, name, block, block_message, web_mode, "
              "usb_lock) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
        .bind(1, kind)
        .bind(2, scope.name)
        .bind(3, static_cast<std::int64_t>(after->block))
        .bind(4, after->block_message)
        .bind(5, static_cast<std::int64_t>(after->web_mode))
        .bind(6, static_cast<std::int64_t>(after->usb_lock))
        .run();
  }
  static const std::vector<std::string> kEmpty;
  Statement remove(db_,
                   "DELETE FROM scope_domains WHERE kind = ?1 AND name = ?2 AND list = ?3 AND "
                   "domain = ?4");
  Statement insert(db_,
                   "INSERT OR IGNORE INTO scope_domains (kind, name, list, domain) "
                   "VALUES (?1, ?2, ?3, ?4)");
  auto save_list = [&](std::int64_t list, const std::vector<std::string>& old_list,
                       const std::vector<std::string>& new_list) {
    for (const auto& domain : minus(old_list, new_list)) {
      remove.reset();
      remove.bind(1, kind).bind(2, scope.name).bind(3, list).bind(4, domain).run();
    }
    for (const auto& domain : minus(new_list, old_list)) {
      insert.reset();
      insert.bind(1, kind).bind(2, scope.name).bind(3, list).bind(4, domain).run();
    }
  };
  save_list(kAllowList, before ? before->allow_list.items() : kEmpty, after->allow_list);
  save_list(kBlockList, before ? before->block_list.items() : kEmpty, after->block_list);
}

void PolicyStore::save_group(const std::string& name, const std::set<std::string>* before,
                             const std::set<std::string>* after) {
  if (!after) {
    Statement(db_, "DELETE FROM groups WHERE name = ?1").bind(1, name).run();  // members cascade
    return;
  }
  if (!before) Statement(db_, "INSERT INTO groups (name) VALUES (?1)").bind(1, name).run();
  static const std::set<std::string> kNone;
  const std::set<std::string>& old_members = before ? *before : kNone;
  Statement remove(db_, "DELETE FROM group_members WHERE group_name = ?1 AND station_key = ?2");
  Statement insert(db_, "INSERT INTO group_members (group_name, station_key) VALUES (?1, ?2)");
  for (const auto& key : old_members) {
    if (after->contains(key)) continue;
    remove.reset();
    remove.bind(1, name).bind(2, key).run();
  }
  for (const auto& key : *after) {
    if (old_members.contains(key)) continue;
    insert.reset();
    insert.bind(1, name).bind(2, key).run();
  }
}

void PolicyStore::insert_schedule(const Schedule& schedule) {
  Statement(db_,
            "INSERT INTO schedules (id, scope_kind, scope_name, days, start_minute, end_minute, "
            "kind, block_message, web_mode, label) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)")
      .bind(1, schedule.id)
      .bind(2, static_cast<std::int64_t>(schedule.scope.kind))
      .bind(3, schedule.scope.name)
      .bind(4, static_cast<std::int64_t>(schedule.days))
      .bind(5, static_cast<std::int64_t>(schedule.start_minute))
      .bind(6, static_cast<std::int64_t>(schedule.end_minute))
      .bind(7, static_cast<std::int64_t>(schedule.kind))
      .bind(8, schedule.block_message)
      .bind(9, static_cast<std::int64_t>(schedule.web_mode))
      .bind(10, schedule.label)
      .run();
  Statement insert(db_, "INSERT INTO schedule_domains (schedule_id, domain) VALUES (?1, ?2)");
  for (const auto& domain : schedule.domains) {
    insert.reset();
    insert.bind(1, schedule.id).bind(2, domain).run();
  }
}

void PolicyStore::delete_schedule(std::uint64_t id) {
  Statement(db_, "DELETE FROM schedules WHERE id = ?1").bind(1, id).run();  // domains cascade
}

void PolicyStore::save_state(const PolicyState& before, const PolicyState& after) {
  for (const auto& [scope, settings] : before.scopes) {
    if (!after.scopes.contains(scope)) save_scope(scope, &settings, nullptr);
  }
  for (const auto& [scope, settings] : after.scopes) {
    auto old = before.scopes.find(scope);
    const ScopeSettings* old_settings = old == before.scopes.end() ? nullptr : &old->second;
    if (!old_settings || !(*old_settings == settings)) save_scope(scope, old_settings, &settings);
  }
  for (const auto& [name, members] : before.groups) {
    if (!after.groups.contains(name)) save_group(name, &members, nullptr);
  }
  for (const auto& [name, members] : after.groups) {
    auto old = before.groups.find(name);
    const std::set<std::string>* old_members = old == before.groups.end() ? nullptr : &old->second;
    if (!old_members || *old_members != members) save_group(name, old_members, &members);
  }
  for (const auto& [id, schedule] : before.schedules) {
    auto now = after.schedules.find(id);
    if (now == after.schedules.end() || !(now->second == schedule)) delete_schedule(id);
  }
  for (const auto& [id, schedule] : after.schedules) {
    auto old = before.schedules.find(id);
    if (old == before.schedules.end() || !(old->second == schedule)) insert_schedule(schedule);
  }
  if (before.next_schedule_id != after.next_schedule_id) {
    Statement(db_, "UPDATE meta SET value = ?1 WHERE key = 'next_schedule_id'")
        .bind(1, after.next_schedule_id)
        .run();
  }
}

// Published effective policy ---------------------------------------------------------------

std::map<std::string, Effective> PolicyStore::load_published() {
  Statement s(db_,
              "SELECT station_key, blocked, block_message, web_mode, domains, usb_locked, "
              "block_source, web_source, usb_source FROM published");
  Statement list(db_, "SELECT domains FROM published_lists WHERE key = ?1");
  std::map<std::string, std::vector<std::string>> lists;  // by key: read each list once
  std::map<std::string, Effective> out;
  while (s.step()) {
    Effective e;
    e.station_key = s.text(0);
    e.blocked = s.int64(1) != 0;
    e.block_message = s.text(2);
    e.web_mode = static_cast<WebMode>(s.int64(3));
    if (std::string key = s.text(4); !key.empty()) {
      auto it = lists.find(key);
      if (it == lists.end()) {
        list.reset();
        list.bind(1, key);
        it =
            lists.emplace(key, list.step() ? split_lines(list.text(0)) : std::vector<std::string>())
                .first;
      }
      e.domains = it->second;
    }
    e.usb_locked = s.int64(5) != 0;
    e.block_source = s.text(6);
    e.web_source = s.text(7);
    e.usb_source = s.text(8);
    out.emplace(e.station_key, std::move(e));
  }
  return out;
}

void PolicyStore::put_published(const Effective& e, const std::string& list_key) {
  if (!list_key.empty()) {
    Statement(db_, "INSERT OR IGNORE INTO published_lists (key, domains) VALUES (?1, ?2)")
        .bind(1, list_key)
        .bind(2, join_lines(e.domains))
        .run();
  }
  Statement(db_,
            "INSERT OR REPLACE INTO published (station_key, blocked, block_message, web_mode, "
            "domains, usb_locked, block_source, web_source, usb_source) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)")
      .bind(1, e.station_key)
      .bind(2, std::int64_t{e.blocked})
      .bind(3, e.block_message)
      .bind(4, static_cast<std::int64_t>(e.web_mode))
      .bind(5, list_key)
      .bind(6, std::int64_t{e.usb_locked})
      .bind(7, e.block_source)
      .bind(8, e.web_source)
      .bind(9, e.usb_source)
      .run();
}

void PolicyStore::forget_unpublished_lists() {
  Statement(db_, "DELETE FROM published_lists WHERE key NOT IN (SELECT domains FROM published)")
      .run();
}

// What mp-session reports -----------------------------------------------------------------

std::set<std::string> PolicyStore::load_new_stations() {
  Statement s(db_, "SELECT station_key FROM new_stations");
  std::set<std::string> out;
  while (s.step()) out.insert(s.text(0));
  return out;
}

void PolicyStore::set_new_station(const std::string& key, bool is_new) {
  if (is_new) {
    Statement(db_, "INSERT OR IGNORE INTO new_stations (station_key) VALUES (?1)")
        .bind(1, key)
        .run();
  } else {
    Statement(db_, "DELETE FROM new_stations WHERE station_key = ?1").bind(1, key).run();
  }
}

std::map<std::uint64_t, SessionCarry> PolicyStore::load_sessions() {
  std::map<std::uint64_t, SessionCarry> out;
  Statement s(db_, "SELECT id, station_key, moved_at_ns FROM sessions");
  while (s.step()) {
    out[s.uint64(0)] = SessionCarry{.station = s.text(1), .moved_at_ns = s.int64(2)};
  }
  Statement c(db_,
              "SELECT session_id, origin, what, block_message, web_mode, domains, carried_at_ns "
              "FROM carried ORDER BY session_id, origin, what");
  while (c.step()) {
    auto it = out.find(c.uint64(0));
    if (it == out.end()) continue;
    it->second.carried.push_back(Carried{.origin = c.text(1),
                                         .what = static_cast<Restriction>(c.int64(2)),
                                         .block_message = c.text(3),
                                         .web_mode = static_cast<WebMode>(c.int64(4)),
                                         .domains = split_lines(c.text(5)),
                                         .carried_at_ns = c.int64(6)});
  }
  return out;
}

void PolicyStore::save_session(std::uint64_t id, const SessionCarry* session) {
  Statement(db_, "DELETE FROM carried WHERE session_id = ?1").bind(1, id).run();
  if (!session) {
    Statement(db_, "DELETE FROM sessions WHERE id = ?1").bind(1, id).run();
    return;
  }
  Statement(db_,
            "INSERT OR REPLACE INTO sessions (id, station_key, moved_at_ns) VALUES (?1, ?2, ?3)")
      .bind(1, id)
      .bind(2, session->station)
      .bind(3, session->moved_at_ns)
      .run();
  Statement insert(db_,
                   "INSERT OR REPLACE INTO carried (session_id, origin, what, block_message, "
                   "web_mode, domains, carried_at_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  for (const Carried& c : session->carried) {
    insert.reset();
    insert.bind(1, id)
        .bind(2, c.origin)
        .bind(3, static_cast<std::int64_t>(c.what))
        .bind(4, c.block_message)
        .bind(5, static_cast<std::int64_t>(c.web_mode))
        .bind(6, join_lines(c.domains))
        .bind(7, c.carried_at_ns)
        .run();
  }
}

// Audit ------------------------------------------------------------------------------------

void PolicyStore::add_audit(const AuditRecord& record) {
  Statement(db_,
            "INSERT INTO audit (at_ns, operator, source, action, detail, stations) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
      .bind(1, record.at_ns)
      .bind(2, record.operator_name)
      .bind(3, record.source)
      .bind(4, record.action)
      .bind(5, record.detail)
      .bind(6, join_lines(record.stations))
      .run();
}

std::vector<AuditRecord> PolicyStore::audit(std::size_t limit, std::int64_t since_ns) {
  Statement s(db_,
              "SELECT at_ns, operator, source, action, detail, stations FROM audit "
              "WHERE at_ns >= ?1 ORDER BY id DESC LIMIT ?2");
  s.bind(1, since_ns).bind(2, static_cast<std::int64_t>(limit));
  std::vector<AuditRecord> out;
  while (s.step()) {
    out.push_back(AuditRecord{.at_ns = s.int64(0),
                              .operator_name = s.text(1),
                              .source = s.text(2),
                              .action = s.text(3),
                              .detail = s.text(4),
                              .stations = split_lines(s.text(5))});
  }
  return out;
}

void PolicyStore::prune_audit(std::size_t keep_at_most) {
  Statement(db_,
            "DELETE FROM audit WHERE id IN (SELECT id FROM audit ORDER BY id DESC "
            "LIMIT -1 OFFSET ?1)")
      .bind(1, static_cast<std::int64_t>(keep_at_most))
      .run();
}

std::size_t PolicyStore::audit_count() {
  Statement s(db_, "SELECT COUNT(*) FROM audit");
  return s.step() ? static_cast<std::size_t>(s.int64(0)) : 0;
}

// Applied requests -------------------------------------------------------------------------

std::optional<AppliedRequest> PolicyStore::applied_request(std::string_view key) {
  return applied_.find(key);
}

void PolicyStore::record_applied_request(std::string_view key, const AppliedRequest& applied,
                                         std::int64_t now_ns) {
  applied_.record(key, applied, now_ns);
}

void PolicyStore::prune_applied_requests(std::int64_t older_than_ns, std::size_t keep_at_most) {
  applied_.prune(older_than_ns, keep_at_most);
}

std::size_t PolicyStore::applied_request_count() { return applied_.count(); }

}  // namespace mp::policy
