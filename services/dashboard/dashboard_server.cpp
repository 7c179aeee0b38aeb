#include "dashboard_server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <cstdint>
#include <set>

#include "http_replies.h"
#include "random_token.h"
#include "web_assets.h"

namespace mp::dashboard {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kCookie = "mp_session";
constexpr const char* kCsrfHeader = "X-CSRF-Token";
constexpr std::size_t kMaxUserBytes = 64;
constexpr std::size_t kMaxPasswordBytes = 1024;
// How long a handler waits beyond the bus deadline before it gives up on the bus thread itself.
constexpr auto kBridgeMargin = std::chrono::milliseconds(1000);

// Files anyone may fetch: what the login page needs.
const std::set<std::string, std::less<>> kPublicAssets = {"login.js", "style.css", "favicon.svg"};

void send(httplib::Response& res, const Outcome& outcome) { send_outcome(res, outcome); }

bool has_body_method(const std::string& method) {
  return method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE";
}

// The value of cookie `name` in the request's Cookie headers; empty if absent.
std::string cookie_value(const httplib::Request& req, std::string_view name) {
  std::size_t count = req.get_header_value_count("Cookie");
  for (std::size_t n = 0; n < count; ++n) {
    const std::string value = req.get_header_value("Cookie", n);
    std::string_view header = value;
    while (!header.empty()) {
      std::size_t end = header.find(';');
      std::string_view pair = header.substr(0, end);
      header = end == std::string_view::npos ? std::string_view() : header.substr(end + 1);
      while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
      std::size_t equals = pair.find('=');
      if (equals != std::string_view::npos && pair.substr(0, equals) == name) {
        return std::string(pair.substr(equals + 1));
      }
    }
  }
  return {};
}

std::string session_cookie(const std::string& id, bool expire) {
  // No Max-Age: the cookie ends with the browser; the server ends the session earlier.
  std::string cookie = std::string(kCookie) + "=" + id + "; Path=/; HttpOnly; SameSite=Strict";
  if (expire) cookie += "; Max-Age=0";
  return cookie;
}

// Cross-site forms cannot send JSON, and SameSite=Strict keeps the cookie home; a browser's
// Origin header that names another site is refused on top, for every mutating call.
bool same_origin(const httplib::Request& req) {
  if (!req.has_header("Origin")) return true;
  std::string origin = req.get_header_value("Origin");
  std::string host = req.get_header_value("Host");
  return !host.empty() && (origin == "http://" + host || origin == "https://" + host);
}

json session_json(const LoginSession& session) {
  return json{{"user", session.user}, {"role", session.role}, {"csrf_token", session.csrf_token}};
}

// For errors httplib answers by itself (no route, malformed request, ...).
std::string status_text(int status) {
  switch (status) {
    case 400:
      return "malformed request";
    case 404:
      return "no such resource";
    case 405:
      return "method not allowed";
    case 413:
      return "the request is too large";
    case 414:
      return "the URI is too long";
    case 416:
      return "range not satisfiable";
    default:
      return "HTTP error " + std::to_string(status);
  }
}

const char* bridge_error_text(BridgeError error) {
  switch (error) {
    case BridgeError::busy:
      return "the dashboard is overloaded; try again";
    case BridgeError::timed_out:
      return "the dashboard's bus connection did not answer in time";
    case BridgeError::closed:
      return "the dashboard is shutting down";
    default:
      return "the request failed inside the dashboard";
  }
}

int bridge_error_status(BridgeError error) {
  return error == BridgeError::timed_out ? 504 : error == BridgeError::failed ? 500 : 503;
}

// The seconds in mp-session's "... try again in N s" (60 when it does not say).
long long retry_after_in(const std::string& reason) {
  constexpr std::string_view kMarker = "try again in ";
  std::size_t at = reason.find(kMarker);
  long long seconds = 0;
  if (at != std::string::npos) {
    const char* begin = reason.data() + at + kMarker.size();
    auto [end, ec] = std::from_chars(begin, reason.data() + reason.size(), seconds);
    if (ec != std::errc() || end == begin) seconds = 0;
  }
  return seconds > 0 ? seconds : 60;
}

// The Manager's page and API: role admin only.
bool is_manager_path(const std::string& path) {
  return path == "/manager" || path.rfind("/api/manager/", 0) == 0;
}

}  // namespace

