// Web limits and USB storage from the dashboard (DashboardServer's routes): for the selected
// stations or all, through mp-policy like a block. admit() has already checked the login and
// the CSRF token; here the bodies are checked, mp-policy judges the domains.
#include <httplib.h>
#include <spdlog/spdlog.h>

#include "dashboard_server.h"
#include "http_replies.h"

namespace mp::dashboard {

using nlohmann::json;

namespace {

// What fits in one request body (64 KiB); longer lists go through mpctl web ... --from-file.
constexpr std::size_t kMaxDomains = 2000;
constexpr std::size_t kMaxDomainChars = 253;

std::string selection_text(const Selection& selection) {
  return selection.all ? "all stations" : std::to_string(selection.stations.size()) + " station(s)";
}

}  // namespace

void DashboardServer::add_policy_routes() {
  using httplib::Request;
  using httplib::Response;
  server_->Post("/api/web", [this](const Request& req, Response& res) { web_limit(req, res); });
  server_->Post("/api/usb", [this](const Request& req, Response& res) { usb_lock(req, res); });
  server_->Get("/api/schedules", [this](const Request&, Response& res) {
    send_outcome(res, on_bus([](OperatorActions& actions, OperatorActions::Respond respond) {
                   actions.list_schedules(std::move(respond));
                 }));
  });
  server_->Post("/api/schedules/add",
                [this](const Request& req, Response& res) { add_schedule(req, res); });
  server_->Post("/api/schedules/remove",
                [this](const Request& req, Response& res) { remove_schedule(req, res); });
}

void DashboardServer::add_schedule(const httplib::Request& req, httplib::Response& res) {
  auto session = session_of(req);
  if (!session) return send_error(res, 401, "log in first");
  std::string error;
  auto body = parse_object(req.body, {"stations", "days", "from", "to", "label", "action"},
                           options_.limits, &error);
  if (!body) return send_error(res, 400, error);
  Selection selection;
  if (auto e = read_selection(*body, "stations", options_.limits, &selection); !e.empty()) {
    return send_error(res, 400, e);
  }
  ScheduleForm form;
  if (auto e = read_schedule_form(*body, &form); !e.empty()) return send_error(res, 400, e);
  spdlog::info("{} adds a {} schedule for {}", session->user, form.action,
               selection_text(selection));
  std::string user = session->user;
  send_outcome(res, on_bus([user, selection, form](OperatorActions& actions,
                                                   OperatorActions::Respond respond) {
                 actions.add_schedule(user, selection, form, std::move(respond));
               }));
}

void DashboardServer::remove_schedule(const httplib::Request& req, httplib::Response& res) {
  auto session = session_of(req);
  if (!session) return send_error(res, 401, "log in first");
  std::string error;
  auto body = parse_object(req.body, {"id"}, options_.limits, &error);
  if (!body) return send_error(res, 400, error);
  auto id = body->find("id");
  if (id == body->end() || !id->is_number_unsigned() || id->get<std::uint64_t>() == 0) {
    return send_error(res, 400, "'id' must be a schedule's id");
  }
  std::string user = session->user;
  std::uint64_t number = id->get<std::uint64_t>();
  spdlog::info("{} removes schedule {}", user, number);
  send_outcome(res,
               on_bus([user, number](OperatorActions& actions, OperatorActions::Respond respond) {
                 actions.remove_schedule(user, number, std::move(respond));
               }));
}

void DashboardServer::web_limit(const httplib::Request& req, httplib::Response& res) {
  auto session = session_of(req);
  if (!session) return send_error(res, 401, "log in first");
  std::string error;
  auto body = parse_object(req.body, {"stations", "mode", "domains"}, options_.limits, &error);
  if (!body) return send_error(res, 400, error);
  Selection selection;
  if (auto e = read_selection(*body, "stations", options_.limits, &selection); !e.empty()) {
    return send_error(res, 400, e);
  }
  std::string mode_text;
  if (auto e = read_text(*body, "mode", 16, true, &mode_text); !e.empty()) {
    return send_error(res, 400, e);
  }
  mp::schema::WebMode mode;
  if (mode_text == "off") {
    mode = mp::schema::WebMode::OFF;
  } else if (mode_text == "allow_only") {
    mode = mp::schema::WebMode::ALLOW_ONLY;
  } else if (mode_text == "block_only") {
    mode = mp::schema::WebMode::BLOCK_ONLY;
  } else if (mode_text == "inherit") {
    mode = mp::schema::WebMode::UNKNOWN;
  } else {
    return send_error(res, 400, "'mode' must be off, allow_only, block_only or inherit");
  }
  std::vector<std::string> domains;
  auto list = body->find("domains");
  bool with_list =
      mode == mp::schema::WebMode::ALLOW_ONLY || mode == mp::schema::WebMode::BLOCK_ONLY;
  if (list != body->end()) {
    if (!with_list) return send_error(res, 400, "'domains' only go with allow_only or block_only");
    if (!list->is_array() || list->size() > kMaxDomains) {
      return send_error(
          res, 400,
          "'domains' must be a list of at most " + std::to_string(kMaxDomains) + " names");
    }
    for (const auto& item : *list) {
      if (!item.is_string() || item.get<std::string>().empty() ||
          item.get<std::string>().size() > kMaxDomainChars) {
        return send_error(res, 400, "each domain must be a name of 1 to 253 characters");
      }
      domains.push_back(item.get<std::string>());
    }
  } else if (with_list) {
    return send_error(res, 400, "'domains' are needed for allow_only and block_only");
  }
  spdlog::info("{} sets web {} ({} domains) for {}", session->user, mode_text, domains.size(),
               selection_text(selection));
  std::string user = session->user;
  send_outcome(res, on_bus([user, selection, mode, domains](OperatorActions& actions,
                                                            OperatorActions::Respond respond) {
                 actions.set_web(user, selection, mode, domains, std::move(respond));
               }));
}

void DashboardServer::usb_lock(const httplib::Request& req, httplib::Response& res) {
  auto session = session_of(req);
  if (!session) return send_error(res, 401, "log in first");
  std::string error;
  auto body = parse_object(req.body, {"stations", "locked"}, options_.limits, &error);
  if (!body) return send_error(res, 400, error);
  Selection selection;
  if (auto e = read_selection(*body, "stations", options_.limits, &selection); !e.empty()) {
    return send_error(res, 400, e);
  }
  auto locked = body->find("locked");
  if (locked == body->end() || !locked->is_boolean()) {
    return send_error(res, 400, "'locked' must be true or false");
  }
  bool lock = locked->get<bool>();
  spdlog::info("{} {} USB storage for {}", session->user, lock ? "locks" : "unlocks",
               selection_text(selection));
  std::string user = session->user;
  send_outcome(res, on_bus([user, selection, lock](OperatorActions& actions,
                                                   OperatorActions::Respond respond) {
                 actions.set_usb_lock(user, selection, lock, std::move(respond));
               }));
}

}  // namespace mp::dashboard
