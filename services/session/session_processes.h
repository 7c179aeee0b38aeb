// The processes of a desktop: started as the session's user, each in a Unix session of its own
// (so signals to mp-session or its process group never reach them), found again through /proc
// after mp-session restarts, and ended by Unix session id (TERM, then KILL).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "mp/bus/reactor.h"
#include "unix_account.h"

namespace mp::session {

struct SpawnRequest {
  std::vector<std::string> argv;  // argv[0]: the program's path
  std::vector<std::string> env;   // the whole environment, "NAME=value"
  // Who it runs as; nullopt: as mp-session itself (development, not root). A uid or gid 0
  // is refused: a session's processes never run as root.
  std::optional<UnixAccount> run_as;
  std::string cwd = "/";
  int output_fd = -1;  // stdout and stderr; -1: /dev/null
  // If set, stdout and stderr go to this file instead, opened (append, create 0600, no
  // symlinks) by the child after it dropped to `run_as`: root never opens a path the user
  // controls.
  std::string output_path;
  int pass_fd = -1;  // becomes fd 3 in the child (Xvfb's -displayfd); -1: none
};

struct SpawnResult {
  pid_t pid = -1;
  int pidfd = -1;  // owned by the caller; -1 with an error
  std::string error;
};

// Forks, starts a new Unix session (setsid), drops to `run_as`, execs. An exec failure is
// reported here (through a close-on-exec pipe), not as a child that exits at once.
SpawnResult spawn(const SpawnRequest& request);

// /proc ---------------------------------------------------------------------------------------

// The command line of `pid` as its arguments; empty if it is gone (or a zombie).
std::vector<std::string> command_line(pid_t pid);
// Real uid of `pid`, if it exists.
std::optional<uid_t> process_uid(pid_t pid);
// True if `pid` runs and is not a zombie.
bool process_alive(pid_t pid);
// True if `pid` is stopped (SIGSTOP) or held by a tracer.
bool process_stopped(pid_t pid);
// True if `pid` is an X server (Xvfb/Xorg/X) started for `display` (e.g. ":10").
bool is_display_server(pid_t pid, const std::string& display);
// Every live process whose Unix session id is in `sessions`.
std::vector<pid_t> processes_in_sessions(const std::set<pid_t>& sessions);
// Every live process whose real uid is `uid`.
std::vector<pid_t> processes_of_user(uid_t uid);

// A pidfd for a process that is not (or no longer) our child; -1 if it is gone.
int open_pidfd(pid_t pid);
// Reaps `pidfd`'s process if it is our child and has exited; harmless otherwise.
void reap(int pidfd);

// Calls back once when a process exits, from the reactor; reaps it if it is our child.
class ProcessWatch {
 public:
  // Takes ownership of `pidfd`.
  ProcessWatch(mp::bus::Reactor& reactor, int pidfd, pid_t pid, std::function<void()> on_exit);
  ~ProcessWatch();
  ProcessWatch(const ProcessWatch&) = delete;
  ProcessWatch& operator=(const ProcessWatch&) = delete;
  pid_t pid() const { return pid_; }

 private:
  mp::bus::Reactor& reactor_;
  int pidfd_;
  pid_t pid_;
  std::function<void()> on_exit_;
};

// Sends `signo` to every process in the Unix sessions `sessions` and, when `uid` is set, to every
// process of that user. Returns how many were signalled.
std::size_t signal_processes(const std::set<pid_t>& sessions, std::optional<uid_t> uid, int signo);

// Ends whole Unix sessions: TERM to every process in them (and, when `uid` is set, to every
// process of that user), then KILL to whatever is left after `grace`. Blocking; returns true if
// nothing was left at the end.
bool end_sessions_blocking(const std::set<pid_t>& sessions, std::optional<uid_t> uid,
                           std::chrono::milliseconds grace);

}  // namespace mp::session
