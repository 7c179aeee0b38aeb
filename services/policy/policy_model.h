// Desired policy as mp-policy holds it in memory: settings per scope, groups, schedules. The
// store (policy_store.h) persists exactly this; effective_policy.h turns it into what applies to
// each station.
#pragma once

#include <compare>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "policy.capnp.h"

namespace mp::policy {

using mp::schema::Setting;
using mp::schema::WebMode;

// A sorted, unique, normalised list of domains; immutable, so copies share it. Policy copies
// lists a lot (every station's effective policy holds the list that applies to it): with a
// 10,000-domain list and 500 stations, copying strings was most of a change's cost.
class DomainList {
 public:
  DomainList() = default;
  DomainList(std::vector<std::string> items)  // NOLINT: implicit, a list is its items
      : items_(items.empty() ? nullptr
                             : std::make_shared<const std::vector<std::string>>(std::move(items))) {
  }
  DomainList(std::initializer_list<std::string> items)
      : DomainList(std::vector<std::string>(items)) {}

  const std::vector<std::string>& items() const { return items_ ? *items_ : empty_list(); }
  operator const std::vector<std::string>&() const { return items(); }  // NOLINT
  std::size_t size() const { return items().size(); }
  bool empty() const { return items().empty(); }
  auto begin() const { return items().begin(); }
  auto end() const { return items().end(); }
  const std::string& operator[](std::size_t i) const { return items()[i]; }
  bool operator==(const DomainList& other) const {
    return items_ == other.items_ || items() == other.items();
  }
  bool operator==(const std::vector<std::string>& other) const { return items() == other; }

 private:
  static const std::vector<std::string>& empty_list() {
    static const std::vector<std::string> kEmpty;
    return kEmpty;
  }
  std::shared_ptr<const std::vector<std::string>> items_;
};

// Stored as numbers (scopes.kind, schedules.scope_kind): never renumber.
// new_stations: stations mp-session reports as not admitted; between groups and all.
enum class ScopeKind : std::uint8_t { all = 0, group = 1, station = 2, new_stations = 3 };

struct ScopeRef {
  ScopeKind kind = ScopeKind::all;
  std::string name;  // group name or station key; empty for `all` and `new_stations`

  static ScopeRef all() { return {}; }
  static ScopeRef new_stations() { return {ScopeKind::new_stations, {}}; }
  static ScopeRef group(std::string name) { return {ScopeKind::group, std::move(name)}; }
  static ScopeRef station(std::string key) { return {ScopeKind::station, std::move(key)}; }
  auto operator<=>(const ScopeRef&) const = default;
  bool operator==(const ScopeRef&) const = default;
  // "all", "new-stations", "group:NAME", "station:KEY": for audit details and logs.
  std::string describe() const;
};

// What is set at one scope; `unknown` inherits from the wider scope. Lists are sorted, unique,
// normalised; a list has effect only while the scope's web mode selects it.
struct ScopeSettings {
  Setting block = Setting::UNKNOWN;
  std::string block_message;
  WebMode web_mode = WebMode::UNKNOWN;
  DomainList allow_list;
  DomainList block_list;
  Setting usb_lock = Setting::UNKNOWN;

  bool empty() const {
    return block == Setting::UNKNOWN && block_message.empty() && web_mode == WebMode::UNKNOWN &&
           allow_list.empty() && block_list.empty() && usb_lock == Setting::UNKNOWN;
  }
  bool operator==(const ScopeSettings&) const = default;
};

enum class ScheduleKind : std::uint8_t { block = 0, web = 1, usb_lock = 2 };

struct Schedule {
  std::uint64_t id = 0;
  ScopeRef scope;
  std::uint8_t days = 0;  // bit 0 = Monday ... bit 6 = Sunday
  std::uint16_t start_minute = 0;
  std::uint16_t end_minute = 0;  // exclusive, up to 1440
  ScheduleKind kind = ScheduleKind::block;
  std::string block_message;            // kind block
  WebMode web_mode = WebMode::UNKNOWN;  // kind web
  DomainList domains;                   // kind web: sorted, unique
  std::string label;
  bool operator==(const Schedule&) const = default;
};

struct PolicyState {
  std::map<ScopeRef, ScopeSettings> scopes;             // only non-empty ones
  std::map<std::string, std::set<std::string>> groups;  // name -> station keys
  std::map<std::uint64_t, Schedule> schedules;          // by id
  std::uint64_t next_schedule_id = 1;
  bool operator==(const PolicyState&) const = default;
};

// What applies to one station now: the body of "policy.effective" updates.
struct Effective {
  std::string station_key;
  bool blocked = false;
  std::string block_message;
  WebMode web_mode = WebMode::OFF;
  DomainList domains;  // the allow list (allowOnly) or block list (blockOnly)
  bool usb_locked = false;
  std::string block_source;
  std::string web_source;
  std::string usb_source;
  bool operator==(const Effective&) const = default;
};

// A restriction a session took along when it moved from `origin` to another station
// (mp-session's SessionRecord.movedFrom/movedAtNs): it applies wherever the session is, until
// the origin's own setting that caused it no longer restricts. Stored: never renumber.
enum class Restriction : std::uint8_t { block = 0, web = 1, usb = 2 };

struct Carried {
  std::string origin;  // the station whose own effective policy had it in force
  Restriction what = Restriction::block;
  std::string block_message;        // block
  WebMode web_mode = WebMode::OFF;  // web: allowOnly or blockOnly
  DomainList domains;               // web: the list of that mode
  std::int64_t carried_at_ns = 0;   // when the move was seen
  bool operator==(const Carried&) const = default;
};

// An open session as mp-policy follows it: where it is, the last move taken into account, and
// what it carries (one per origin and restriction).
struct SessionCarry {
  std::string station;
  std::int64_t moved_at_ns = 0;  // 0: no move seen
  std::vector<Carried> carried;
  bool operator==(const SessionCarry&) const = default;
};

}  // namespace mp::policy
