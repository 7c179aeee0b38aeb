#include "session_processes.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace mp::session {

namespace {

// What went wrong in the child before exec, sent back through the close-on-exec pipe.
struct ChildFailure {
  int stage;
  int error;
};
constexpr const char* kStages[] = {"setsid", "file descriptors", "setgroups",
                                   "setgid", "setuid",           "exec"};

[[noreturn]] void child_fail(int pipe_fd, int stage) {
  ChildFailure failure{stage, errno};
  ssize_t ignored = write(pipe_fd, &failure, sizeof failure);
  (void)ignored;
  _exit(127);
}

struct ProcStat {
  char state = '?';
  pid_t session = 0;
};

std::optional<ProcStat> read_stat(pid_t pid) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(file, line)) return std::nullopt;
  // The command name may hold spaces and parentheses: fields start after the last ')'.
  auto close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(line.substr(close + 1));
  ProcStat stat;
  pid_t ppid = 0, pgrp = 0;
  if (!(rest >> stat.state >> ppid >> pgrp >> stat.session)) return std::nullopt;
  return stat;
}

std::vector<pid_t> all_pids() {
  std::vector<pid_t> pids;
  DIR* dir = opendir("/proc");
  if (!dir) return pids;
  while (dirent* entry = readdir(dir)) {
    char* end = nullptr;
    long value = std::strtol(entry->d_name, &end, 10);
    if (end && *end == '\0' && value > 0) pids.push_back(static_cast<pid_t>(value));
  }
  closedir(dir);
  return pids;
}

}  // namespace

SpawnResult spawn(const SpawnRequest& request) {
  SpawnResult result;
  if (request.argv.empty()) {
    result.error = "nothing to run";
    return result;
  }
  if (request.run_as && (request.run_as->uid == 0 || request.run_as->gid == 0)) {
    result.error = "refusing to run " + request.argv[0] + " as root";
    return result;
  }
  // Built before fork: the child may only make async-signal-safe calls.
  std::vector<char*> argv, envp;
  for (const auto& a : request.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : request.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  std::vector<gid_t> groups;
  uid_t uid = 0;
  gid_t gid = 0;
  if (request.run_as) {
    groups = request.run_as->groups;
    uid = request.run_as->uid;
    gid = request.run_as->gid;
  }
  const bool drop = request.run_as.has_value();
  const char* output_path = request.output_path.empty() ? nullptr : request.output_path.c_str();

  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) {
    result.error = std::string("pipe: ") + std::strerror(errno);
    return result;
  }
  pid_t pid = fork();
  if (pid < 0) {
    result.error = std::string("fork: ") + std::strerror(errno);
    close(report[0]);
    close(report[1]);
    return result;
  }
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);  // mp-session blocks TERM/INT for its signalfd
    struct sigaction deflt {};
    deflt.sa_handler = SIG_DFL;
    sigaction(SIGPIPE, &deflt, nullptr);
    if (setsid() < 0) child_fail(report[1], 0);
    // Move the inputs out of the way of 0..3 first, then place them.
    int null_fd = open("/dev/null", O_RDWR);
    int out = request.output_fd >= 0 ? fcntl(request.output_fd, F_DUPFD, 10) : -1;
    int pass = request.pass_fd >= 0 ? fcntl(request.pass_fd, F_DUPFD, 10) : -1;
    if (null_fd < 0) child_fail(report[1], 1);
    if (dup2(null_fd, 0) < 0) child_fail(report[1], 1);
    if (dup2(out >= 0 ? out : null_fd, 1) < 0) child_fail(report[1], 1);
    if (dup2(out >= 0 ? out : null_fd, 2) < 0) child_fail(report[1], 1);
    if (pass >= 0 && dup2(pass, 3) < 0) child_fail(report[1], 1);
    // Nothing else of mp-session's (bus sockets, the database) reaches the desktop. The report
    // pipe is close-on-exec already and must stay open until exec.
    syscall(SYS_close_range, pass >= 0 ? 4u : 3u, ~0u, CLOSE_RANGE_CLOEXEC);
    if (drop) {
      // Raw syscalls: this child has one thread, and glibc's wrappers would try to reach the
      // parent's other threads.
      if (syscall(SYS_setgroups, groups.size(), groups.data()) != 0) child_fail(report[1], 2);
      if (syscall(SYS_setresgid, gid, gid, gid) != 0) child_fail(report[1], 3);
      if (syscall(SYS_setresuid, uid, uid, uid) != 0) child_fail(report[1], 4);
    }
    if (output_path) {
      int log = open(output_path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
      if (log >= 0) {
        dup2(log, 1);
        dup2(log, 2);
      }
    }
    if (chdir(request.cwd.c_str()) != 0 && chdir("/") != 0) {
      // stays where it is
    }
    execve(argv[0], argv.data(), envp.data());
    child_fail(report[1], 5);
  }
  close(report[1]);
  ChildFailure failure{};
  ssize_t n;
  do {
    n = read(report[0], &failure, sizeof failure);
  } while (n < 0 && errno == EINTR);
  close(report[0]);
  if (n == static_cast<ssize_t>(sizeof failure)) {
    int status = 0;
    waitpid(pid, &status, 0);
    int stage = failure.stage >= 0 && failure.stage <= 5 ? failure.stage : 5;
    result.error = request.argv[0] + ": " + kStages[stage] + ": " + std::strerror(failure.error);
    return result;
  }
  result.pid = pid;
  // Our child cannot be reaped (and its pid reused) before we wait for it: no race here.
  result.pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  return result;
}

