#include "tables.h"

#include <algorithm>
#include <cstdio>

namespace mp::mpctl {

using nlohmann::json;

namespace {

std::optional<std::int64_t> seconds_since(std::int64_t then_ns, std::int64_t now_ns) {
  if (then_ns <= 0) return std::nullopt;
  return std::max<std::int64_t>(0, (now_ns - then_ns) / 1'000'000'000);
}

}  // namespace

std::vector<ServiceRow> rows_from_status(mp::schema::StatusReport::Reader report,
                                         std::int64_t now_ns) {
  std::vector<ServiceRow> rows;
  for (auto service : report.getServices()) {
    ServiceRow row;
    row.service = service.getName();
    row.pid = service.getPid();
    row.incarnation = service.getIncarnation();
    row.state = state_name(service.getState());
    if (row.pid != 0) row.uptime_s = seconds_since(service.getStartedAtNs(), now_ns);
    row.restarts = service.getRestarts();
    row.last_exit = service.getLastExit();
    rows.push_back(std::move(row));
  }
  return rows;
}

std::vector<ServiceRow> rows_from_bus_status(mp::schema::BusStatus::Reader status,
                                             std::int64_t now_ns) {
  std::vector<ServiceRow> rows;
  ServiceRow bus;
  bus.service = "bus";
  bus.incarnation = status.getIncarnation();
  bus.state = "running";
  bus.uptime_s = seconds_since(status.getStartedAtNs(), now_ns);
  rows.push_back(std::move(bus));
  for (auto entry : status.getServices()) {
    ServiceRow row;
    row.service = entry.getName();
    row.pid = entry.getPid();
    row.incarnation = entry.getIncarnation();
    row.state = "running";
    row.uptime_s = seconds_since(entry.getRegisteredAtNs(), now_ns);
    rows.push_back(std::move(row));
  }
  return rows;
}

std::string services_table(const std::vector<ServiceRow>& rows) {
  std::vector<std::vector<std::string>> cells;
  for (const ServiceRow& row : rows) {
    cells.push_back({row.service, row.pid ? std::to_string(row.pid) : "-",
                     row.incarnation ? hex16(row.incarnation) : "-", row.state,
                     row.uptime_s ? format_uptime(*row.uptime_s) : "-",
                     row.restarts ? std::to_string(*row.restarts) : "-"});
  }
  return render_table({"SERVICE", "PID", "INCARNATION", "STATE", "UPTIME", "RESTARTS"}, cells);
}

json services_json(const std::vector<ServiceRow>& rows) {
  json out = json::array();
  for (const ServiceRow& row : rows) {
    json entry = {{"service", row.service}};
    entry["pid"] = row.pid ? json(row.pid) : json(nullptr);
    // Hex text: a 64-bit id does not survive JSON numbers (doubles) in most readers.
    entry["incarnation"] = row.incarnation ? json(hex16(row.incarnation)) : json(nullptr);
    entry["state"] = row.state;
    entry["uptime_s"] = row.uptime_s ? json(*row.uptime_s) : json(nullptr);
    entry["restarts"] = row.restarts ? json(*row.restarts) : json(nullptr);
    if (!row.last_exit.empty()) entry["last_exit"] = row.last_exit;
    out.push_back(std::move(entry));
  }
  return out;
}

std::string stations_table(mp::schema::StationList::Reader list) {
  std::vector<std::vector<std::string>> cells;
  for (auto station : list.getStations()) {
    std::string address = station.getAddress();
    cells.push_back({station.getKey(), station.getName(), station.getTransport(),
                     station_state_name(station.getState()), address.empty() ? "-" : address});
  }
  return render_table({"KEY", "NAME", "TRANSPORT", "STATE", "ADDRESS"}, cells);
}

json stations_json(mp::schema::StationList::Reader list) {
  json out = json::array();
  for (auto station : list.getStations()) {
    out.push_back({{"key", station.getKey().cStr()},
                   {"name", station.getName().cStr()},
                   {"transport", station.getTransport().cStr()},
                   {"state", station_state_name(station.getState())},
                   {"address", station.getAddress().cStr()},
                   {"client_name", station.getClientName().cStr()},
                   {"session_id", station.getSessionId()}});
  }
  return out;
}

std::string users_table(mp::schema::UserList::Reader list) {
  std::vector<std::vector<std::string>> cells;
  for (auto user : list.getUsers()) cells.push_back({user.getName(), role_name(user.getRole())});
  return render_table({"NAME", "ROLE"}, cells);
}

json users_json(mp::schema::UserList::Reader list) {
  json out = json::array();
  for (auto user : list.getUsers()) {
    out.push_back({{"name", user.getName().cStr()},
                   {"role", role_name(user.getRole())},
                   {"created_at_ns", user.getCreatedAtNs()}});
  }
  return out;
}

std::string render_table(const std::vector<std::string>& header,
                         const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths(header.size());
  for (std::size_t i = 0; i < header.size(); ++i) widths[i] = header[i].size();
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    std::string text;
    for (std::size_t i = 0; i < widths.size(); ++i) {
      const std::string cell = i < cells.size() ? cells[i] : "";
      text += cell;
      if (i + 1 < widths.size()) text += std::string(widths[i] - cell.size() + 2, ' ');
    }
    out += text + "\n";
  };
  line(header);
  for (const auto& row : rows) line(row);
  return out;
}

std::string format_uptime(std::int64_t seconds) {
  char text[32];
  if (seconds < 60) {
    std::snprintf(text, sizeof text, "%llds", static_cast<long long>(seconds));
  } else if (seconds < 3600) {
    std::snprintf(text, sizeof text, "%lldm%02llds", static_cast<long long>(seconds / 60),
                  static_cast<long long>(seconds % 60));
  } else if (seconds < 86400) {
    std::snprintf(text, sizeof text, "%lldh%02lldm", static_cast<long long>(seconds / 3600),
                  static_cast<long long>(seconds % 3600 / 60));
  } else {
    std::snprintf(text, sizeof text, "%lldd%02lldh", static_cast<long long>(seconds / 86400),
                  static_cast<long long>(seconds % 86400 / 3600));
  }
  return text;
}

std::string hex16(std::uint64_t value) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(value));
  return text;
}

