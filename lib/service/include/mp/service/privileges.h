// Least privilege for services started as root: each runs as a system user of its own, member
// of the group that may reach the bus (`mpoint`). Root is kept only by the small steps that need
// it (e.g. mp-webfilter's nftables helper, forked before the drop).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace mp::service {

// The group whose members may reach the bus's runtime directory and sockets.
inline constexpr const char* kServiceGroup = "mpoint";

struct SystemUser {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;        // its primary group
  gid_t group_gid = 0;  // the service group it is a member of
  std::string error;    // not empty: the user could not be made; the rest is unset
  bool ok() const { return error.empty(); }
};

// As root: makes sure the system group `group` (groupadd --system) and the system user `name`
// (useradd --system, no home, shell /usr/sbin/nologin, its own primary group, member of
// `group`) exist, creating what is missing; an existing user is added to `group` if it is not
// a member. Safe when several services do it at once.
SystemUser ensure_system_user(const std::string& name, const std::string& group = kServiceGroup);

struct PathAccess {
  std::filesystem::path path;
  int mode = 0;  // as for access(2): X_OK to pass through a directory, W_OK to connect to a socket
};
// Whether `user` (with its groups) has `mode` on every path, tried in a child process that takes
// the user's identity. Call as root. Empty if so, else which path it cannot use and why.
std::string check_access_as(const SystemUser& user, const std::vector<PathAccess>& paths);

// Whether `user` could reach the bus in `runtime_dir`: pass through the directory and connect
// to the sockets a service uses (those that exist: a broker not started yet has none). Empty
// if so, else why not.
std::string check_bus_access_as(const SystemUser& user, const std::filesystem::path& runtime_dir);
// check_bus_access_as() as a service's reason not to start: what is wrong and what to do.
std::string bus_unreachable_as(const SystemUser& user, const std::filesystem::path& runtime_dir);

// For a service started as root that would rather run as `user`: makes the account and checks
// that it could still reach the bus. The account to drop to; nullopt, with a warning saying
// why, when the service has to stay root. Empty `user` (stay root on purpose): nullopt, quietly.
std::optional<SystemUser> service_user_reaching_bus(const std::string& user,
                                                    const std::filesystem::path& runtime_dir);

// Becomes `user` for good: its supplementary groups, then real/effective/saved gid and uid, then
// PR_SET_NO_NEW_PRIVS; then checks that root cannot be had back (setuid(0) fails, no
// capabilities left). The parent-death signal (which a credential change clears) is set again.
// Call before starting threads. Empty on success, else what failed (the process must not go
// on as if it had dropped).
std::string drop_privileges(const std::string& user);

}  // namespace mp::service
