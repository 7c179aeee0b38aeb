#include "display_reservation.h"

#include <signal.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "session_processes.h"

namespace mp::session {

namespace fs = std::filesystem;

namespace {

// How long a killed squatter gets to be gone before its files are removed.
constexpr auto kDeathWait = std::chrono::milliseconds(500);

std::optional<pid_t> read_lock_pid(const std::string& file) {
  std::ifstream in(file);
  long pid = 0;
  if (!(in >> pid) || pid <= 0 || pid > 4194304) return std::nullopt;
  return static_cast<pid_t>(pid);
}

void wait_gone(pid_t pid) {
  auto until = std::chrono::steady_clock::now() + kDeathWait;
  while (process_alive(pid) && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace

DisplayReservation::DisplayReservation(bool evict, IsStudent is_student, DisplayPaths paths)
    : evict_(evict), is_student_(std::move(is_student)), paths_(std::move(paths)) {}

std::string DisplayReservation::lock_file(int number) const {
  return paths_.tmp + "/.X" + std::to_string(number) + "-lock";
}

std::string DisplayReservation::socket_file(int number) const {
  return paths_.tmp + "/.X11-unix/X" + std::to_string(number);
}

std::string DisplayReservation::abstract_name(int number) const {
  // Always the standard name: clients look for it there, whatever our test paths are.
  return "@/tmp/.X11-unix/X" + std::to_string(number);
}

std::vector<unsigned long> DisplayReservation::abstract_listeners(int number) const {
  std::ifstream in(paths_.proc + "/net/unix");
  std::string line, name = abstract_name(number);
  std::vector<unsigned long> inodes;
  std::getline(in, line);  // the header
  while (std::getline(in, line)) {
    // Num RefCount Protocol Flags Type St Inode Path
    std::istringstream fields(line);
    std::string num, refs, protocol, flags, type, state, path;
    unsigned long inode = 0;
    if (!(fields >> num >> refs >> protocol >> flags >> type >> state >> inode >> path)) continue;
    if (path == name) inodes.push_back(inode);
  }
  return inodes;
}

std::vector<pid_t> DisplayReservation::holders(const std::vector<unsigned long>& inodes) const {
  std::vector<pid_t> pids;
  if (inodes.empty()) return pids;
  std::vector<std::string> wanted;
  for (unsigned long inode : inodes) wanted.push_back("socket:[" + std::to_string(inode) + "]");
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(paths_.proc, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::error_code fd_ec;
    for (const auto& fd : fs::directory_iterator(entry.path() / "fd", fd_ec)) {
      std::error_code link_ec;
      auto target = fs::read_symlink(fd.path(), link_ec).string();
      if (!link_ec && std::find(wanted.begin(), wanted.end(), target) != wanted.end()) {
        pids.push_back(static_cast<pid_t>(std::stol(name)));
        break;
      }
    }
  }
  return pids;
}

bool DisplayReservation::evict(pid_t pid, const std::string& what) {
  auto uid = process_uid(pid);
  if (!evict_ || !uid || !is_student_ || !is_student_(*uid)) return false;
  spdlog::warn("display range: process {} of uid {} {}; killed (the range is multipoint's)", pid,
               *uid, what);
  actions_.push_back("killed " + std::to_string(pid));
  kill(pid, SIGKILL);
  wait_gone(pid);
  return true;
}

bool DisplayReservation::clear_for_use(int number) {
  actions_.clear();
  const std::string display = ":" + std::to_string(number);
  std::error_code ec;
  // 1. The lock file: an X server that really runs there keeps the number, unless it is a
  //    student's; a stale or forged file goes.
  const std::string lock = lock_file(number);
  if (fs::exists(lock, ec) || fs::is_symlink(lock, ec)) {
    auto pid = read_lock_pid(lock);
    if (pid && is_display_server(*pid, display) && !evict(*pid, "runs an X server on " + display)) {
      return false;
    }
    if (!evict_) return false;
    fs::remove(lock, ec);
    actions_.push_back("removed " + lock);
  }
  // 2. The socket file: nothing serves it any more (no live server holds the lock).
  const std::string socket = socket_file(number);
  if (fs::exists(socket, ec) || fs::is_symlink(socket, ec)) {
    if (!evict_) return false;
    fs::remove(socket, ec);
    actions_.push_back("removed " + socket);
  }
  // 3. The abstract socket, which clients try first.
  auto listeners = abstract_listeners(number);
  if (!listeners.empty()) {
    for (pid_t pid : holders(listeners)) {
      if (!evict(pid, "listens on " + abstract_name(number))) return false;
    }
    if (!abstract_listeners(number).empty()) return false;  // still held (or by nobody we see)
  }
  if (!actions_.empty()) {
    spdlog::info("display {} cleared for a session ({} things removed or ended)", display,
                 actions_.size());
  }
  return true;
}

bool DisplayReservation::held_by(int number, pid_t pid) const {
  auto listeners = abstract_listeners(number);
  if (listeners.empty()) return false;  // Xvfb always listens there too
  // An abstract name has one listener at most (a second bind fails), so if Xvfb holds it,
  // nobody else listens there; its children may share the descriptor for a moment.
  auto pids = holders(listeners);
  return std::find(pids.begin(), pids.end(), pid) != pids.end();
}

}  // namespace mp::session
