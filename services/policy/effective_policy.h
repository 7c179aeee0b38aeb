// From desired policy to effective policy per station. Pure: no clock, no store.
//
// Each attribute (block, web, USB) is decided on its own by the most specific scope that has a
// value: the station, else its groups, else all stations, else the default (unblocked, web off,
// USB unlocked; source "default"). At any one scope, an active schedule for the attribute
// overrides that scope's own setting. Where a station is in several groups (or several
// schedules at one scope are active) the most restrictive value wins: blocked beats unblocked,
// locked beats unlocked, allowOnly beats blockOnly beats off; equal web modes merge their lists
// (allow lists: intersection, so only what every group allows is allowed; block lists: union).
// Sources: "station", "group:NAME", "all", "schedule ID", "default"; merged ones are joined
// with "," ("group:a,group:b").
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>

#include "policy_model.h"

namespace mp::policy {

// A moment in local time, as schedules see it.
struct LocalMinute {
  int weekday = 0;  // 0 = Monday ... 6 = Sunday
  int minute = 0;   // 0..1439 after local midnight
};

// Local time (the process's TZ) of a CLOCK_REALTIME value.
LocalMinute local_minute(std::int64_t realtime_ns);

bool schedule_active(const Schedule& schedule, LocalMinute now);

// The effective policy of one station ("" = anyone in no station: all-stations scope only).
Effective compute_effective(const PolicyState& state, const std::string& station_key,
                            LocalMinute now);

// Every station mp-policy publishes for: `known` plus every station that policy names
// (station scopes, group members, station-scoped schedules) plus "".
std::set<std::string> stations_to_publish(const PolicyState& state,
                                          const std::set<std::string>& known);

std::map<std::string, Effective> compute_all(const PolicyState& state,
                                             const std::set<std::string>& stations,
                                             LocalMinute now);

}  // namespace mp::policy
