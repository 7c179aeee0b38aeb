// mp-rdp: the RDP-over-LAN station transport. Reads flags, sets up logging, drops root (to its
// own system user), the TLS identity and the bus client, and runs the RdpService on the main
// thread's Reactor.
// Cap'n Proto before FreeRDP: WinPR defines macros (VOID, ...) that break capnp's headers.
#include "mp/bus/client.h"

#include <freerdp/version.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>
#include <winpr/ssl.h>
#include <winpr/wlog.h>

#include <CLI/CLI.hpp>

#include "listen_address.h"
#include "mp/bus/endpoints.h"
#include "mp/bus/service_main.h"
#include "privilege_drop.h"
#include "rdp_service.h"
#include "tls_identity.h"
#include "x_connection.h"

namespace {

// FreeRDP logs through WLog; keep it a step quieter than ours (it is chatty on bad input).
void set_freerdp_log_level(const std::string& level) {
  DWORD wlog = WLOG_ERROR;
  if (level == "trace") wlog = WLOG_DEBUG;
  if (level == "debug") wlog = WLOG_INFO;
  if (level == "off" || level == "critical") wlog = WLOG_OFF;
  WLog_SetLogLevel(WLog_GetRoot(), wlog);
}

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == 0) return "multipoint";
  return name;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mp-rdp: RDP-over-LAN stations (FreeRDP " FREERDP_VERSION_FULL ")"};
  std::string runtime_dir = mp::bus::default_runtime_dir();
  std::string state_dir = mp::bus::default_state_dir();
  std::string log_level = "info";
  std::string listen = "127.0.0.1:3389";
  // As root it runs as a system user of its own; "" keeps root.
  std::string user = geteuid() == 0 ? mp::rdp::kDefaultUser : "";
  mp::rdp::RdpOptions options;
  int handshake_seconds = 20;
  app.add_option("--runtime-dir", runtime_dir, "where the bus sockets live")->capture_default_str();
  app.add_option("--state-dir", state_dir,
                 "TLS certificate and key go to STATE/rdp/, which is given to --user")
      ->capture_default_str();
  app.add_option("--user", user,
                 "as root: the system user to run as (created if missing; \"\": stay root)")
      ->capture_default_str();
  app.add_option("--log-level", log_level)->capture_default_str();
  app.add_option("--listen", listen, "ADDR:PORT to accept RDP clients on (LAN: 0.0.0.0:3389)")
      ->envname("MP_RDP_LISTEN")
      ->capture_default_str();
  app.add_option("--max-clients", options.max_peers, "concurrent RDP connections")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  app.add_option("--max-fps", options.peer.max_fps, "frames per second per client, at most")
      ->check(CLI::Range(1, 120))
      ->capture_default_str();
  app.add_option("--max-failed-logons", options.throttle.free_failures,
                 "free failed logons per user name and client address; each further one "
                 "waits 1 s, 2 s, 4 s ... up to 5 min")
      ->check(CLI::Range(0, 1000))
      ->capture_default_str();
  int failed_logon_delay_ms = 1000;
  app.add_option("--failed-logon-delay-ms", failed_logon_delay_ms,
                 "the first wait after the free failed logons; it doubles with each further one")
      ->check(CLI::Range(1, 300000))
      ->capture_default_str();
  app.add_option("--handshake-timeout", handshake_seconds, "seconds a client has to connect")
      ->check(CLI::Range(1, 600))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (!mp::bus::setup_logging("rdp", log_level)) return 2;
  set_freerdp_log_level(log_level);
  auto address = mp::rdp::parse_listen_address(listen);
  if (!address) {
    spdlog::error("--listen: expected ADDR:PORT, got '{}'", listen);
    return 2;
  }
  options.bind_address = address->host;
  options.port = address->port;
  options.peer.handshake_timeout = std::chrono::seconds(handshake_seconds);
  options.throttle.base_delay = std::chrono::milliseconds(failed_logon_delay_ms);

  // A client vanishing mid-write must not kill the process.
  signal(SIGPIPE, SIG_IGN);

  // Before any thread, socket or byte from the network. Everything below runs as that user,
  // the TLS identity too: once the directory was the user's, root does not read what is in it.
  const std::filesystem::path own_dir = std::filesystem::path(state_dir) / "rdp";
  if (geteuid() == 0 && !user.empty()) {
    if (std::string error = mp::rdp::become_service_user(user, runtime_dir, own_dir, options.port);
        !error.empty()) {
      spdlog::critical("{}", error);
      return 1;
    }
  } else if (geteuid() != 0 && !user.empty() && app.count("--user") > 0) {
    spdlog::critical("--user {}: only root can change user; leave --user out", user);
    return 2;
  }

  mp::rdp::install_x_error_handlers();
  winpr_InitializeSSL(WINPR_SSL_INIT_DEFAULT);
  try {
    options.peer.tls = mp::rdp::ensure_tls_identity(own_dir, host_name());
  } catch (const std::exception& e) {
    spdlog::error("TLS identity: {}", e.what());
    return 1;
  }
  // Blocked stations are drawn by mp-rdp itself: without a font it cannot say why.
  try {
    options.peer.lock_painter = std::make_shared<mp::lockscreen::LockPainter>();
  } catch (const std::exception& e) {
    spdlog::error("lock screen: {}; blocked stations show a plain dark screen", e.what());
  }
  options.lock_cache = own_dir / "blocked-stations";

  zmq::context_t context(1);
  mp::bus::Reactor reactor;
  reactor.stop_on_signals();  // also blocks SIGTERM/SIGINT in the peer threads started later
  mp::bus::Client client(context, reactor, mp::bus::Endpoints::in_directory(runtime_dir),
                         mp::bus::ClientOptions{.service = "rdp"});
  mp::rdp::RdpService service(client, options);
  try {
    service.start();
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
  mp::bus::notify_ready();
  mp::bus::start_watchdog(reactor);
  reactor.run();
  mp::bus::notify_stopping();
  service.stop();
  return 0;
}
