#include "mp/bus/service_main.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <chrono>
#include <cstdlib>

namespace mp::bus {

bool setup_logging(const std::string& service, const std::string& level) {
  auto parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off") return false;
  auto logger = spdlog::stderr_color_mt(service);
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %n[%P] %^%l%$: %v");
  logger->set_level(parsed);
  spdlog::set_default_logger(logger);
  return true;
}

void notify_ready() {
  if (std::getenv("NOTIFY_SOCKET")) sd_notify(0, "READY=1");
}

void notify_stopping() {
  if (std::getenv("NOTIFY_SOCKET")) sd_notify(0, "STOPPING=1");
}

void start_watchdog(Reactor& reactor) {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return;
  auto half = std::chrono::milliseconds(std::max<uint64_t>(usec / 2000, 1));
  reactor.every(half, [] { sd_notify(0, "WATCHDOG=1"); });
}

}  // namespace mp::bus
