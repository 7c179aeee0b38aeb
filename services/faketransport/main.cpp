// mp-fake-transport: a transport for tests and demos, with no hardware behind it.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>

#include "fake_transport.h"
#include "mp/bus/client.h"
#include "mp/bus/endpoints.h"
#include "mp/bus/service_main.h"

int main(int argc, char** argv) {
  CLI::App app{"mp-fake-transport: simulated stations for tests"};
  std::string runtime_dir = mp::bus::default_runtime_dir();
  std::string state_dir = mp::bus::default_state_dir();
  std::string log_level = "info";
  app.add_option("--runtime-dir", runtime_dir, "where the bus sockets live")->capture_default_str();
  app.add_option("--state-dir", state_dir, "where the simulated stations are kept")
      ->capture_default_str();
  app.add_option("--log-level", log_level)->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (!mp::bus::setup_logging("fake-transport", log_level)) return 2;

  std::error_code error;
  std::filesystem::create_directories(state_dir, error);
  zmq::context_t context(1);
  mp::bus::Reactor reactor;
  reactor.stop_on_signals();
  mp::bus::Client client(context, reactor, mp::bus::Endpoints::in_directory(runtime_dir),
                         mp::bus::ClientOptions{.service = "fake-transport"});
  mp::faketransport::FakeTransport transport(
      client, std::filesystem::path(state_dir) / "fake-transport.stations");
  transport.start();
  mp::bus::notify_ready();
  mp::bus::start_watchdog(reactor);
  reactor.run();
  mp::bus::notify_stopping();
  return 0;
}
