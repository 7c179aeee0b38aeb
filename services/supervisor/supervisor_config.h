// What the supervisor runs: the service list (from --services or a JSON file) and the restart
// rules. Parsing is pure and reports bad input as ConfigError with a message for the operator.
#pragma once

#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "restart_policy.h"

namespace mp::supervisor {

struct ServiceSpec {
  std::string name;              // the bus name, e.g. "session"
  std::filesystem::path binary;  // empty: mp-NAME next to the supervisor's executable
  std::vector<std::string> args;
};

struct SupervisorConfig {
  std::vector<ServiceSpec> services;  // "bus" first
  RestartLimits restart;
  std::chrono::milliseconds stop_timeout{5000};   // SIGTERM, then SIGKILL after this
  std::chrono::milliseconds ready_timeout{5000};  // wait this long for a service to register
  // What "restart the server" and "shut down the server" run (argv, no shell; empty: refused).
  std::vector<std::string> restart_command{"/usr/bin/systemctl", "reboot"};
  std::vector<std::string> shutdown_command{"/usr/bin/systemctl", "poweroff"};
};

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline constexpr const char* kDefaultServices = "bus,session,policy,webfilter,rdp,dashboard";

// "bus,session" -> specs with default binaries.
std::vector<ServiceSpec> parse_service_list(const std::string& comma_list);

// The JSON config file's text: {"services":[{"name":..,"binary":..,"args":[..]}],
// "restart":{"initial_backoff_ms":..,"max_backoff_ms":..,"healthy_after_ms":..,
// "max_restarts":..,"window_ms":..}, "stop_timeout_ms":.., "ready_timeout_ms":..,
// "restart_command": [..], "shutdown_command": [..]}.
// Every key is optional; unknown keys are errors (a typo must not silently do nothing).
// `has_services` tells whether the file listed services.
SupervisorConfig parse_config(const std::string& json_text, bool* has_services = nullptr);

// Puts "bus" first (adding it when missing), checks names are unique and valid, and fills each
// empty binary with `program_dir`/mp-NAME. Throws ConfigError.
void finish_services(std::vector<ServiceSpec>& services, const std::filesystem::path& program_dir);

}  // namespace mp::supervisor
