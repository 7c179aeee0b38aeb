#include "privilege_drop.h"

#include <dirent.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <vector>

#include "mp/service/privileges.h"

namespace mp::rdp {

namespace {

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

// Hands one entry of `dir_fd` over when it is a regular file of root's with a single name.
// Through an O_PATH descriptor: a device or FIFO is never opened, and what is checked is what
// is changed even if the name is swapped meanwhile.
std::string hand_file_to(int dir_fd, const char* name, uid_t uid, gid_t gid) {
  int fd = openat(dir_fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return errno == ELOOP ? "" : errno_text(std::string("open ") + name);
  struct stat info {};
  std::string error;
  if (fstat(fd, &info) != 0) {
    error = errno_text(std::string("stat ") + name);
  } else if (S_ISREG(info.st_mode) && info.st_uid == 0 && info.st_nlink == 1 &&
             fchownat(fd, "", uid, gid, AT_EMPTY_PATH) != 0) {
    error = errno_text(std::string("chown ") + name);
  }
  close(fd);
  return error;
}

}  // namespace

int unprivileged_port_start() {
  std::ifstream file("/proc/sys/net/ipv4/ip_unprivileged_port_start");
  int port = 1024;
  if (!(file >> port) || port < 0) return 1024;
  return port;
}

std::string hand_state_dir_to(const std::filesystem::path& dir, uid_t uid, gid_t gid) {
  std::error_code error;
  std::filesystem::create_directories(dir.parent_path(), error);
  if (error) return "cannot create " + dir.parent_path().string() + ": " + error.message();
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return errno_text("cannot create " + dir.string());
  }
  int dir_fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dir_fd < 0) {
    return errno == ELOOP || errno == ENOTDIR
               ? dir.string() + " is not a directory (a symbolic link is not followed)"
               : errno_text("cannot open " + dir.string());
  }
  struct stat info {};
  std::string why;
  if (fstat(dir_fd, &info) != 0) {
    why = errno_text("cannot stat " + dir.string());
  } else if (info.st_uid != 0 && info.st_uid != uid) {
    why = dir.string() + " belongs to uid " + std::to_string(info.st_uid) + ", not to root or " +
          std::to_string(uid);
  } else if (fchown(dir_fd, uid, gid) != 0 || fchmod(dir_fd, 0700) != 0) {
    why = errno_text("cannot give " + dir.string() + " to uid " + std::to_string(uid));
  }
  if (!why.empty()) {
    close(dir_fd);
    return why;
  }
  // Names first, changes after: readdir on a directory being changed may skip entries.
  std::vector<std::string> names;
  int list_fd = dup(dir_fd);
  DIR* listing = list_fd >= 0 ? fdopendir(list_fd) : nullptr;
  if (listing == nullptr) {
    if (list_fd >= 0) close(list_fd);
    close(dir_fd);
    return errno_text("cannot list " + dir.string());
  }
  while (dirent* entry = readdir(listing)) {
    std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  closedir(listing);
  for (const auto& name : names) {
    why = hand_file_to(dir_fd, name.c_str(), uid, gid);
    if (!why.empty()) break;
  }
  close(dir_fd);
  return why.empty() ? "" : "in " + dir.string() + ": " + why;
}

std::string become_service_user(const std::string& user, const std::filesystem::path& runtime_dir,
                                const std::filesystem::path& state_dir, std::uint16_t port) {
  // Decided by the administrator, not worked around: no capability is kept for it.
  if (int lowest = unprivileged_port_start(); port < lowest) {
    return "port " + std::to_string(port) + " is below " + std::to_string(lowest) +
           " (net.ipv4.ip_unprivileged_port_start), which only root may listen on, and mp-rdp "
           "runs as " +
           user + ": listen on a port from " + std::to_string(lowest) +
           " up (the default is 3389), or run with --user \"\" to stay root";
  }
  auto account = mp::service::ensure_system_user(user);
  if (!account.ok()) return account.error;
  if (std::string why = mp::service::bus_unreachable_as(account, runtime_dir); !why.empty()) {
    return why;
  }
  if (std::string why = hand_state_dir_to(state_dir, account.uid, account.gid); !why.empty()) {
    return why;
  }
  // Its TLS key is read for every client and its blocked stations written on every change.
  if (std::string why = mp::service::check_access_as(account, {{state_dir, W_OK | X_OK}});
      !why.empty()) {
    return "as " + user + " it could not use its state directory (" + why +
           "): every directory above it must be passable (o+x), or choose another --state-dir, "
           "or run with --user \"\"";
  }
  if (std::string why = mp::service::drop_privileges(user); !why.empty()) {
    return "cannot drop root for " + user + ": " + why;
  }
  spdlog::info("running as {} (uid {})", user, account.uid);
  return "";
}

}  // namespace mp::rdp
