// What every service's main() shares: logging setup, systemd readiness and watchdog.
#pragma once

#include <string>

#include "mp/bus/reactor.h"

namespace mp::bus {

// Sets spdlog's default logger to stderr with the service name and `level`
// ("trace".."off"); returns false for an unknown level.
bool setup_logging(const std::string& service, const std::string& level);

// sd_notify READY=1 when run under systemd (NOTIFY_SOCKET set); no-op otherwise.
void notify_ready();
// If systemd asked for a watchdog (WATCHDOG_USEC), pings it at half that interval.
void start_watchdog(Reactor& reactor);
void notify_stopping();

}  // namespace mp::bus
