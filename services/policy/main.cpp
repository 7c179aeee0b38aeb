// mp-policy: desired policy (blocks, web lists, USB lockdown, groups, schedules) and the effective
// policy per station. Thin: flags, logging, the state file, the bus client, the stations from
// mp-session, a timer at every minute boundary for schedules, then the loop until SIGTERM.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <functional>

#include "mp/bus/client.h"
#include "mp/bus/endpoints.h"
#include "mp/bus/service_main.h"
#include "policy_service.h"
#include "policy_store.h"
#include "session_stations.h"

namespace {

// Two mp-policy on one database would hand out the same versions; the second refuses.
int lock_state_dir(const std::filesystem::path& dir) {
  auto path = dir / "policy.lock";
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0) {
    spdlog::critical("another mp-policy already uses {} (lock {})", dir.string(), path.string());
    return -1;
  }
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mp-policy: blocks, web filtering lists, USB lockdown and schedules"};
  std::string runtime_dir = mp::bus::default_runtime_dir();
  std::string state_dir = mp::bus::default_state_dir();
  std::string log_level = "info";
  app.add_option("--runtime-dir", runtime_dir, "where the bus sockets live")->capture_default_str();
  app.add_option("--state-dir", state_dir, "where policy.db is kept")->capture_default_str();
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  if (!mp::bus::setup_logging("policy", log_level)) {
    std::fprintf(stderr, "mp-policy: unknown log level '%s'\n", log_level.c_str());
    return 2;
  }
  std::error_code error;
  std::filesystem::create_directories(state_dir, error);
  if (error) {
    spdlog::critical("cannot create state dir {}: {}", state_dir, error.message());
    return 1;
  }
  if (lock_state_dir(state_dir) < 0) return 1;

  try {
    mp::policy::PolicyStore store(std::filesystem::path(state_dir) / "policy.db");
    zmq::context_t context(1);
    mp::bus::Reactor reactor;
    reactor.stop_on_signals();
    mp::bus::Client client(
        context, reactor, mp::bus::Endpoints::in_directory(runtime_dir),
        mp::bus::ClientOptions{.service = std::string(mp::policy::kServiceName)});
    mp::policy::PolicyService service(
        store, [&client](std::string_view topic, const mp::bus::Build& body,
                         std::uint64_t version) { client.publish(topic, body, version); });
    client.serve([&service](const mp::bus::Incoming& request, mp::schema::Envelope::Builder reply) {
      return service.handle(request, reply);
    });
    mp::policy::SessionStations stations(client, service);
    stations.start();
    // Schedules that started or ended while the process was down, then every minute boundary.
    service.reevaluate();
    std::function<void()> arm_minute_timer;
    arm_minute_timer = [&] {
      reactor.after(service.delay_to_next_minute(), [&] {
        service.reevaluate();
        arm_minute_timer();
      });
    };
    arm_minute_timer();
    mp::bus::notify_ready();
    mp::bus::start_watchdog(reactor);
    reactor.run();
    mp::bus::notify_stopping();
    spdlog::info("stopping at state version {}", service.state_version());
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return 1;
  }
  return 0;
}
