// The start every stateful service's main() shares, after its flags are parsed.
#pragma once

#include <string>

namespace mp::service {

// Sets up logging for `service` (e.g. "session") at `log_level`, creates `state_dir` and takes
// the lock `<service>.lock` in it for the life of the process: two instances on one state
// directory would hand out the same versions, so the second refuses. Returns 0 to go on, else
// the exit code for main() (2: bad flags, 1: cannot start); the reason is already reported.
int prepare_service(const std::string& service, const std::string& log_level,
                    const std::string& state_dir);

}  // namespace mp::service