std::string state_name(mp::schema::ServiceState state) {
  using mp::schema::ServiceState;
  switch (state) {
    case ServiceState::STARTING:
      return "starting";
    case ServiceState::RUNNING:
      return "running";
    case ServiceState::BACKOFF:
      return "backoff";
    case ServiceState::STOPPED:
      return "stopped";
    case ServiceState::FAILED:
      return "failed";
    default:
      return "unknown";
  }
}

std::string role_name(mp::schema::Role role) {
  using mp::schema::Role;
  switch (role) {
    case Role::STANDARD:
      return "standard";
    case Role::ADMIN:
      return "admin";
    case Role::DASHBOARD:
      return "dashboard";
    default:
      return "unknown";
  }
}

std::optional<mp::schema::Role> role_from_name(const std::string& name) {
  using mp::schema::Role;
  if (name == "standard") return Role::STANDARD;
  if (name == "admin") return Role::ADMIN;
  if (name == "dashboard") return Role::DASHBOARD;
  return std::nullopt;
}

std::string station_state_name(mp::schema::StationState state) {
  using mp::schema::StationState;
  switch (state) {
    case StationState::ATTACHED:
      return "attached";
    case StationState::DETACHED:
      return "detached";
    default:
      return "unknown";
  }
}

std::string error_kind_name(mp::schema::Error::Kind kind) {
  using Kind = mp::schema::Error::Kind;
  switch (kind) {
    case Kind::FAILED:
      return "failed";
    case Kind::OVERLOADED:
      return "overloaded";
    case Kind::UNAVAILABLE:
      return "unavailable";
    case Kind::UNIMPLEMENTED:
      return "unimplemented";
    case Kind::DENIED:
      return "denied";
    case Kind::INVALID:
      return "invalid";
    default:
      return "error";
  }
}

}  // namespace mp::mpctl
