#include "supervisor_config.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <set>

namespace mp::supervisor {

namespace {

using nlohmann::json;

bool valid_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  if (!std::isalnum(static_cast<unsigned char>(name.front()))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

// A name useradd accepts for a system user; "" (stay root) too.
bool valid_user_name(const std::string& name) {
  if (name.empty()) return true;
  if (name.size() > 32 || !((name[0] >= 'a' && name[0] <= 'z') || name[0] == '_')) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

void check_keys(const json& object, const std::set<std::string>& allowed,
                const std::string& where) {
  for (const auto& [key, value] : object.items()) {
    if (!allowed.contains(key)) {
      throw ConfigError(where + ": unknown key \"" + key + "\"");
    }
  }
}

std::chrono::milliseconds milliseconds_at(const json& object, const std::string& key,
                                          std::chrono::milliseconds fallback,
                                          const std::string& where) {
  if (!object.contains(key)) return fallback;
  const json& value = object.at(key);
  if (!value.is_number_integer() || value.get<std::int64_t>() <= 0 ||
      value.get<std::int64_t>() > 24LL * 3600 * 1000) {
    throw ConfigError(where + "." + key + ": expected a whole number of milliseconds, 1..86400000");
  }
  return std::chrono::milliseconds(value.get<std::int64_t>());
}

ServiceSpec service_at(const json& entry, std::size_t index) {
  std::string where = "services[" + std::to_string(index) + "]";
  if (!entry.is_object()) throw ConfigError(where + ": expected an object");
  check_keys(entry, {"name", "binary", "args", "user"}, where);
  ServiceSpec spec;
  if (!entry.contains("name") || !entry.at("name").is_string()) {
    throw ConfigError(where + ": \"name\" (a string) is required");
  }
  spec.name = entry.at("name").get<std::string>();
  if (entry.contains("binary")) {
    if (!entry.at("binary").is_string() || entry.at("binary").get<std::string>().empty()) {
      throw ConfigError(where + ".binary: expected a non-empty path");
    }
    spec.binary = entry.at("binary").get<std::string>();
  }
  if (entry.contains("args")) {
    const json& args = entry.at("args");
    if (!args.is_array()) throw ConfigError(where + ".args: expected an array of strings");
    for (const json& arg : args) {
      if (!arg.is_string()) throw ConfigError(where + ".args: expected an array of strings");
      spec.args.push_back(arg.get<std::string>());
    }
  }
  if (entry.contains("user")) {
    const json& user = entry.at("user");
    if (!user.is_string() || !valid_user_name(user.get<std::string>())) {
      throw ConfigError(where +
                        ".user: expected a system user name (^[a-z_][a-z0-9_-]{0,31}$), or \"\" "
                        "to stay root");
    }
    spec.user = user.get<std::string>();
  }
  return spec;
}

}  // namespace

std::vector<ServiceSpec> parse_service_list(const std::string& comma_list) {
  std::vector<ServiceSpec> services;
  std::size_t start = 0;
  while (start <= comma_list.size()) {
    std::size_t comma = comma_list.find(',', start);
    if (comma == std::string::npos) comma = comma_list.size();
    std::string name = comma_list.substr(start, comma - start);
    if (name.empty()) throw ConfigError("--services: empty name in \"" + comma_list + "\"");
    services.push_back(ServiceSpec{name, {}, {}, std::nullopt});
    start = comma + 1;
  }
  return services;
}

SupervisorConfig parse_config(const std::string& json_text, bool* has_services) {
  json root;
  try {
    root = json::parse(json_text);
  } catch (const json::parse_error& e) {
    throw ConfigError(std::string("not valid JSON: ") + e.what());
  }
  if (!root.is_object()) throw ConfigError("expected a JSON object at the top");
  check_keys(root,
             {"services", "restart", "stop_timeout_ms", "ready_timeout_ms", "restart_command",
              "shutdown_command"},
             "config");

  SupervisorConfig config;
  if (has_services) *has_services = root.contains("services");
  if (root.contains("services")) {
    const json& list = root.at("services");
    if (!list.is_array() || list.empty()) {
      throw ConfigError("services: expected a non-empty array of services");
    }
    for (std::size_t i = 0; i < list.size(); ++i) config.services.push_back(service_at(list[i], i));
  }
  if (root.contains("restart")) {
    const json& restart = root.at("restart");
    if (!restart.is_object()) throw ConfigError("restart: expected an object");
    check_keys(
        restart,
        {"initial_backoff_ms", "max_backoff_ms", "healthy_after_ms", "max_restarts", "window_ms"},
        "restart");
    RestartLimits& limits = config.restart;
    limits.initial_backoff =
        milliseconds_at(restart, "initial_backoff_ms", limits.initial_backoff, "restart");
    limits.max_backoff = milliseconds_at(restart, "max_backoff_ms", limits.max_backoff, "restart");
    limits.healthy_after =
        milliseconds_at(restart, "healthy_after_ms", limits.healthy_after, "restart");
    limits.window = milliseconds_at(restart, "window_ms", limits.window, "restart");
    if (restart.contains("max_restarts")) {
      const json& value = restart.at("max_restarts");
      if (!value.is_number_integer() || value.get<std::int64_t>() < 0 ||
          value.get<std::int64_t>() > 1000) {
        throw ConfigError("restart.max_restarts: expected a whole number, 0..1000");
      }
      limits.max_restarts = value.get<int>();
    }
    if (limits.initial_backoff > limits.max_backoff) {
      throw ConfigError("restart: initial_backoff_ms is larger than max_backoff_ms");
    }
  }
  config.stop_timeout = milliseconds_at(root, "stop_timeout_ms", config.stop_timeout, "config");
  config.ready_timeout = milliseconds_at(root, "ready_timeout_ms", config.ready_timeout, "config");
  for (auto [key, command] : {std::pair{"restart_command", &config.restart_command},
                              std::pair{"shutdown_command", &config.shutdown_command}}) {
    if (!root.contains(key)) continue;
    const json& words = root.at(key);
    std::string what = std::string(key) +
                       ": expected an array of strings, the first an "
                       "absolute path (empty: refused)";
    if (!words.is_array() || words.size() > 16) throw ConfigError(what);
    command->clear();
    for (const json& word : words) {
      if (!word.is_string()) throw ConfigError(what);
      command->push_back(word.get<std::string>());
    }
    if (!command->empty() && (command->front().empty() || command->front()[0] != '/')) {
      throw ConfigError(what);
    }
  }
  return config;
}

void finish_services(std::vector<ServiceSpec>& services, const std::filesystem::path& program_dir,
                     bool as_root) {
  std::set<std::string> seen;
  for (const ServiceSpec& spec : services) {
    if (!valid_name(spec.name)) {
      throw ConfigError("service name \"" + spec.name +
                        "\" is not valid (lowercase letters, digits, '-' and '_', up to 64)");
    }
    if (spec.name == "supervisor" || spec.name == "mpctl") {
      throw ConfigError("service name \"" + spec.name + "\" is taken by the supervisor itself");
    }
    if (!seen.insert(spec.name).second) {
      throw ConfigError("service \"" + spec.name + "\" is listed twice");
    }
  }
  auto bus = std::find_if(services.begin(), services.end(),
                          [](const ServiceSpec& spec) { return spec.name == "bus"; });
  if (bus == services.end()) {
    services.insert(services.begin(), ServiceSpec{"bus", {}, {}, std::nullopt});
  } else if (bus != services.begin()) {
    // Everything else needs the bus; starting it first is not a choice.
    std::rotate(services.begin(), bus, bus + 1);
  }
  // As root with the web filter in the system, no desktop starts before its user's traffic is
  // filtered: mp-session waits for mp-webfilter's word (unless the entry says otherwise).
  bool webfilter = std::any_of(services.begin(), services.end(),
                               [](const ServiceSpec& spec) { return spec.name == "webfilter"; });
  for (ServiceSpec& spec : services) {
    if (as_root && webfilter && spec.name == "session" &&
        std::find(spec.args.begin(), spec.args.end(), "--web-filter") == spec.args.end()) {
      spec.args.push_back("--web-filter");
      spec.args.push_back("required");
    }
  }
  for (ServiceSpec& spec : services) {
    if (spec.binary.empty()) spec.binary = program_dir / ("mp-" + spec.name);
    if (as_root && !spec.user) {
      for (const auto& [service, user] : kDefaultUsers) {
        if (spec.name == service) spec.user = user;
      }
    }
    if (!as_root && spec.user && !spec.user->empty()) {
      throw ConfigError("service " + spec.name + ": \"user\": \"" + *spec.user +
                        "\" needs the supervisor to run as root");
    }
  }
}

std::vector<std::string> command_line(const ServiceSpec& spec) {
  std::vector<std::string> argv{spec.binary.string()};
  argv.insert(argv.end(), spec.args.begin(), spec.args.end());
  if (spec.user) {
    argv.push_back("--user");
    argv.push_back(*spec.user);
  }
  return argv;
}

}  // namespace mp::supervisor
