// From desired policy to effective policy per station. Pure: no clock, no store.
//
// Each attribute (block, web, USB) is decided on its own by the most specific scope that has a
// value: the station, else its groups, else "new stations" (only for a station mp-session says
// no administrator admitted), else all stations, else the default (unblocked, web off, USB
// unlocked; source "default"). At any one scope, an active schedule for the attribute
// overrides that scope's own setting. Where a station is in several groups (or several
// schedules at one scope are active) the most restrictive value wins: blocked beats unblocked,
// locked beats unlocked, allowOnly beats blockOnly beats off; equal web modes merge their lists
// (allow lists: intersection, so only what every group allows is allowed; block lists: union).
// Sources: "station", "group:NAME", "new-stations", "all", "schedule ID", "default"; merged ones
// are joined with "," ("group:a,group:b").
//
// Carried restrictions (policy_model.h Carried) come on top: a station's effective policy is
// the most restrictive of its own and what the sessions on it carry, merged like groups, with
// sources "carried from station:KEY".
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

// The effective policy of one station ("" = anyone in no station: all-stations scope only),
// without carried restrictions: the station's own. `new_station`: not admitted (the
// "new stations" scope applies).
Effective compute_effective(const PolicyState& state, const std::string& station_key,
                            LocalMinute now, bool new_station = false);

// Every station mp-policy publishes for: `known` plus every station that policy names
// (station scopes, group members, station-scoped schedules) plus "".
std::set<std::string> stations_to_publish(const PolicyState& state,
                                          const std::set<std::string>& known);

// The own effective policy of each of `stations`; those in `new_stations` are not admitted.
std::map<std::string, Effective> compute_all(const PolicyState& state,
                                             const std::set<std::string>& stations, LocalMinute now,
                                             const std::set<std::string>& new_stations = {});

// What a session leaving a station takes along: each attribute of the station's own effective
// policy that restricts (blocked; web allowOnly or blockOnly with its list; USB locked).
std::vector<Carried> restrictions_in_force(const Effective& origin_own, std::int64_t now_ns);

// Whether the origin's own effective policy still restricts what `carried` carries: blocked,
// web not off, USB locked. Once not, the carried restriction is lifted for good.
bool still_in_force(const Carried& carried, const Effective& origin_own);

// `own` made at least as restrictive as every carried restriction (the merge of groups).
Effective with_carried(Effective own, const std::vector<const Carried*>& carried);

}  // namespace mp::policy
