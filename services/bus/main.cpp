// mp-bus: the broker. Thin: flags, logging, one lock so two brokers never share a runtime dir,
// then the Broker from lib/bus on one reactor until SIGTERM.
#include <fcntl.h>
#include <grp.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>

#include "mp/bus/broker.h"
#include "mp/bus/endpoints.h"
#include "mp/bus/service_main.h"
#include "mp/service/privileges.h"

namespace {

// The broker's sockets are their own access control: the runtime dir and socket files admit the
// owner only — and, as root, the group mpoint, whose members are the services that drop to
// system users of their own (mp-dashboard, mp-webfilter, ...). Returns the group to give the
// socket files (none: owner only), or false in `ok` when the directory cannot be prepared.
std::optional<gid_t> prepare_runtime_dir(const std::filesystem::path& dir, bool* ok) {
  *ok = false;
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    spdlog::critical("cannot create runtime dir {}: {}", dir.string(), error.message());
    return std::nullopt;
  }
  std::optional<gid_t> group;
  if (geteuid() == 0) {
    // mp-supervisor (or the system's service manager) makes the group before the bus starts;
    // without it only root may connect, which is how it always was.
    if (const struct group* entry = getgrnam(mp::service::kServiceGroup)) {
      group = entry->gr_gid;
    } else {
      spdlog::info("no group {}: only root may reach the bus in {}", mp::service::kServiceGroup,
                   dir.string());
    }
  }
  if (group && chown(dir.c_str(), 0, *group) != 0) {
    spdlog::critical("cannot give {} to group {}: {}", dir.string(), mp::service::kServiceGroup,
                     std::strerror(errno));
    return std::nullopt;
  }
  mode_t mode = group ? 0750 : 0700;
  if (chmod(dir.c_str(), mode) != 0) {
    spdlog::critical("cannot set mode {:o} on {}: {}", mode, dir.string(), std::strerror(errno));
    return std::nullopt;
  }
  *ok = true;
  return group;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mp-bus: the multipoint message broker"};
  std::string runtime_dir = mp::bus::default_runtime_dir();
  std::string log_level = "info";
  std::size_t max_message_bytes = mp::bus::Limits{}.max_message_bytes;
  app.add_option("--runtime-dir", runtime_dir, "where the bus sockets live")->capture_default_str();
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->capture_default_str();
  app.add_option("--max-message-bytes", max_message_bytes, "largest envelope accepted")
      ->check(CLI::Range(std::size_t{4096}, std::size_t{64} << 20))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  if (!mp::bus::setup_logging("bus", log_level)) {
    fprintf(stderr, "mp-bus: unknown log level '%s'\n", log_level.c_str());
    return 2;
  }
  bool prepared = false;
  std::optional<gid_t> socket_group = prepare_runtime_dir(runtime_dir, &prepared);
  if (!prepared) return 1;

  auto lock_path = std::filesystem::path(runtime_dir) / "bus.lock";
  int lock_fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0 || flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    spdlog::critical("another mp-bus already serves {} (lock {})", runtime_dir, lock_path.string());
    return 1;
  }

  mp::bus::BrokerOptions options;
  options.limits.max_message_bytes = max_message_bytes;
  options.socket_group = socket_group;
  try {
    zmq::context_t context(1);
    mp::bus::Reactor reactor;
    reactor.stop_on_signals();
    mp::bus::Broker broker(context, reactor, mp::bus::Endpoints::in_directory(runtime_dir),
                           options);
    mp::bus::notify_ready();
    mp::bus::start_watchdog(reactor);
    reactor.run();
    mp::bus::notify_stopping();
    spdlog::info("stopping: {} requests routed, {} events forwarded, {} frames rejected",
                 broker.counters().routed_requests, broker.counters().forwarded_events,
                 broker.counters().rejected_frames);
  } catch (const zmq::error_t& e) {
    spdlog::critical("cannot serve the bus in {}: {}", runtime_dir, e.what());
    return 1;
  }
  return 0;
}
