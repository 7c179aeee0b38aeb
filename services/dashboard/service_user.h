// mp-dashboard as a system user of its own: it parses untrusted HTTP from the whole LAN, so as
// root it becomes `mp-dashboard` (member of group mpoint, which may reach the bus) before it
// starts a thread, opens a socket or reads a byte from the network. Nothing it does needs root
// afterwards: it listens on an unprivileged port and talks only to the bus.
#pragma once

#include <filesystem>
#include <string>

namespace mp::dashboard {

inline constexpr const char* kDefaultUser = "mp-dashboard";

// As root: makes sure the system user `user` exists, checks that it will reach the bus in
// `runtime_dir`, gives it `state_dir` (created mode 0700), then drops root for good. Empty on
// success, else why not (the process must stop: it would otherwise go on as root, or cut off).
std::string become_service_user(const std::string& user, const std::filesystem::path& runtime_dir,
                                const std::filesystem::path& state_dir);

}  // namespace mp::dashboard
