// What mpctl prints: rows built from bus replies, as an aligned table for people or as JSON for
// scripts. Pure, so it is tested without a bus.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "bus.capnp.h"
#include "session.capnp.h"
#include "supervisor.capnp.h"

namespace mp::mpctl {

struct ServiceRow {
  std::string service;
  std::uint32_t pid = 0;          // 0: no process
  std::uint64_t incarnation = 0;  // 0: not seen on the bus
  std::string state;
  std::optional<std::int64_t> uptime_s;   // running services only
  std::optional<std::uint32_t> restarts;  // unknown when only the bus answered
  std::string last_exit;
};

std::vector<ServiceRow> rows_from_status(mp::schema::StatusReport::Reader report,
                                         std::int64_t now_ns);
// The bus's own view, when no supervisor runs (e.g. services run as systemd units).
std::vector<ServiceRow> rows_from_bus_status(mp::schema::BusStatus::Reader status,
                                             std::int64_t now_ns);

std::string services_table(const std::vector<ServiceRow>& rows);
nlohmann::json services_json(const std::vector<ServiceRow>& rows);

std::string stations_table(mp::schema::StationList::Reader list);
nlohmann::json stations_json(mp::schema::StationList::Reader list);

std::string users_table(mp::schema::UserList::Reader list);
nlohmann::json users_json(mp::schema::UserList::Reader list);

// Columns padded to their widest cell, two spaces apart; the header first.
std::string render_table(const std::vector<std::string>& header,
                         const std::vector<std::vector<std::string>>& rows);
// 42 -> "42s", 312 -> "5m12s", 7380 -> "2h03m", 200000 -> "2d07h".
std::string format_uptime(std::int64_t seconds);
std::string hex16(std::uint64_t value);

std::string state_name(mp::schema::ServiceState state);
std::string role_name(mp::schema::Role role);
// "standard" -> Role::STANDARD; nullopt for anything else.
std::optional<mp::schema::Role> role_from_name(const std::string& name);
std::string station_state_name(mp::schema::StationState state);
std::string error_kind_name(mp::schema::Error::Kind kind);

}  // namespace mp::mpctl
