// Projection, disconnect, applications and power from the dashboard (DashboardServer's
// routes). admit() has already checked the login and the CSRF token (and the admin role for
// /api/manager/...); here the bodies are checked.
#include <httplib.h>
#include <spdlog/spdlog.h>

#include "dashboard_server.h"
#include "http_replies.h"

namespace mp::dashboard {

using nlohmann::json;

namespace {

constexpr std::size_t kMaxAppNameChars = 64;

}  // namespace

void DashboardServer::add_station_routes() {
  using httplib::Request;
  using httplib::Response;
  server_->Post("/api/project", [this](const Request& req, Response& res) { project(req, res); });
  server_->Post("/api/project/stop",
                [this](const Request& req, Response& res) { stations_command(req, res, "stop"); });
  server_->Post("/api/disconnect", [this](const Request& req, Response& res) {
    stations_command(req, res, "disconnect");
  });
  server_->Get("/api/apps", [this](const Request&, Response& res) {
    send_outcome(res, on_bus([](OperatorActions& actions, OperatorActions::Respond respond) {
                   actions.list_apps(std::move(respond));
                 }));
  });
  server_->Post("/api/apps/launch",
                [this](const Request& req, Response& res) { app_command(req, res, true); });
  server_->Post("/api/apps/close",
                [this](const Request& req, Response& res) { app_command(req, res, false); });
  server_->Post("/api/manager/server",
                [this](const Request& req, Response& res) { power(req, res); });
}

void DashboardServer::project(const httplib::Request& req, httplib::Response& res) {
  auto session = session_of(req);
  if (!session) return send_error(res, 401, "log in first");
  std::string error;
  auto body = parse_object(req.body, {"source", "stations"}, options_.limits, &error);
  if (!body) return send_error(res, 400, error);
  std::string source;
  if (auto e = read_text(*body, "source", 256, true, &source); !e.empty()) {
    return send_error(res, 400, e);
  }
  Selection selection;
  if (auto e = read_selection(*body, "stations", options_.limits, &selection); !e.empty()) {
    return send_error(res, 400, e);
  }
  spdlog::info("{} projects {} to {}", session->user, source,
               selection.all ? "all" : std::to_string(selection.stations.size()) + " station(s)");
  std::string user = session->user;
  send_outcome(res, on_bus([user, source, selection](OperatorActions& actions,
                                                     OperatorActions::Respond respond) {
                 actions.project(user, source, selection, std::move(respond));
               }));
}

void DashboardServer::stations_command(const httplib::Request& req, httplib::Response& res,
                                       const std::string& command) {
  auto session = session_of(req);
  if (!session) return send_error(res, 401, "log in first");
  std::string error;
  auto body = parse_object(req.body, {"stations"}, options_.limits, &error);
  if (!body) return send_error(res, 400, error);
  Selection selection;
  if (auto e = read_selection(*body, "stations", options_.limits, &selection); !e.empty()) {
    return send_error(res, 400, e);
  }
  spdlog::info("{}: {} for {}", session->user, command,
               selection.all ? "all" : std::to_string(selection.stations.size()) + " station(s)");
  std::string user = session->user;
  bool stop = command == "stop";
  send_outcome(res, on_bus([user, selection, stop](OperatorActions& actions,
                                                   OperatorActions::Respond respond) {
                 if (stop) {
                   actions.stop_projection(user, selection, std::move(respond));
                 } else {
                   actions.disconnect(user, selection, std::move(respond));
                 }
               }));
}

void DashboardServer::app_command(const httplib::Request& req, httplib::Response& res,
                                  bool launch) {
  auto session = session_of(req);
  if (!session) return send_error(res, 401, "log in first");
  std::string error;
  auto body = parse_object(req.body, {"app", "stations"}, options_.limits, &error);
  if (!body) return send_error(res, 400, error);
  std::string app;
  if (auto e = read_text(*body, "app", kMaxAppNameChars, true, &app); !e.empty()) {
    return send_error(res, 400, e);
  }
  Selection selection;
  if (auto e = read_selection(*body, "stations", options_.limits, &selection); !e.empty()) {
    return send_error(res, 400, e);
  }
  spdlog::info("{} {} {}", session->user, launch ? "launches" : "closes", app);
  std::string user = session->user;
  send_outcome(res, on_bus([user, app, launch, selection](OperatorActions& actions,
                                                          OperatorActions::Respond respond) {
                 actions.app(user, app, launch, selection, std::move(respond));
               }));
}

void DashboardServer::power(const httplib::Request& req, httplib::Response& res) {
  auto session = session_of(req);
  if (!session) return send_error(res, 401, "log in first");
  std::string error;
  auto body = parse_object(req.body, {"action", "confirm"}, options_.limits, &error);
  if (!body) return send_error(res, 400, error);
  std::string action;
  if (auto e = read_text(*body, "action", 16, true, &action); !e.empty()) {
    return send_error(res, 400, e);
  }
  if (action != "restart" && action != "shutdown") {
    return send_error(res, 400, "'action' must be restart or shutdown");
  }
  auto confirm = body->find("confirm");
  if (confirm == body->end() || !confirm->is_boolean() || !confirm->get<bool>()) {
    return send_error(res, 400, "every session on the server ends: send \"confirm\": true");
  }
  spdlog::warn("{} asks the server to {}", session->user, action);
  std::string user = session->user;
  bool restart = action == "restart";
  send_outcome(res,
               on_bus([user, restart](OperatorActions& actions, OperatorActions::Respond respond) {
                 actions.power(user, restart, std::move(respond));
               }));
}

}  // namespace mp::dashboard
