// Applications an operator launches in, or closes from, a running desktop (SystemDesktops).
#include <signal.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "system_desktops.h"

namespace mp::session {

namespace {

// The process's name as the kernel keeps it (at most 15 characters).
std::string process_name(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  std::getline(in, name);
  return name;
}

// `program` names the process: its executable's file name, or (as the kernel cuts it) the
// first 15 characters of it.
bool runs_program(pid_t pid, const std::string& program) {
  auto args = command_line(pid);
  if (args.empty()) return false;
  if (std::filesystem::path(args[0]).filename() == program) return true;
  return process_name(pid) == program.substr(0, 15);
}

}  // namespace

bool SystemDesktops::launch_app(std::uint64_t id, const std::vector<std::string>& command,
                                std::string* reason) {
  auto it = running_.find(id);
  if (it == running_.end()) {
    *reason = "the session has no running desktop";
    return false;
  }
  Running& running = *it->second;
  SpawnResult app =
      launcher_.start_app(running.files, running.account, running.record.display, command);
  if (app.pid < 0 || app.pidfd < 0) {
    *reason = "cannot start " + command.front() + ": " + app.error;
    return false;
  }
  pid_t pid = app.pid;
  running.apps[pid] = std::make_unique<ProcessWatch>(reactor_, app.pidfd, pid, [this, id, pid] {
    // Not from inside the watch's own callback: erase it on the next turn of the loop.
    reactor_.after(std::chrono::milliseconds(0), [this, id, pid] {
      if (auto found = running_.find(id); found != running_.end()) found->second->apps.erase(pid);
    });
  });
  spdlog::info("session {}: started {} (pid {})", id, command.front(), pid);
  return true;
}

int SystemDesktops::close_app(std::uint64_t id, const std::string& program, std::string* reason) {
  auto it = running_.find(id);
  if (it == running_.end()) {
    *reason = "the session has no running desktop";
    return -1;
  }
  Running& running = *it->second;
  // The desktop's own processes and what the operator launched; as root, everything its user
  // runs (programs a desktop starts may leave its Unix session).
  std::set<pid_t> sessions;
  for (std::int64_t pid : {running.record.processes.session, running.record.processes.agent}) {
    if (pid > 0) sessions.insert(static_cast<pid_t>(pid));
  }
  for (const auto& [pid, watch] : running.apps) sessions.insert(pid);
  std::set<pid_t> candidates;
  for (pid_t pid : processes_in_sessions(sessions)) candidates.insert(pid);
  if (accounts_.manages_accounts() && running.account.uid != 0) {
    for (pid_t pid : processes_of_user(running.account.uid)) candidates.insert(pid);
  }
  // Never the desktop's own pillars: closing "xterm" must not end a session whose desktop
  // command is xterm.
  for (std::int64_t pid : {running.record.processes.xvfb, running.record.processes.session,
                           running.record.processes.agent}) {
    candidates.erase(static_cast<pid_t>(pid));
  }
  int closed = 0;
  for (pid_t pid : candidates) {
    if (runs_program(pid, program) && kill(pid, SIGTERM) == 0) ++closed;
  }
  spdlog::info("session {}: closed {} ({} processes sent TERM)", id, program, closed);
  return closed;
}

}  // namespace mp::session
