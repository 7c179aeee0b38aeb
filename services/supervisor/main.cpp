// mp-supervisor: thin. Flags and config, logging, then the Supervisor on one reactor until
// SIGTERM/SIGINT, then everything stopped in reverse order.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "mp/bus/endpoints.h"
#include "mp/bus/service_main.h"
#include "supervisor.h"
#include "supervisor_config.h"

namespace {

using mp::supervisor::ConfigError;
using mp::supervisor::SupervisorConfig;

// Services default to mp-NAME next to this executable, so a build tree runs as it is.
std::filesystem::path program_dir() {
  std::error_code error;
  auto self = std::filesystem::read_symlink("/proc/self/exe", error);
  return error ? std::filesystem::current_path() : self.parent_path();
}

SupervisorConfig load_config(const std::string& config_file, const std::string& services_list,
                             bool services_given) {
  SupervisorConfig config;
  bool file_lists_services = false;
  if (!config_file.empty()) {
    std::ifstream in(config_file);
    if (!in) throw ConfigError("cannot read " + config_file);
    std::stringstream text;
    text << in.rdbuf();
    config = mp::supervisor::parse_config(text.str(), &file_lists_services);
    if (file_lists_services && services_given) {
      throw ConfigError("both --services and a service list in " + config_file + ": give one");
    }
  }
  if (!file_lists_services) config.services = mp::supervisor::parse_service_list(services_list);
  mp::supervisor::finish_services(config.services, program_dir(), geteuid() == 0);
  for (const auto& spec : config.services) {
    if (access(spec.binary.c_str(), X_OK) != 0) {
      throw ConfigError("service " + spec.name + ": cannot execute " + spec.binary.string() + ": " +
                        strerror(errno));
    }
  }
  return config;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mp-supervisor: starts the multipoint services in order, restarts crashed ones"};
  std::string runtime_dir = mp::bus::default_runtime_dir();
  std::string state_dir = mp::bus::default_state_dir();
  std::string log_level = "info";
  std::string services_list = mp::supervisor::kDefaultServices;
  std::string config_file;
  app.add_option("--runtime-dir", runtime_dir, "where the bus sockets live")->capture_default_str();
  app.add_option("--state-dir", state_dir, "where services keep their state")
      ->capture_default_str();
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->capture_default_str();
  auto* services_option =
      app.add_option("--services", services_list, "comma-separated services, started in order")
          ->capture_default_str();
  app.add_option("--config", config_file, "JSON file: services, restart limits");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  if (!mp::bus::setup_logging("supervisor", log_level)) {
    fprintf(stderr, "mp-supervisor: unknown log level '%s'\n", log_level.c_str());
    return 2;
  }
  mp::supervisor::SupervisorOptions options;
  try {
    options.config = load_config(config_file, services_list, services_option->count() > 0);
  } catch (const ConfigError& e) {
    fprintf(stderr, "mp-supervisor: bad configuration: %s\n", e.what());
    return 2;
  }
  // Children may change directory; they get absolute paths.
  options.runtime_dir = std::filesystem::absolute(runtime_dir);
  options.state_dir = std::filesystem::absolute(state_dir);
  std::error_code error;
  std::filesystem::create_directories(options.state_dir, error);
  if (error) {
    spdlog::critical("cannot create state dir {}: {}", options.state_dir.string(), error.message());
    return 1;
  }

  // Signals are blocked before any thread exists, so they reach only the signalfd.
  mp::bus::Reactor reactor;
  reactor.stop_on_signals();
  zmq::context_t context(1);
  mp::supervisor::Supervisor supervisor(context, reactor, std::move(options));
  if (supervisor.start()) {
    mp::bus::notify_ready();
    mp::bus::start_watchdog(reactor);
    reactor.run();
  }
  mp::bus::notify_stopping();
  supervisor.stop_all();
  return supervisor.exit_code();
}
