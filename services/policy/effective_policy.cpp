#include "effective_policy.h"

#include <algorithm>
#include <ctime>
#include <iterator>
#include <optional>
#include <vector>

namespace mp::policy {

std::string ScopeRef::describe() const {
  switch (kind) {
    case ScopeKind::all:
      return "all";
    case ScopeKind::new_stations:
      return "new-stations";
    case ScopeKind::group:
      return "group:" + name;
    case ScopeKind::station:
      return "station:" + name;
  }
  return "?";
}

namespace {

// A flag-like attribute (block, USB) decided at one scope.
struct FlagValue {
  bool on = false;
  std::string message;  // block only
  std::string source;
};

struct WebValue {
  WebMode mode = WebMode::OFF;
  DomainList domains;
  std::string source;
};

std::string source_of(const ScopeRef& scope) {
  switch (scope.kind) {
    case ScopeKind::all:
      return "all";
    case ScopeKind::new_stations:
      return "new-stations";
    case ScopeKind::group:
      return "group:" + scope.name;
    case ScopeKind::station:
      return "station";
  }
  return "?";
}

std::string carried_source(const Carried& carried) {
  return "carried from station:" + carried.origin;
}

std::string schedule_source(const Schedule& schedule) {
  return "schedule " + std::to_string(schedule.id);
}

int restrictiveness(WebMode mode) {
  switch (mode) {
    case WebMode::ALLOW_ONLY:
      return 3;
    case WebMode::BLOCK_ONLY:
      return 2;
    case WebMode::OFF:
      return 1;
    default:
      return 0;
  }
}

std::vector<std::string> intersect(const std::vector<std::string>& a,
                                   const std::vector<std::string>& b) {
  std::vector<std::string> out;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

std::vector<std::string> unite(const std::vector<std::string>& a,
                               const std::vector<std::string>& b) {
  std::vector<std::string> out;
  std::set_union(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

void add_source(std::string& sources, const std::string& source) {
  if (!sources.empty()) sources += ",";
  sources += source;
}

// The most restrictive of several flag values: any `on` wins (the first one gives the message).
std::optional<FlagValue> merge_flags(std::vector<FlagValue> values) {
  if (values.empty()) return std::nullopt;
  std::optional<FlagValue> merged;
  for (auto& value : values) {
    if (!merged || (value.on && !merged->on)) {
      merged = value;
    } else if (value.on == merged->on) {
      add_source(merged->source, value.source);
    }
  }
  return merged;
}

std::optional<WebValue> merge_web(std::vector<WebValue> values) {
  if (values.empty()) return std::nullopt;
  std::optional<WebValue> merged;
  for (auto& value : values) {
    if (!merged || restrictiveness(value.mode) > restrictiveness(merged->mode)) {
      merged = std::move(value);
    } else if (value.mode == merged->mode) {
      if (value.mode == WebMode::ALLOW_ONLY) {
        merged->domains = intersect(merged->domains, value.domains);
      } else if (value.mode == WebMode::BLOCK_ONLY) {
        merged->domains = unite(merged->domains, value.domains);
      }
      add_source(merged->source, value.source);
    }
  }
  return merged;
}

// Active schedules at one scope, lowest id first.
std::vector<const Schedule*> active_at(const PolicyState& state, const ScopeRef& scope,
                                       ScheduleKind kind, LocalMinute now) {
  std::vector<const Schedule*> out;
  for (const auto& [id, schedule] : state.schedules) {
    if (schedule.kind == kind && schedule.scope == scope && schedule_active(schedule, now)) {
      out.push_back(&schedule);
    }
  }
  return out;
}

const ScopeSettings* settings_at(const PolicyState& state, const ScopeRef& scope) {
  auto it = state.scopes.find(scope);
  return it == state.scopes.end() ? nullptr : &it->second;
}

std::optional<FlagValue> block_at(const PolicyState& state, const ScopeRef& scope,
                                  LocalMinute now) {
  auto schedules = active_at(state, scope, ScheduleKind::block, now);
  if (!schedules.empty()) {
    std::vector<FlagValue> values;
    for (const Schedule* s : schedules) {
      values.push_back({true, s->block_message, schedule_source(*s)});
    }
    return merge_flags(std::move(values));
  }
  const ScopeSettings* settings = settings_at(state, scope);
  if (!settings || settings->block == Setting::UNKNOWN) return std::nullopt;
  bool on = settings->block == Setting::ON;
  return FlagValue{on, on ? settings->block_message : std::string(), source_of(scope)};
}

std::optional<FlagValue> usb_at(const PolicyState& state, const ScopeRef& scope, LocalMinute now) {
  auto schedules = active_at(state, scope, ScheduleKind::usb_lock, now);
  if (!schedules.empty()) {
    std::vector<FlagValue> values;
    for (const Schedule* s : schedules) values.push_back({true, {}, schedule_source(*s)});
    return merge_flags(std::move(values));
  }
  const ScopeSettings* settings = settings_at(state, scope);
  if (!settings || settings->usb_lock == Setting::UNKNOWN) return std::nullopt;
  return FlagValue{settings->usb_lock == Setting::ON, {}, source_of(scope)};
}

std::optional<WebValue> web_at(const PolicyState& state, const ScopeRef& scope, LocalMinute now) {
  auto schedules = active_at(state, scope, ScheduleKind::web, now);
  if (!schedules.empty()) {
    std::vector<WebValue> values;
    for (const Schedule* s : schedules) {
      values.push_back({s->web_mode, s->web_mode == WebMode::OFF ? DomainList() : s->domains,
                        schedule_source(*s)});
    }
    return merge_web(std::move(values));
  }
  const ScopeSettings* settings = settings_at(state, scope);
  if (!settings || settings->web_mode == WebMode::UNKNOWN) return std::nullopt;
  WebValue value{settings->web_mode, {}, source_of(scope)};
  if (settings->web_mode == WebMode::ALLOW_ONLY) value.domains = settings->allow_list;
  if (settings->web_mode == WebMode::BLOCK_ONLY) value.domains = settings->block_list;
  return value;
}

// Station, then the station's groups (merged), then new stations (if it is one), then all: the
// first level with a value.
template <typename Value, typename At, typename Merge>
std::optional<Value> decide(const PolicyState& state, const std::string& station_key,
                            const std::vector<std::string>& groups, bool new_station,
                            LocalMinute now, At at, Merge merge) {
  if (!station_key.empty()) {
    if (auto value = at(state, ScopeRef::station(station_key), now)) return value;
  }
  std::vector<Value> group_values;
  for (const auto& group : groups) {
    if (auto value = at(state, ScopeRef::group(group), now)) group_values.push_back(*value);
  }
  if (auto merged = merge(std::move(group_values))) return merged;
  if (new_station && !station_key.empty()) {
    if (auto value = at(state, ScopeRef::new_stations(), now)) return value;
  }
  return at(state, ScopeRef::all(), now);
}

Effective compute(const PolicyState& state, const std::string& station_key,
                  const std::vector<std::string>& groups, bool new_station, LocalMinute now) {
  Effective out;
  out.station_key = station_key;
  auto block =
      decide<FlagValue>(state, station_key, groups, new_station, now, block_at, merge_flags);
  if (block) {
    out.blocked = block->on;
    out.block_message = block->message;
    out.block_source = block->source;
  } else {
    out.block_source = "default";
  }
  auto usb = decide<FlagValue>(state, station_key, groups, new_station, now, usb_at, merge_flags);
  if (usb) {
    out.usb_locked = usb->on;
    out.usb_source = usb->source;
  } else {
    out.usb_source = "default";
  }
  auto web = decide<WebValue>(state, station_key, groups, new_station, now, web_at, merge_web);
  if (web) {
    out.web_mode = web->mode;
    out.domains = std::move(web->domains);
    out.web_source = web->source;
  } else {
    out.web_mode = WebMode::OFF;
    out.web_source = "default";
  }
  return out;
}

}  // namespace

LocalMinute local_minute(std::int64_t realtime_ns) {
  std::time_t seconds = static_cast<std::time_t>(realtime_ns / 1'000'000'000);
  if (realtime_ns < 0 && realtime_ns % 1'000'000'000 != 0) --seconds;
  std::tm local{};
  localtime_r(&seconds, &local);
  return LocalMinute{(local.tm_wday + 6) % 7, local.tm_hour * 60 + local.tm_min};
}

bool schedule_active(const Schedule& schedule, LocalMinute now) {
  if ((schedule.days & (1u << now.weekday)) == 0) return false;
  return now.minute >= schedule.start_minute && now.minute < schedule.end_minute;
}

Effective compute_effective(const PolicyState& state, const std::string& station_key,
                            LocalMinute now, bool new_station) {
  std::vector<std::string> groups;
  if (!station_key.empty()) {
    for (const auto& [name, members] : state.groups) {
      if (members.contains(station_key)) groups.push_back(name);
    }
  }
  return compute(state, station_key, groups, new_station, now);
}

std::set<std::string> stations_to_publish(const PolicyState& state,
                                          const std::set<std::string>& known) {
  std::set<std::string> stations = known;
  stations.insert("");
  for (const auto& [scope, settings] : state.scopes) {
    if (scope.kind == ScopeKind::station) stations.insert(scope.name);
  }
  for (const auto& [name, members] : state.groups) stations.insert(members.begin(), members.end());
  for (const auto& [id, schedule] : state.schedules) {
    if (schedule.scope.kind == ScopeKind::station) stations.insert(schedule.scope.name);
  }
  return stations;
}

std::map<std::string, Effective> compute_all(const PolicyState& state,
                                             const std::set<std::string>& stations, LocalMinute now,
                                             const std::set<std::string>& new_stations) {
  std::map<std::string, std::vector<std::string>> groups_of;  // groups in name order
  for (const auto& [name, members] : state.groups) {
    for (const auto& member : members) groups_of[member].push_back(name);
  }
  static const std::vector<std::string> kNoGroups;
  std::map<std::string, Effective> out;
  for (const auto& station : stations) {
    auto it = station.empty() ? groups_of.end() : groups_of.find(station);
    out.emplace(station, compute(state, station, it == groups_of.end() ? kNoGroups : it->second,
                                 new_stations.contains(station), now));
  }
  return out;
}

std::vector<Carried> restrictions_in_force(const Effective& origin_own, std::int64_t now_ns) {
  std::vector<Carried> out;
  if (origin_own.blocked) {
    out.push_back(Carried{.origin = origin_own.station_key,
                          .what = Restriction::block,
                          .block_message = origin_own.block_message,
                          .carried_at_ns = now_ns});
  }
  if (origin_own.web_mode == WebMode::ALLOW_ONLY || origin_own.web_mode == WebMode::BLOCK_ONLY) {
    out.push_back(Carried{.origin = origin_own.station_key,
                          .what = Restriction::web,
                          .web_mode = origin_own.web_mode,
                          .domains = origin_own.domains,
                          .carried_at_ns = now_ns});
  }
  if (origin_own.usb_locked) {
    out.push_back(Carried{
        .origin = origin_own.station_key, .what = Restriction::usb, .carried_at_ns = now_ns});
  }
  return out;
}

bool still_in_force(const Carried& carried, const Effective& origin_own) {
  switch (carried.what) {
    case Restriction::block:
      return origin_own.blocked;
    case Restriction::web:
      return origin_own.web_mode == WebMode::ALLOW_ONLY ||
             origin_own.web_mode == WebMode::BLOCK_ONLY;
    case Restriction::usb:
      return origin_own.usb_locked;
  }
  return false;
}

Effective with_carried(Effective own, const std::vector<const Carried*>& carried) {
  if (carried.empty()) return own;
  std::vector<FlagValue> blocks{{own.blocked, own.block_message, own.block_source}};
  std::vector<FlagValue> usbs{{own.usb_locked, {}, own.usb_source}};
  std::vector<WebValue> webs{{own.web_mode, own.domains, own.web_source}};
  for (const Carried* c : carried) {
    switch (c->what) {
      case Restriction::block:
        blocks.push_back({true, c->block_message, carried_source(*c)});
        break;
      case Restriction::web:
        webs.push_back({c->web_mode, c->domains, carried_source(*c)});
        break;
      case Restriction::usb:
        usbs.push_back({true, {}, carried_source(*c)});
        break;
    }
  }
  auto block = *merge_flags(std::move(blocks));
  own.blocked = block.on;
  own.block_message = block.message;
  own.block_source = block.source;
  auto usb = *merge_flags(std::move(usbs));
  own.usb_locked = usb.on;
  own.usb_source = usb.source;
  auto web = *merge_web(std::move(webs));
  own.web_mode = web.mode;
  own.domains = std::move(web.domains);
  own.web_source = web.source;
  return own;
}

}  // namespace mp::policy
