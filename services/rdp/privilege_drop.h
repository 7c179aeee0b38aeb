// mp-rdp as a system user of its own. It parses RDP from anyone who reaches its port, so as root
// it becomes `mp-rdp` (member of group mpoint, which may reach the bus and read the sessions'
// cookies for transports) before it starts a thread, opens a socket or reads a byte from the
// network. Nothing it does afterwards needs root: it listens on an unprivileged port, reads its
// own state directory, and shares MIT-SHM segments it created (their creator may hand them to
// the X server's uid without root).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>

namespace mp::rdp {

inline constexpr const char* kDefaultUser = "mp-rdp";

// The lowest port a process without root may listen on: net.ipv4.ip_unprivileged_port_start,
// 1024 when it cannot be read.
int unprivileged_port_start();

// Gives `dir` (created mode 0700 if missing) to uid:gid, mode 0700, and with it the regular
// files in it that root owns (left by an mp-rdp that ran as root: its TLS key and certificate,
// its blocked stations). A directory its user owned before may hold anything that user put
// there, so nothing is followed: `dir` itself must not be a symbolic link, links inside are
// left alone, and so are files with more than one name (a hard link to someone else's file).
// Empty on success, else why not.
std::string hand_state_dir_to(const std::filesystem::path& dir, uid_t uid, gid_t gid);

// As root, before any thread: refuses a `port` that would need root; makes sure the system user
// `user` exists; checks that as that user mp-rdp will reach the bus in `runtime_dir` and use
// `state_dir` (its own, handed over with hand_state_dir_to); then drops root for good. Empty on
// success, else why not — the process must stop (it would otherwise go on as root, or cut off).
std::string become_service_user(const std::string& user, const std::filesystem::path& runtime_dir,
                                const std::filesystem::path& state_dir, std::uint16_t port);

}  // namespace mp::rdp