bool parse_listen_address(const std::string& text, std::string* host, int* port,
                          std::string* error) {
  std::size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    *error = "--listen wants ADDRESS:PORT, e.g. 127.0.0.1:8080";
    return false;
  }
  std::string address = text.substr(0, colon);
  if (address.front() == '[') {
    if (address.back() != ']' || address.size() < 3) {
      *error = "--listen: an IPv6 address goes in brackets, e.g. [::1]:8080";
      return false;
    }
    address = address.substr(1, address.size() - 2);
  }
  std::string digits = text.substr(colon + 1);
  int value = -1;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc() || end != digits.data() + digits.size() || value < 0 || value > 65535) {
    *error = "--listen: '" + digits + "' is not a port (0 to 65535)";
    return false;
  }
  *host = address;
  *port = value;
  return true;
}

DashboardServer::DashboardServer(ServerOptions options, BusBridge& bridge, OperatorActions& actions,
                                 ManagerActions& manager, LoginSessions& sessions,
                                 mp::service::LogonThrottle& throttle, LoginGuard& guard,
                                 EventBroadcaster& events)
    : options_(std::move(options)),
      bridge_(bridge),
      actions_(actions),
      manager_(manager),
      sessions_(sessions),
      throttle_(throttle),
      guard_(guard),
      events_(events),
      server_(std::make_unique<httplib::Server>()) {
  std::size_t threads = options_.threads;
  server_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server_->set_payload_max_length(options_.max_body_bytes);
  // Short: an idle browser connection holds a worker thread while it waits.
  server_->set_keep_alive_timeout(2);
  server_->set_read_timeout(10);
  server_->set_write_timeout(10);
  server_->set_tcp_nodelay(true);
  server_->set_default_headers({
      {"Cache-Control", "no-store"},
      {"X-Content-Type-Options", "nosniff"},
      {"X-Frame-Options", "DENY"},
      {"Referrer-Policy", "no-referrer"},
      {"Content-Security-Policy",
       "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"},
  });
  server_->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    return admit(req, res) ? httplib::Server::HandlerResponse::Unhandled
                           : httplib::Server::HandlerResponse::Handled;
  });
  server_->set_error_handler(
      httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        send_error(res, res.status, status_text(res.status));
        return httplib::Server::HandlerResponse::Handled;
      }));
  server_->set_exception_handler(
      [](const httplib::Request& req, httplib::Response& res, std::exception_ptr error) {
        std::string what = "unknown";
        try {
          std::rethrow_exception(error);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        spdlog::error("{} {} failed: {}", req.method, req.path, what);
        send_error(res, 500, "the request failed inside the dashboard");
      });
  server_->set_logger([](const httplib::Request& req, const httplib::Response& res) {
    spdlog::debug("{} {} {} from {}", req.method, req.path, res.status, req.remote_addr);
  });
  add_routes();
}

DashboardServer::~DashboardServer() { stop(); }

bool DashboardServer::bind() {
  if (options_.port == 0) {
    port_ = server_->bind_to_any_port(options_.host);
    return port_ > 0;
  }
  if (!server_->bind_to_port(options_.host, options_.port)) return false;
  port_ = options_.port;
  return true;
}

void DashboardServer::start() {
  thread_ = std::thread([this] {
    if (!server_->listen_after_bind()) spdlog::error("the HTTP listener stopped with an error");
    listening_done_ = true;
  });
}

