#include "mp/service/service_main.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <system_error>

#include "mp/bus/service_main.h"

namespace mp::service {

namespace {

int lock_state_dir(const std::string& service, const std::filesystem::path& dir) {
  auto path = dir / (service + ".lock");
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0) {
    spdlog::critical("another mp-{} already uses {} (lock {})", service, dir.string(),
                     path.string());
    return -1;
  }
  return fd;
}

}  // namespace

int prepare_service(const std::string& service, const std::string& log_level,
                    const std::string& state_dir) {
  if (!mp::bus::setup_logging(service, log_level)) {
    std::fprintf(stderr, "mp-%s: unknown log level '%s'\n", service.c_str(), log_level.c_str());
    return 2;
  }
  std::error_code error;
  std::filesystem::create_directories(state_dir, error);
  if (error) {
    spdlog::critical("cannot create state dir {}: {}", state_dir, error.message());
    return 1;
  }
  if (lock_state_dir(service, state_dir) < 0) return 1;
  return 0;
}

}  // namespace mp::service
