#include "mp/bus/endpoints.h"

#include <unistd.h>

#include <cstdlib>

namespace mp::bus {

Endpoints Endpoints::in_directory(const std::filesystem::path& dir) {
  auto at = [&](const char* name) { return "ipc://" + (dir / name).string(); };
  return Endpoints{at("events-in"), at("events-out"), at("requests"), at("tap")};
}

std::vector<std::filesystem::path> Endpoints::service_socket_files() const {
  constexpr std::string_view kScheme = "ipc://";
  std::vector<std::filesystem::path> files;
  for (const std::string* endpoint : {&events_in, &events_out, &requests}) {
    if (endpoint->rfind(kScheme, 0) == 0) files.emplace_back(endpoint->substr(kScheme.size()));
  }
  return files;
}

Endpoints Endpoints::in_process(const std::string& name) {
  auto at = [&](const char* what) { return "inproc://" + name + "-" + what; };
  return Endpoints{at("events-in"), at("events-out"), at("requests"), at("tap")};
}

std::filesystem::path default_runtime_dir() {
  if (const char* dir = std::getenv("MP_RUNTIME_DIR"); dir && *dir) return dir;
  if (geteuid() == 0) return "/run/multipoint";
  if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"); xdg && *xdg) {
    return std::filesystem::path(xdg) / "multipoint";
  }
  return "/tmp/multipoint-" + std::to_string(geteuid());
}

std::filesystem::path default_state_dir() {
  if (const char* dir = std::getenv("MP_STATE_DIR"); dir && *dir) return dir;
  if (geteuid() == 0) return "/var/lib/multipoint";
  return std::filesystem::current_path() / "var";
}

}  // namespace mp::bus