void DashboardServer::stop() {
  if (!thread_.joinable()) return;
  // stop() does nothing before the listener runs: wait for it to start (or to have failed).
  while (!server_->is_running() && !listening_done_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  // Listener first, so a stream that ends below does not wait for another request on its
  // connection; then the streams, so their threads are free to be joined.
  server_->stop();
  events_.close();
  thread_.join();
}

// The gate -----------------------------------------------------------------------------------

bool DashboardServer::admit(const httplib::Request& req, httplib::Response& res) {
  bool mutating = has_body_method(req.method);
  if (mutating) {
    // httplib bounds only bodies with a Content-Length: chunked or compressed ones are refused
    // before a byte of them is read.
    if (req.has_header("Transfer-Encoding")) {
      send_error(res, 411, "send the body with a Content-Length, not chunked");
      res.set_header("Connection", "close");
      return false;
    }
    std::string encoding = req.get_header_value("Content-Encoding");
    if (!encoding.empty() && encoding != "identity") {
      send_error(res, 415, "compressed request bodies are not accepted");
      res.set_header("Connection", "close");
      return false;
    }
    if (!req.has_header("Content-Length")) {
      send_error(res, 411, "a Content-Length is required");
      res.set_header("Connection", "close");
      return false;
    }
    std::string length_text = req.get_header_value("Content-Length");
    std::size_t length = 0;
    auto [end, ec] =
        std::from_chars(length_text.data(), length_text.data() + length_text.size(), length);
    if (ec == std::errc::result_out_of_range) {
      length = SIZE_MAX;
    } else if (ec != std::errc() || end != length_text.data() + length_text.size()) {
      send_error(res, 400, "the Content-Length is not a number");
      res.set_header("Connection", "close");
      return false;
    }
    if (length > options_.max_body_bytes) {
      send_error(res, 413,
                 "the body is larger than " + std::to_string(options_.max_body_bytes) + " bytes");
      // Its bytes are still on the way: this connection cannot carry another request.
      res.set_header("Connection", "close");
      return false;
    }
    if (length > 0 && req.get_header_value("Content-Type").rfind("application/json", 0) != 0) {
      send_error(res, 415, "the body must be application/json");
      return false;
    }
    if (!same_origin(req)) {
      send_error(res, 403, "a request from another site was refused");
      return false;
    }
  }

  const bool api = req.path.rfind("/api/", 0) == 0;
  if (req.method == "POST" && req.path == "/api/login") return true;
  if (req.method == "GET" || req.method == "HEAD") {
    if (req.path == "/login") return true;
    constexpr std::string_view kAssets = "/assets/";
    if (req.path.rfind(kAssets, 0) == 0 &&
        kPublicAssets.contains(req.path.substr(kAssets.size()))) {
      return true;
    }
  }
  auto session = session_of(req);
  std::string ended = session ? guard_.why_ended(*session) : std::string();
  if (!ended.empty()) {
    // Its account changed since it logged in: the login ends now, with its event streams.
    guard_.end(*session, ended);
    session.reset();
  }
  if (!session) {
    if (api) {
      send_error(res, 401, ended.empty() ? "log in first" : "log in again: " + ended);
    } else {
      res.set_redirect("/login");
    }
    return false;
  }
  if (is_manager_path(req.path) && session->role != "admin") {
    if (!api) {
      res.set_redirect("/");
      return false;
    }
    send_error(
        res, 403,
        "the Manager is for role admin only; '" + session->user + "' has role " + session->role);
    return false;
  }
  if (mutating && !constant_time_equal(req.get_header_value(kCsrfHeader), session->csrf_token)) {
    send_error(res, 403, "missing or wrong X-CSRF-Token header (get it from /api/me)");
    return false;
  }
  return true;
}

std::optional<LoginSession> DashboardServer::session_of(const httplib::Request& req) {
  std::string id = cookie_value(req, kCookie);
  if (id.empty()) return std::nullopt;
  return sessions_.use(id, Clock::now());
}

Outcome DashboardServer::run_on_bus(std::function<void(std::function<void(Outcome)>)> task) {
  auto result = bridge_.call<Outcome>(std::move(task), options_.bus_deadline + kBridgeMargin);
  if (result.value) return std::move(*result.value);
  return error_outcome(bridge_error_status(result.error), bridge_error_text(result.error));
}

Outcome DashboardServer::on_bus(
    std::function<void(OperatorActions&, OperatorActions::Respond)> operation) {
  OperatorActions* actions = &actions_;
  return run_on_bus([actions, operation = std::move(operation)](auto done) {
    operation(*actions, std::move(done));
  });
}

Outcome DashboardServer::on_manager_bus(
    std::function<void(ManagerActions&, ManagerActions::Respond)> operation) {
  ManagerActions* manager = &manager_;
  return run_on_bus([manager, operation = std::move(operation)](auto done) {
    operation(*manager, std::move(done));
  });
}

Outcome DashboardServer::on_screens(
    std::function<void(ScreenFeeds&, ScreenFeeds::Respond)> operation) {
  ScreenFeeds* feeds = screens_;
  return run_on_bus(
      [feeds, operation = std::move(operation)](auto done) { operation(*feeds, std::move(done)); });
}

// Routes -------------------------------------------------------------------------------------

void DashboardServer::add_routes() {
  using httplib::Request;
  using httplib::Response;
  server_->Get("/", [this](const Request& req, Response& res) { page(req, res, "index.html"); });
  server_->Get("/login", [this](const Request& req, Response& res) {
    if (session_of(req)) {
      res.set_redirect("/");
      return;
    }
    page(req, res, "login.html");
  });
  server_->Get(R"(/assets/([A-Za-z0-9_.-]{1,64}))",
               [this](const Request& req, Response& res) { asset(req, res); });

  server_->Post("/api/login", [this](const Request& req, Response& res) { login(req, res); });
  server_->Post("/api/logout", [this](const Request& req, Response& res) { logout(req, res); });
  server_->Get("/api/me", [this](const Request& req, Response& res) { me(req, res); });
  server_->Get("/api/stations", [this](const Request&, Response& res) {
    send(res, on_bus([](OperatorActions& actions, OperatorActions::Respond respond) {
           respond(actions.stations());
         }));
  });
  server_->Get("/api/users", [this](const Request&, Response& res) {
    send(res, on_bus([](OperatorActions& actions, OperatorActions::Respond respond) {
           respond(actions.users());
         }));
  });
  server_->Get("/api/events", [this](const Request& req, Response& res) { events(req, res); });
  server_->Post("/api/block", [this](const Request& req, Response& res) { block(req, res, true); });
  server_->Post("/api/unblock",
                [this](const Request& req, Response& res) { block(req, res, false); });
  server_->Post("/api/message", [this](const Request& req, Response& res) { message(req, res); });
  server_->Post("/api/logoff", [this](const Request& req, Response& res) { log_off(req, res); });
  add_manager_routes();
  add_screen_routes();
  add_policy_routes();
  add_station_routes();
}

void DashboardServer::page(const httplib::Request&, httplib::Response& res, const char* file) {
  const WebAsset* asset = find_web_asset(file);
  if (!asset) {
    send_error(res, 500, std::string("this build has no ") + file);
    return;
  }
  res.set_content(asset->content.data(), asset->content.size(), "text/html; charset=utf-8");
}

void DashboardServer::asset(const httplib::Request& req, httplib::Response& res) {
  std::string name = req.matches[1];
  const WebAsset* asset = find_web_asset(name);
  // Pages have their own paths, where the gate applies to them.
  if (!asset || name.ends_with(".html")) {
    send_error(res, 404, "no such file");
    return;
  }
  res.set_content(asset->content.data(), asset->content.size(), std::string(content_type_of(name)));
}

// Login --------------------------------------------------------------------------------------

void DashboardServer::login(const httplib::Request& req, httplib::Response& res) {
  std::string error;
  auto body = parse_object(req.body, {"user", "password"}, options_.limits, &error);
  if (!body) return send_error(res, 400, error);
  std::string user;
  if (auto e = read_text(*body, "user", kMaxUserBytes, true, &user); !e.empty()) {
    return send_error(res, 400, e);
  }
  auto password_field = body->find("password");
  if (password_field == body->end() || !password_field->is_string() ||
      password_field->get_ref<const std::string&>().empty() ||
      password_field->get_ref<const std::string&>().size() > kMaxPasswordBytes) {
    return send_error(res, 400, "'password' must be a string of 1 to 1024 bytes");
  }
  std::string password = password_field->get<std::string>();
  const std::string address = req.remote_addr;
  using Outcome = mp::service::LogonThrottle::Outcome;
  // Names an account has are logged as they are; anything else typed there may be a password.
  auto user_for_log = [&] {
    return name_redactor_.for_log(user, guard_.accounts().find(user).has_value());
  };
  auto too_many = [&res](std::chrono::milliseconds wait, const std::string& why) {
    auto seconds = mp::service::retry_seconds(wait);
    res.set_header("Retry-After", std::to_string(seconds));
    send_json(
        res, 429,
        json{{"error", why + "; " + mp::service::retry_text(wait)}, {"retry_after_s", seconds}});
  };

  // Counted when it starts: parallel guesses cannot slip past while earlier ones are checked.
  auto admission = throttle_.begin(user, address);
  if (!admission.allowed()) {
    spdlog::warn("dashboard logon of {} from {} refused: too many failures ({})", user_for_log(),
                 address, mp::service::retry_text(admission.retry_after));
    return too_many(admission.retry_after, "too many failed logons");
  }
  const auto& attempt = *admission.attempt;
  // Before mp-session checks the password: a reset after this moment ends the login.
  std::int64_t logged_in_at_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count();
  OperatorActions* actions = &actions_;
  auto result = bridge_.call<AuthResult>(
      [actions, user, password, address](std::function<void(AuthResult)> done) {
        actions->authenticate(user, password, address, std::move(done));
      },
      options_.bus_deadline + kBridgeMargin);
  if (!result.value) {
    throttle_.finish(attempt, Outcome::undecided);
    return send_error(res, bridge_error_status(result.error), bridge_error_text(result.error));
  }
  const AuthResult& auth = *result.value;
  switch (auth.kind) {
    case AuthResult::Kind::unavailable:
      throttle_.finish(attempt, Outcome::undecided);
      return send_error(res, auth.detail.find("did not answer") != std::string::npos ? 504 : 503,
                        auth.detail);
    case AuthResult::Kind::throttled:
      // mp-session's own throttle: the password was not checked; its answer says how long.
      throttle_.finish(attempt, Outcome::undecided);
      res.set_header("Retry-After", std::to_string(retry_after_in(auth.detail)));
      return send_json(
          res, 429, json{{"error", auth.detail}, {"retry_after_s", retry_after_in(auth.detail)}});
    case AuthResult::Kind::refused:
      throttle_.finish(attempt, Outcome::failed);
      spdlog::warn("dashboard logon refused for {} from {}", user_for_log(), address);
      return send_error(res, 401, "wrong user name or password");
    case AuthResult::Kind::ok:
      break;
  }
  throttle_.finish(attempt, Outcome::succeeded);
  if (auth.role != "admin" && auth.role != "dashboard") {
    spdlog::warn("dashboard logon of '{}' from {} refused: role {}", user, address, auth.role);
    return send_error(res, 403,
                      "the account '" + user + "' (role " + auth.role +
                          ") may not use the dashboard: it needs role admin or dashboard");
  }
  LoginSession session = sessions_.create(user, auth.role, address, Clock::now(), logged_in_at_ns);
  // The account may have changed while mp-session answered (its update came first).
  if (auto why = guard_.why_ended(session); !why.empty()) {
    guard_.end(session, why);
    return send_error(res, 401, "log in again: " + why);
  }
  spdlog::info("{} ({}) logged on to the dashboard from {}", user, auth.role, address);
  res.set_header("Set-Cookie", session_cookie(session.id, false));
  send_json(res, 200, session_json(session));
}

void DashboardServer::logout(const httplib::Request& req, httplib::Response& res) {
  std::string id = cookie_value(req, kCookie);
  auto session = sessions_.use(id, Clock::now());
  sessions_.remove(id);
  events_.close_owner(id);
  if (session) spdlog::info("{} logged off the dashboard", session->user);
  res.set_header("Set-Cookie", session_cookie("", true));
  send_json(res, 200, json::object());
}

void DashboardServer::me(const httplib::Request& req, httplib::Response& res) {
  auto session = session_of(req);
  if (!session) return send_error(res, 401, "log in first");
  send_json(res, 200, session_json(*session));
}

// Commands -----------------------------------------------------------------------------------

void DashboardServer::block(const httplib::Request& req, httplib::Response& res, bool blocked) {
  auto session = session_of(req);
  if (!session) return send_error(res, 401, "log in first");
  std::string error;
  auto body = blocked ? parse_object(req.body, {"stations", "message"}, options_.limits, &error)
                      : parse_object(req.body, {"stations"}, options_.limits, &error);
  if (!body) return send_error(res, 400, error);
  Selection selection;
  if (auto e = read_selection(*body, "stations", options_.limits, &selection); !e.empty()) {
    return send_error(res, 400, e);
  }
  std::string text;
  if (blocked) {
    if (auto e = read_text(*body, "message", options_.limits.max_block_message_chars, false, &text);
        !e.empty()) {
      return send_error(res, 400, e);
    }
  }
  spdlog::info(
      "{} {} {}", session->user, blocked ? "blocks" : "unblocks",
      selection.all ? "all stations" : std::to_string(selection.stations.size()) + " station(s)");
  std::string user = session->user;
  send(res, on_bus([user, selection, blocked, text](OperatorActions& actions,
                                                    OperatorActions::Respond respond) {
         actions.set_block(user, selection, blocked, text, std::move(respond));
       }));
}

void DashboardServer::message(const httplib::Request& req, httplib::Response& res) {
  auto session = session_of(req);
  if (!session) return send_error(res, 401, "log in first");
  std::string error;
  auto body = parse_object(req.body, {"stations", "text"}, options_.limits, &error);
  if (!body) return send_error(res, 400, error);
  Selection selection;
  if (auto e = read_selection(*body, "stations", options_.limits, &selection); !e.empty()) {
    return send_error(res, 400, e);
  }
  std::string text;
  if (auto e = read_text(*body, "text", options_.limits.max_message_chars, true, &text);
      !e.empty()) {
    return send_error(res, 400, e);
  }
  std::string user = session->user;
  send(res,
       on_bus([user, selection, text](OperatorActions& actions, OperatorActions::Respond respond) {
         actions.send_message(user, selection, text, std::move(respond));
       }));
}

void DashboardServer::log_off(const httplib::Request& req, httplib::Response& res) {
  auto session = session_of(req);
  if (!session) return send_error(res, 401, "log in first");
  std::string error;
  auto body = parse_object(req.body, {"stations"}, options_.limits, &error);
  if (!body) return send_error(res, 400, error);
  Selection selection;
  if (auto e = read_selection(*body, "stations", options_.limits, &selection); !e.empty()) {
    return send_error(res, 400, e);
  }
  spdlog::info(
      "{} logs off {}", session->user,
      selection.all ? "every session" : std::to_string(selection.stations.size()) + " station(s)");
  std::string user = session->user;
  send(res, on_bus([user, selection](OperatorActions& actions, OperatorActions::Respond respond) {
         actions.log_off(user, selection, std::move(respond));
       }));
}

// Live events --------------------------------------------------------------------------------

void DashboardServer::events(const httplib::Request& req, httplib::Response& res) {
  auto session = session_of(req);
  if (!session) return send_error(res, 401, "log in first");
  auto subscription = events_.subscribe(session->id);
  if (!subscription) return send_error(res, 503, "too many open event streams");
  std::string id = session->id;
  auto keepalive = std::chrono::duration_cast<std::chrono::milliseconds>(options_.event_keepalive);
  auto greeted = std::make_shared<bool>(false);
  res.set_chunked_content_provider(
      "text/event-stream",
      [this, subscription, id, keepalive, greeted](std::size_t, httplib::DataSink& sink) {
        std::string out;
        if (!*greeted) {
          // At once, so the browser sees the stream open; it reconnects after 2 s if it drops.
          *greeted = true;
          out = "retry: 2000\n\n" + format_server_event({"hello", "{}"});
          return sink.write(out.data(), out.size());
        }
        auto batch = subscription->wait(keepalive);
        // An open stream counts as use: a dashboard left open on a projector stays logged in.
        // It ends with its login, and when its account changed.
        std::optional<LoginSession> login;
        if (!batch.closed) login = sessions_.use(id, Clock::now());
        if (login) {
          if (auto why = guard_.why_ended(*login); !why.empty()) {
            guard_.end(*login, why);
            login.reset();
          }
        }
        if (!login) {
          sink.done();
          return true;
        }
        if (batch.lagged) out += format_server_event({"resync", "{}"});
        for (const auto& event : batch.events) out += format_server_event(event);
        if (out.empty()) out = format_server_event({"", "keep-alive"});
        return sink.write(out.data(), out.size());
      },
      [this, subscription](bool) { events_.unsubscribe(subscription); });
}

}  // namespace mp::dashboard
