// mp-policy: desired policy (blocks, web lists, USB lockdown, groups, schedules) and the effective
// policy per station. Thin: flags, logging, the state file, the bus client, the stations from
// mp-session, a timer at every minute boundary for schedules, then the loop until SIGTERM.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <functional>

#include "mp/bus/client.h"
#include "mp/bus/endpoints.h"
#include "mp/bus/service_main.h"
#include "mp/service/service_main.h"
#include "policy_service.h"
#include "policy_store.h"
#include "session_stations.h"

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

  if (int exit_code = mp::service::prepare_service("policy", log_level, state_dir)) {
    return exit_code;
  }

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
