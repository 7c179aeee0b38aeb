// The screen routes of DashboardServer: thumbnails and live views (images the agents sent, from
// the ThumbnailStore, without a trip to the bus thread), and take control (the operator's mouse
// and keyboard from the page). admit() has already checked the login and, for POSTs, the CSRF
// token; the handlers check the bodies.
#include <httplib.h>
#include <spdlog/spdlog.h>

#include <cmath>
#include <set>

#include "dashboard_server.h"
#include "http_replies.h"
#include "mp/service/validation.h"

namespace mp::dashboard {

using nlohmann::json;

namespace {

constexpr std::size_t kMaxInputEvents = 64;
constexpr std::uint32_t kMaxKeysym = 0x1FFFFFFF;  // X keysyms are 29 bits
constexpr const char* kKeyPattern = R"(/api/stations/([A-Za-z0-9:._@/-]{1,128}))";

// One event of an /input body, checked; an error text, or empty.
std::string read_action(const json& event, InputAction* out) {
  if (!event.is_object()) return "each event must be an object";
  auto type = event.find("type");
  if (type == event.end() || !type->is_string()) return "each event needs a 'type'";
  auto number = [&](const char* field, double low, double high, double* value) -> std::string {
    auto it = event.find(field);
    if (it == event.end() || !it->is_number() || !std::isfinite(it->get<double>()) ||
        it->get<double>() < low || it->get<double>() > high) {
      return "'" + std::string(field) + "' must be a number from " + std::to_string(low) + " to " +
             std::to_string(high);
    }
    *value = it->get<double>();
    return "";
  };
  auto flag = [&](bool* value) -> std::string {
    auto it = event.find("down");
    if (it == event.end() || !it->is_boolean()) return "'down' must be true or false";
    *value = it->get<bool>();
    return "";
  };
  std::set<std::string> allowed;
  std::string e;
  if (*type == "move") {
    allowed = {"type", "x", "y"};
    double x = 0, y = 0;
    if (e = number("x", 0, 1, &x); e.empty()) e = number("y", 0, 1, &y);
    out->kind = InputAction::Kind::move;
    out->x = static_cast<std::uint16_t>(std::lround(x * 65535));
    out->y = static_cast<std::uint16_t>(std::lround(y * 65535));
  } else if (*type == "button") {
    allowed = {"type", "button", "down"};
    double button = 0;
    if (e = number("button", 1, 7, &button); e.empty()) e = flag(&out->down);
    if (e.empty() && button != std::floor(button)) e = "'button' must be a whole number";
    out->kind = InputAction::Kind::button;
    out->button = static_cast<std::uint8_t>(button);
  } else if (*type == "key") {
    allowed = {"type", "keysym", "down"};
    double keysym = 0;
    if (e = number("keysym", 1, kMaxKeysym, &keysym); e.empty()) e = flag(&out->down);
    if (e.empty() && keysym != std::floor(keysym)) e = "'keysym' must be a whole number";
    out->kind = InputAction::Kind::key;
    out->keysym = static_cast<std::uint32_t>(keysym);
  } else {
    return "'type' must be move, button or key";
  }
  if (!e.empty()) return e;
  for (const auto& [field, value] : event.items()) {
    if (!allowed.contains(field))
      return "unknown field '" + field + "' in a " + type->get<std::string>() + " event";
  }
  return "";
}

}  // namespace

void DashboardServer::set_screens(ScreenFeeds& feeds, const ThumbnailStore& store) {
  screens_ = &feeds;
  thumbnails_ = &store;
}

void DashboardServer::add_screen_routes() {
  using httplib::Request;
  using httplib::Response;
  server_->Get(std::string(kKeyPattern) + R"(/thumbnail\.jpg)",
               [this](const Request& req, Response& res) { thumbnail(req, res); });
  server_->Post(std::string(kKeyPattern) + "/live",
                [this](const Request& req, Response& res) { live_view(req, res); });
  server_->Post(std::string(kKeyPattern) + "/input",
                [this](const Request& req, Response& res) { remote_input(req, res); });
}

void DashboardServer::thumbnail(const httplib::Request& req, httplib::Response& res) {
  std::string key = req.matches[1];
  if (auto e = mp::service::check_station_key(key); !e.empty()) return send_error(res, 400, e);
  std::string stream_text = req.has_param("stream") ? req.get_param_value("stream") : "0";
  if (stream_text != "0" && stream_text != "1") {
    return send_error(res, 400, "'stream' must be 0 (thumbnail) or 1 (live view)");
  }
  if (thumbnails_ == nullptr) return send_error(res, 503, "this dashboard shows no screens");
  auto image = thumbnails_->get(key, stream_text == "1" ? 1 : 0);
  if (!image) {
    return send_error(res, 404, "no picture of " + key + " yet (no session, or it just started)");
  }
  res.set_header("X-Captured-At-Ns", std::to_string(image->captured_at_ns));
  res.set_content(std::move(image->jpeg), "image/jpeg");
}

void DashboardServer::live_view(const httplib::Request& req, httplib::Response& res) {
  auto session = session_of(req);
  if (!session) return send_error(res, 401, "log in first");
  std::string key = req.matches[1];
  if (auto e = mp::service::check_station_key(key); !e.empty()) return send_error(res, 400, e);
  std::string error;
  auto body = parse_object(req.body, {"on"}, options_.limits, &error);
  if (!body) return send_error(res, 400, error);
  auto on = body->find("on");
  if (on == body->end() || !on->is_boolean())
    return send_error(res, 400, "'on' must be true or false");
  if (screens_ == nullptr) return send_error(res, 503, "this dashboard shows no screens");
  std::string user = session->user;
  bool wanted = on->get<bool>();
  send_outcome(res,
               on_screens([user, key, wanted](ScreenFeeds& feeds, ScreenFeeds::Respond respond) {
                 feeds.live(user, key, wanted, std::move(respond));
               }));
}

void DashboardServer::remote_input(const httplib::Request& req, httplib::Response& res) {
  auto session = session_of(req);
  if (!session) return send_error(res, 401, "log in first");
  std::string key = req.matches[1];
  if (auto e = mp::service::check_station_key(key); !e.empty()) return send_error(res, 400, e);
  std::string error;
  auto body = parse_object(req.body, {"events"}, options_.limits, &error);
  if (!body) return send_error(res, 400, error);
  auto events = body->find("events");
  if (events == body->end() || !events->is_array() || events->empty() ||
      events->size() > kMaxInputEvents) {
    return send_error(
        res, 400, "'events' must be a list of 1 to " + std::to_string(kMaxInputEvents) + " events");
  }
  std::vector<InputAction> actions(events->size());
  for (std::size_t i = 0; i < events->size(); ++i) {
    if (auto e = read_action((*events)[i], &actions[i]); !e.empty()) {
      return send_error(res, 400, "event " + std::to_string(i) + ": " + e);
    }
  }
  if (screens_ == nullptr) return send_error(res, 503, "this dashboard shows no screens");
  std::string user = session->user;
  send_outcome(res, on_screens([user, key, actions = std::move(actions)](
                                   ScreenFeeds& feeds, ScreenFeeds::Respond respond) mutable {
                 feeds.input(user, key, std::move(actions), std::move(respond));
               }));
}

}  // namespace mp::dashboard
