// What the supervisor runs: the service list (from --services or a JSON file) and the restart
// rules. Parsing is pure and reports bad input as ConfigError with a message for the operator.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "restart_policy.h"

namespace mp::supervisor {

struct ServiceSpec {
  std::string name;              // the bus name, e.g. "session"
  std::filesystem::path binary;  // empty: mp-NAME next to the supervisor's executable
  std::vector<std::string> args;
  // The system user it runs as, passed as `--user USER` (the service makes the user if missing
  // and drops root itself after its privileged setup); "" passes `--user ""`: it stays root.
  // Unset: no flag (the service's own default).
  std::optional<std::string> user;
};

// The system users the embedded defaults give services that need no root after their setup;
// used as root for a service whose entry names no user.
inline constexpr std::pair<const char*, const char*> kDefaultUsers[] = {
    {"dashboard", "mp-dashboard"},
    {"webfilter", "mp-webfilter"},
    {"rdp", "mp-rdp"},
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

// The JSON config file's text: {"services":[{"name":..,"binary":..,"args":[..],"user":..}],
// "restart":{"initial_backoff_ms":..,"max_backoff_ms":..,"healthy_after_ms":..,
// "max_restarts":..,"window_ms":..}, "stop_timeout_ms":.., "ready_timeout_ms":..,
// "restart_command": [..], "shutdown_command": [..]}.
// Every key is optional; unknown keys are errors (a typo must not silently do nothing).
// `has_services` tells whether the file listed services.
SupervisorConfig parse_config(const std::string& json_text, bool* has_services = nullptr);

// Puts "bus" first (adding it when missing), checks names are unique and valid, and fills each
// empty binary with `program_dir`/mp-NAME. As root (`as_root`), a service without a user gets
// its default one (kDefaultUsers), and with "webfilter" in the list "session" gets
// `--web-filter required` unless its args say otherwise; not as root, a service naming a user
// is an error (only root can change user). Throws ConfigError.
void finish_services(std::vector<ServiceSpec>& services, const std::filesystem::path& program_dir,
                     bool as_root = false);

// The command line of a service: its binary, its args, then `--user USER` when it names one.
std::vector<std::string> command_line(const ServiceSpec& spec);

}  // namespace mp::supervisor