std::vector<std::string> command_line(pid_t pid) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  std::vector<std::string> args;
  std::string arg;
  while (std::getline(file, arg, '\0')) args.push_back(arg);
  return args;
}

std::optional<uid_t> process_uid(pid_t pid) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(file, line)) {
    if (line.rfind("Uid:", 0) == 0) {
      std::istringstream fields(line.substr(4));
      uid_t uid = 0;
      if (fields >> uid) return uid;
    }
  }
  return std::nullopt;
}

bool process_alive(pid_t pid) {
  if (pid <= 0) return false;
  auto stat = read_stat(pid);
  return stat && stat->state != 'Z' && stat->state != 'X';
}

bool process_stopped(pid_t pid) {
  if (pid <= 0) return false;
  auto stat = read_stat(pid);
  // T: stopped by a signal (SIGSTOP, SIGTSTP); t: stopped by a tracer (ptrace).
  return stat && (stat->state == 'T' || stat->state == 't');
}

bool is_display_server(pid_t pid, const std::string& display) {
  if (!process_alive(pid)) return false;
  auto args = command_line(pid);
  if (args.empty()) return false;
  auto name = std::filesystem::path(args[0]).filename().string();
  if (name != "Xvfb" && name != "Xorg" && name != "X") return false;
  for (std::size_t i = 1; i < args.size(); ++i) {
    if (args[i] == display) return true;
  }
  return false;
}

std::vector<pid_t> processes_in_sessions(const std::set<pid_t>& sessions) {
  std::vector<pid_t> found;
  if (sessions.empty()) return found;
  for (pid_t pid : all_pids()) {
    auto stat = read_stat(pid);
    if (stat && stat->state != 'Z' && sessions.contains(stat->session)) found.push_back(pid);
  }
  return found;
}

std::vector<pid_t> processes_of_user(uid_t uid) {
  std::vector<pid_t> found;
  for (pid_t pid : all_pids()) {
    if (process_uid(pid) == uid && process_alive(pid)) found.push_back(pid);
  }
  return found;
}

int open_pidfd(pid_t pid) {
  if (pid <= 0) return -1;
  return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
}

void reap(int pidfd) {
  siginfo_t info{};
  // ECHILD for a process that is not ours (adopted after a restart): init reaps it.
  waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &info, WEXITED | WNOHANG);
}

ProcessWatch::ProcessWatch(mp::bus::Reactor& reactor, int pidfd, pid_t pid,
                           std::function<void()> on_exit)
    : reactor_(reactor), pidfd_(pidfd), pid_(pid), on_exit_(std::move(on_exit)) {
  reactor_.watch_fd(pidfd_, [this] {
    // A pidfd is readable once the process has exited; it stays readable, so stop watching.
    reactor_.unwatch_fd(pidfd_);
    reap(pidfd_);
    auto callback = std::move(on_exit_);
    on_exit_ = nullptr;
    if (callback) callback();  // may destroy this watch
  });
}

ProcessWatch::~ProcessWatch() {
  reactor_.unwatch_fd(pidfd_);
  reap(pidfd_);
  close(pidfd_);
}

std::size_t signal_processes(const std::set<pid_t>& sessions, std::optional<uid_t> uid, int signo) {
  std::set<pid_t> targets;
  for (pid_t pid : processes_in_sessions(sessions)) targets.insert(pid);
  if (uid && *uid != 0) {
    for (pid_t pid : processes_of_user(*uid)) targets.insert(pid);
  }
  targets.erase(getpid());
  for (pid_t pid : targets) kill(pid, signo);
  return targets.size();
}

bool end_sessions_blocking(const std::set<pid_t>& sessions, std::optional<uid_t> uid,
                           std::chrono::milliseconds grace) {
  if (signal_processes(sessions, uid, SIGTERM) == 0) return true;
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (signal_processes(sessions, uid, 0) == 0) return true;
  }
  signal_processes(sessions, uid, SIGKILL);
  for (int i = 0; i < 40; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
    if (signal_processes(sessions, uid, 0) == 0) return true;
  }
  return false;
}

}  // namespace mp::session
