// What the policy commands print: tables for people, JSON for scripts. Pure, so it is tested
// without a bus.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "policy.capnp.h"

namespace mp::mpctl {

// "all", "group:lab-a", "station:rdp:lab-1".
std::string scope_name(mp::schema::Scope::Reader scope);
// "off", "allowOnly", "blockOnly", "inherit".
std::string web_mode_name(mp::schema::WebMode mode);
// "09:00-12:00 mon-fri: web blockOnly (3 domains)".
std::string schedule_summary(mp::schema::Schedule::Reader schedule);

// policy show: effective policy per station, then what is set per scope, groups, schedules.
std::string report_text(mp::schema::PolicyReport::Reader report);
// A whole shared list by key (DomainListFetch); empty if it cannot be had.
using ListLookup = std::function<std::vector<std::string>(const std::string& key)>;
// JSON has every list whole: the report names long lists by key, `lists` fetches them.
nlohmann::json report_json(mp::schema::PolicyReport::Reader report, const ListLookup& lists);

// web show: effective web policy per station and the lists per scope (long lists shortened;
// JSON has them whole).
std::string web_text(mp::schema::PolicyReport::Reader report);
nlohmann::json web_json(mp::schema::PolicyReport::Reader report, const ListLookup& lists);

std::string schedules_table(capnp::List<mp::schema::Schedule>::Reader schedules);
nlohmann::json schedules_json(capnp::List<mp::schema::Schedule>::Reader schedules);

std::string groups_table(capnp::List<mp::schema::Group>::Reader groups);
nlohmann::json groups_json(capnp::List<mp::schema::Group>::Reader groups);

std::string audit_table(mp::schema::AuditLog::Reader log);
nlohmann::json audit_json(mp::schema::AuditLog::Reader log);

// Local time "2024-01-08 09:00:05".
std::string local_time_name(std::int64_t realtime_ns);

}  // namespace mp::mpctl
