// The HTTP side of mp-dashboard (cpp-httplib): the login gate in front of everything, the JSON
// API, the live event stream and the embedded page. Handlers run on httplib's worker threads;
// anything that needs the bus goes through the BusBridge and waits with a deadline.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "bus_bridge.h"
#include "event_broadcaster.h"
#include "json_input.h"
#include "login_guard.h"
#include "login_sessions.h"
#include "manager_actions.h"
#include "mp/service/logon_throttle.h"
#include "mp/service/user_name_redactor.h"
#include "operator_actions.h"
#include "screen_feeds.h"
#include "thumbnail_store.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace mp::dashboard {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port (see bound_port())
  std::size_t max_body_bytes = 64 * 1024;
  std::size_t threads = 48;  // each open event stream holds one
  std::chrono::seconds event_keepalive{15};
  std::chrono::milliseconds bus_deadline{3000};
  InputLimits limits;
};

// "127.0.0.1:8080", "[::1]:8080" -> host and port; false (with a reason) if malformed.
bool parse_listen_address(const std::string& text, std::string* host, int* port,
                          std::string* error);

class DashboardServer {
 public:
  // `throttle` slows down password guessing (per user name and client address); `guard` ends
  // logins whose account changed.
  DashboardServer(ServerOptions options, BusBridge& bridge, OperatorActions& actions,
                  ManagerActions& manager, LoginSessions& sessions,
                  mp::service::LogonThrottle& throttle, LoginGuard& guard,
                  EventBroadcaster& events);
  ~DashboardServer();
  DashboardServer(const DashboardServer&) = delete;
  DashboardServer& operator=(const DashboardServer&) = delete;

  // Where the stations' screens come from (thumbnails, live views, take control); without it
  // those routes answer 503.
  void set_screens(ScreenFeeds& feeds, const ThumbnailStore& store);

  // Binds the listening socket; false if the address cannot be had.
  bool bind();
  int bound_port() const { return port_; }
  // Serves on a thread of its own until stop().
  void start();
  // Stops accepting, ends the event streams, lets handlers finish and joins every thread.
  // Close the bridge first, so handlers waiting for the bus return at once.
  void stop();

 private:
  void add_routes();
  bool admit(const httplib::Request& req, httplib::Response& res);
  std::optional<LoginSession> session_of(const httplib::Request& req);
  void login(const httplib::Request& req, httplib::Response& res);
  void logout(const httplib::Request& req, httplib::Response& res);
  void me(const httplib::Request& req, httplib::Response& res);
  void events(const httplib::Request& req, httplib::Response& res);
  void block(const httplib::Request& req, httplib::Response& res, bool blocked);
  void message(const httplib::Request& req, httplib::Response& res);
  void log_off(const httplib::Request& req, httplib::Response& res);
  // The Manager (manager_routes.cpp): role admin only, which admit() checks.
  void add_manager_routes();
  void add_user(const httplib::Request& req, httplib::Response& res);
  void remove_user(const httplib::Request& req, httplib::Response& res);
  void modify_user(const httplib::Request& req, httplib::Response& res);
  void rename_station(const httplib::Request& req, httplib::Response& res);
  void list_services(const httplib::Request& req, httplib::Response& res);
  void restart_service(const httplib::Request& req, httplib::Response& res);
  void audit(const httplib::Request& req, httplib::Response& res);
  // Web limits and USB storage (policy_routes.cpp).
  void add_policy_routes();
  void web_limit(const httplib::Request& req, httplib::Response& res);
  void usb_lock(const httplib::Request& req, httplib::Response& res);
  void add_schedule(const httplib::Request& req, httplib::Response& res);
  void remove_schedule(const httplib::Request& req, httplib::Response& res);
  // Projection, disconnect, applications, power (station_routes.cpp).
  void add_station_routes();
  void project(const httplib::Request& req, httplib::Response& res);
  void stations_command(const httplib::Request& req, httplib::Response& res,
                        const std::string& command);
  void app_command(const httplib::Request& req, httplib::Response& res, bool launch);
  void power(const httplib::Request& req, httplib::Response& res);
  // The screens (screen_routes.cpp).
  void add_screen_routes();
  void thumbnail(const httplib::Request& req, httplib::Response& res);
  void live_view(const httplib::Request& req, httplib::Response& res);
  void remote_input(const httplib::Request& req, httplib::Response& res);
  void page(const httplib::Request& req, httplib::Response& res, const char* file);
  void asset(const httplib::Request& req, httplib::Response& res);
  // Runs `operation` on the bus thread and waits for its Outcome (504/503 when it cannot).
  Outcome on_bus(std::function<void(OperatorActions&, OperatorActions::Respond)> operation);
  Outcome on_manager_bus(std::function<void(ManagerActions&, ManagerActions::Respond)> operation);
  Outcome on_screens(std::function<void(ScreenFeeds&, ScreenFeeds::Respond)> operation);
  Outcome run_on_bus(std::function<void(std::function<void(Outcome)>)> task);

  ServerOptions options_;
  BusBridge& bridge_;
  OperatorActions& actions_;
  ManagerActions& manager_;
  LoginSessions& sessions_;
  mp::service::LogonThrottle& throttle_;
  LoginGuard& guard_;
  mp::service::UserNameRedactor name_redactor_;
  EventBroadcaster& events_;
  ScreenFeeds* screens_ = nullptr;
  const ThumbnailStore* thumbnails_ = nullptr;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::atomic<bool> listening_done_{false};
  int port_ = -1;
};

}  // namespace mp::dashboard
