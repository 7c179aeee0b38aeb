// mp-dashboard: the web dashboard and its JSON API, bridging browsers to the bus. Thin: flags,
// logging, the bus client and its reactor on this (the bus) thread, the station board fed by
// the replicas, the HTTP server on threads of its own, then the loop until SIGTERM.
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "account_directory.h"
#include "board_feeds.h"
#include "bus_bridge.h"
#include "dashboard_server.h"
#include "event_broadcaster.h"
#include "login_guard.h"
#include "login_sessions.h"
#include "mp/bus/client.h"
#include "mp/bus/endpoints.h"
#include "mp/bus/service_main.h"
#include "mp/service/logon_throttle.h"
#include "operator_actions.h"
#include "service_user.h"
#include "station_board.h"

int main(int argc, char** argv) {
  CLI::App app{"mp-dashboard: the web dashboard of multipoint"};
  std::string listen = "127.0.0.1:8080";
  std::string runtime_dir = mp::bus::default_runtime_dir();
  std::string log_level = "info";
  int idle_minutes = 30;
  int keepalive_s = 15;
  int deadline_ms = 3000;
  int failed_logon_delay_ms = 1000;
  // As root it runs as a system user of its own; "" keeps root.
  std::string user = geteuid() == 0 ? mp::dashboard::kDefaultUser : "";
  std::string state_dir = (mp::bus::default_state_dir() / "dashboard").string();
  app.add_option("--listen", listen, "ADDRESS:PORT to serve HTTP on (port 0: any free port)")
      ->capture_default_str();
  app.add_option("--runtime-dir", runtime_dir, "where the bus sockets live")->capture_default_str();
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->capture_default_str();
  app.add_option("--session-idle-minutes", idle_minutes, "a login ends after this long unused")
      ->capture_default_str()
      ->check(CLI::Range(1, 24 * 60));
  app.add_option("--event-keepalive-s", keepalive_s, "a comment on idle event streams this often")
      ->capture_default_str()
      ->check(CLI::Range(1, 300));
  app.add_option("--bus-deadline-ms", deadline_ms, "how long a bus request may take")
      ->capture_default_str()
      ->check(CLI::Range(100, 60000));
  app.add_option("--failed-logon-delay-ms", failed_logon_delay_ms,
                 "the first wait after 3 failed logons of a name from an address; it doubles "
                 "with each further one, up to 5 min")
      ->capture_default_str()
      ->check(CLI::Range(1, 300000));
  app.add_option("--user", user,
                 "as root: the system user to run as (created if missing; \"\": stay root)")
      ->capture_default_str();
  app.add_option("--state-dir", state_dir, "its own directory, given to --user")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  if (!mp::bus::setup_logging("dashboard", log_level)) {
    std::fprintf(stderr, "mp-dashboard: unknown log level '%s'\n", log_level.c_str());
    return 2;
  }
  mp::dashboard::ServerOptions options;
  options.event_keepalive = std::chrono::seconds(keepalive_s);
  options.bus_deadline = std::chrono::milliseconds(deadline_ms);
  if (std::string error;
      !mp::dashboard::parse_listen_address(listen, &options.host, &options.port, &error)) {
    spdlog::critical("{}", error);
    return 2;
  }
  // A browser that goes away mid-response must cost a failed write, not the process.
  signal(SIGPIPE, SIG_IGN);

  // Before any thread, socket or byte from the network.
  if (geteuid() == 0 && !user.empty()) {
    if (std::string error = mp::dashboard::become_service_user(user, runtime_dir, state_dir);
        !error.empty()) {
      spdlog::critical("{}", error);
      return 1;
    }
  } else if (geteuid() != 0 && !user.empty() && app.count("--user") > 0) {
    spdlog::critical("--user {}: only root can change user; leave --user out", user);
    return 2;
  }

  try {
    // First, so every HTTP thread started later inherits SIGTERM blocked and the signal reaches
    // the reactor's signalfd.
    mp::bus::Reactor reactor;
    reactor.stop_on_signals();
    zmq::context_t context(1);
    mp::bus::Client client(context, reactor, mp::bus::Endpoints::in_directory(runtime_dir),
                           mp::bus::ClientOptions{.service = "dashboard"});
    // No requests served yet; registering makes the service's presence visible on the bus.
    client.serve([](const mp::bus::Incoming&, mp::schema::Envelope::Builder) { return false; });

    mp::dashboard::EventBroadcaster broadcaster;
    auto publish = [&broadcaster](const mp::dashboard::ServerEvent& event) {
      broadcaster.publish(event);
    };
    mp::dashboard::LoginSessions sessions(
        mp::dashboard::LoginSessions::Options{.idle_timeout = std::chrono::minutes(idle_minutes)});
    mp::dashboard::AccountDirectory accounts;
    mp::dashboard::LoginGuard guard(accounts, sessions, broadcaster);
    mp::dashboard::StationBoard board(publish);
    mp::dashboard::BoardFeeds feeds(client, board, publish, accounts, [&guard] { guard.sweep(); });
    feeds.start();
    mp::dashboard::OperatorActions actions(client, board, options.bus_deadline);
    mp::dashboard::ManagerActions manager(client, options.bus_deadline);
    mp::dashboard::BusBridge bridge(reactor);
    mp::service::LogonThrottle throttle(mp::service::LogonThrottle::Options{
        .base_delay = std::chrono::milliseconds(failed_logon_delay_ms)});

    mp::dashboard::ThumbnailStore thumbnails;
    mp::dashboard::ScreenFeeds screens(client, reactor, board, thumbnails, broadcaster, publish,
                                       options.bus_deadline);
    screens.start();

    mp::dashboard::DashboardServer server(options, bridge, actions, manager, sessions, throttle,
                                          guard, broadcaster);
    server.set_screens(screens, thumbnails);
    if (!server.bind()) {
      spdlog::critical("cannot listen on {}: the address is taken or not this host's", listen);
      return 1;
    }
    server.start();
    spdlog::info(
        "serving http://{}:{}/",
        options.host.find(':') == std::string::npos ? options.host : "[" + options.host + "]",
        server.bound_port());
    mp::bus::notify_ready();
    mp::bus::start_watchdog(reactor);
    reactor.run();
    mp::bus::notify_stopping();
    // Handlers waiting for the bus return at once, so the HTTP threads can be joined.
    bridge.close();
    server.stop();
    spdlog::info("stopped");
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return 1;
  }
  return 0;
}
