// The Manager's routes of DashboardServer: accounts, station names, services and the audit log.
// admit() has already checked the login, the role (admin) and, for POSTs, the CSRF token; the
// handlers check the bodies and pass the rest to ManagerActions on the bus thread.
#include <httplib.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <cstdint>

#include "dashboard_server.h"
#include "http_replies.h"
#include "mp/service/validation.h"

namespace mp::dashboard {

using nlohmann::json;

namespace {

constexpr std::size_t kMaxUserNameChars = 64;
constexpr std::size_t kMaxPasswordBytes = 1024;
constexpr std::size_t kMaxStationNameChars = 128;
constexpr std::size_t kMaxServiceNameBytes = 32;
constexpr std::uint32_t kMaxAuditLimit = 1000;  // mp-policy's own cap

std::string check_role(const std::string& role) {
  if (role == "standard" || role == "admin" || role == "dashboard") return {};
  return "'role' must be standard, admin or dashboard";
}

struct AccountFields {
  std::string name, role, password;
};

// Name, role and password of an account body; role and password may be optional (modify).
// An error text, or empty. mp-session judges the name and the password's strength; here only
// sizes and the role, so nothing huge or unknown crosses the bus.
std::string read_account(const json& body, bool role_required, bool password_required,
                         AccountFields* out) {
  if (auto e = read_text(body, "name", kMaxUserNameChars, true, &out->name); !e.empty()) return e;
  if (auto e = read_text(body, "role", 16, role_required, &out->role); !e.empty()) return e;
  if (!out->role.empty() || role_required) {
    if (auto e = check_role(out->role); !e.empty()) return e;
  }
  return read_text(body, "password", kMaxPasswordBytes, password_required, &out->password);
}

// A supervised program's name: what mp-supervisor's configuration can hold.
std::string check_service_name(const std::string& name) {
  bool fine = !name.empty() && name.size() <= kMaxServiceNameBytes;
  for (char c : name) {
    fine = fine && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_');
  }
  return fine ? "" : "'service' must be 1 to 32 of a-z 0-9 - _";
}

// A query parameter as a number in [low, high]; `fallback` when absent.
template <class T>
std::string read_number(const httplib::Request& req, const char* name, T low, T high, T fallback,
                        T* out) {
  *out = fallback;
  if (!req.has_param(name)) return {};
  std::string value = req.get_param_value(name);
  T number{};
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
  if (ec != std::errc() || end != value.data() + value.size() || number < low || number > high) {
    return "'" + std::string(name) + "' must be a number from " + std::to_string(low) + " to " +
           std::to_string(high);
  }
  *out = number;
  return {};
}

}  // namespace

void DashboardServer::add_manager_routes() {
  using httplib::Request;
  using httplib::Response;
  server_->Get("/manager",
               [this](const Request& req, Response& res) { page(req, res, "manager.html"); });
  server_->Get("/api/manager/users", [this](const Request&, Response& res) {
    send_outcome(res, on_bus([](OperatorActions& actions, OperatorActions::Respond respond) {
                   respond(actions.users());
                 }));
  });
  server_->Post("/api/manager/users/add",
                [this](const Request& req, Response& res) { add_user(req, res); });
  server_->Post("/api/manager/users/remove",
                [this](const Request& req, Response& res) { remove_user(req, res); });
  server_->Post("/api/manager/users/modify",
                [this](const Request& req, Response& res) { modify_user(req, res); });
  // Transport and address are in the dashboard's own station view.
  server_->Get("/api/manager/stations", [this](const Request&, Response& res) {
    send_outcome(res, on_bus([](OperatorActions& actions, OperatorActions::Respond respond) {
                   respond(actions.stations());
                 }));
  });
  server_->Post("/api/manager/stations/rename",
                [this](const Request& req, Response& res) { rename_station(req, res); });
  server_->Get("/api/manager/services",
               [this](const Request& req, Response& res) { list_services(req, res); });
  server_->Post("/api/manager/services/restart",
                [this](const Request& req, Response& res) { restart_service(req, res); });
  server_->Get("/api/manager/audit",
               [this](const Request& req, Response& res) { audit(req, res); });
}

void DashboardServer::add_user(const httplib::Request& req, httplib::Response& res) {
  auto session = session_of(req);
  if (!session) return send_error(res, 401, "log in first");
  std::string error;
  auto body = parse_object(req.body, {"name", "role", "password"}, options_.limits, &error);
  if (!body) return send_error(res, 400, error);
  AccountFields account;
  if (auto e = read_account(*body, true, true, &account); !e.empty()) {
    return send_error(res, 400, e);
  }
  const std::string &name = account.name, &role = account.role, &password = account.password;
  spdlog::info("{} adds the account {} ({})", session->user, name, role);
  std::string user = session->user;
  send_outcome(res, on_manager_bus([user, name, role, password](ManagerActions& manager,
                                                                ManagerActions::Respond respond) {
                 manager.add_user(user, name, role, password, std::move(respond));
               }));
}

void DashboardServer::remove_user(const httplib::Request& req, httplib::Response& res) {
  auto session = session_of(req);
  if (!session) return send_error(res, 401, "log in first");
  std::string error;
  auto body = parse_object(req.body, {"name"}, options_.limits, &error);
  if (!body) return send_error(res, 400, error);
  std::string name;
  if (auto e = read_text(*body, "name", kMaxUserNameChars, true, &name); !e.empty()) {
    return send_error(res, 400, e);
  }
  // Removing the account one is logged in with would lock the last admin out too easily.
  if (name == session->user) {
    return send_error(res, 400, "you cannot remove the account you are logged in with");
  }
  spdlog::info("{} removes the account {}", session->user, name);
  std::string user = session->user;
  send_outcome(
      res, on_manager_bus([user, name](ManagerActions& manager, ManagerActions::Respond respond) {
        manager.remove_user(user, name, std::move(respond));
      }));
}

void DashboardServer::modify_user(const httplib::Request& req, httplib::Response& res) {
  auto session = session_of(req);
  if (!session) return send_error(res, 401, "log in first");
  std::string error;
  auto body = parse_object(req.body, {"name", "role", "password"}, options_.limits, &error);
  if (!body) return send_error(res, 400, error);
  AccountFields account;
  if (auto e = read_account(*body, false, false, &account); !e.empty()) {
    return send_error(res, 400, e);
  }
  const std::string &name = account.name, &role = account.role, &password = account.password;
  if (role.empty() && password.empty()) return send_error(res, 400, "give a role or a password");
  // Demoting oneself would take the Manager away in the middle of using it.
  if (name == session->user && !role.empty() && role != "admin") {
    return send_error(res, 400, "you cannot take the admin role from the account you use");
  }
  spdlog::info("{} changes the account {}{}{}", session->user, name,
               role.empty() ? "" : ": role " + role, password.empty() ? "" : ": new password");
  std::string user = session->user;
  send_outcome(res, on_manager_bus([user, name, role, password](ManagerActions& manager,
                                                                ManagerActions::Respond respond) {
                 manager.modify_user(user, name, role, password, std::move(respond));
               }));
}

void DashboardServer::rename_station(const httplib::Request& req, httplib::Response& res) {
  auto session = session_of(req);
  if (!session) return send_error(res, 401, "log in first");
  std::string error;
  auto body = parse_object(req.body, {"key", "name"}, options_.limits, &error);
  if (!body) return send_error(res, 400, error);
  std::string key, name;
  if (auto e = read_text(*body, "key", 128, true, &key); !e.empty()) {
    return send_error(res, 400, e);
  }
  if (auto e = mp::service::check_station_key(key); !e.empty()) return send_error(res, 400, e);
  if (auto e = read_text(*body, "name", kMaxStationNameChars, true, &name); !e.empty()) {
    return send_error(res, 400, e);
  }
  spdlog::info("{} renames station {} to '{}'", session->user, key, name);
  std::string user = session->user;
  send_outcome(res, on_manager_bus([user, key, name](ManagerActions& manager,
                                                     ManagerActions::Respond respond) {
                 manager.rename_station(user, key, name, std::move(respond));
               }));
}

void DashboardServer::list_services(const httplib::Request& req, httplib::Response& res) {
  auto session = session_of(req);
  if (!session) return send_error(res, 401, "log in first");
  std::string user = session->user;
  send_outcome(res,
               on_manager_bus([user](ManagerActions& manager, ManagerActions::Respond respond) {
                 manager.services(user, std::move(respond));
               }));
}

void DashboardServer::restart_service(const httplib::Request& req, httplib::Response& res) {
  auto session = session_of(req);
  if (!session) return send_error(res, 401, "log in first");
  std::string error;
  auto body = parse_object(req.body, {"service"}, options_.limits, &error);
  if (!body) return send_error(res, 400, error);
  std::string service;
  if (auto e = read_text(*body, "service", kMaxServiceNameBytes, true, &service); !e.empty()) {
    return send_error(res, 400, e);
  }
  if (auto e = check_service_name(service); !e.empty()) return send_error(res, 400, e);
  spdlog::warn("{} restarts the service {}", session->user, service);
  std::string user = session->user;
  send_outcome(res, on_manager_bus(
                        [user, service](ManagerActions& manager, ManagerActions::Respond respond) {
                          manager.restart_service(user, service, std::move(respond));
                        }));
}

void DashboardServer::audit(const httplib::Request& req, httplib::Response& res) {
  auto session = session_of(req);
  if (!session) return send_error(res, 401, "log in first");
  std::uint32_t limit = 0;
  if (auto e = read_number<std::uint32_t>(req, "limit", 1, kMaxAuditLimit, 100, &limit);
      !e.empty()) {
    return send_error(res, 400, e);
  }
  std::int64_t since_ns = 0;
  if (auto e = read_number<std::int64_t>(req, "since_ns", 0, INT64_MAX, 0, &since_ns); !e.empty()) {
    return send_error(res, 400, e);
  }
  std::string user = session->user;
  send_outcome(res, on_manager_bus([user, limit, since_ns](ManagerActions& manager,
                                                           ManagerActions::Respond respond) {
                 manager.audit(user, limit, since_ns, std::move(respond));
               }));
}

}  // namespace mp::dashboard
