// Real processes for integration tests: start a binary with arguments and environment,
// signal it, wait for it, read what it printed.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mp::test {

// The directory the build puts every binary in (mp-bus, mp-session, mpctl, ...).
std::filesystem::path bin_dir();
std::filesystem::path source_dir();

class ChildProcess {
 public:
  struct Options {
    std::map<std::string, std::string> env;  // added to (and overriding) this process's env
    std::optional<std::string> stdin_text;   // written to the child's stdin, then closed
    std::filesystem::path output_file;       // stdout+stderr go here; empty: inherit
  };
  ChildProcess(const std::filesystem::path& program, const std::vector<std::string>& args,
               Options options);
  ChildProcess(const std::filesystem::path& program, const std::vector<std::string>& args)
      : ChildProcess(program, args, Options{}) {}
  ~ChildProcess();  // SIGKILLs and reaps it if it still runs
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  void signal(int signo);
  // Waits for exit; returns the exit code (128+signal if killed), or nullopt on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  // SIGTERM, then SIGKILL after `grace`; returns the exit code.
  int stop(std::chrono::milliseconds grace = std::chrono::milliseconds(5000));

 private:
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
};

struct RunResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};
// Runs a program to completion (killing it after `timeout`), capturing its output.
RunResult run(const std::filesystem::path& program, const std::vector<std::string>& args,
              ChildProcess::Options options = {},
              std::chrono::milliseconds timeout = std::chrono::seconds(30));

// Polls `condition` every 20 ms until it holds or `timeout` passes.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

std::string read_file(const std::filesystem::path& path);

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then closed).
int free_port();

// As root: ends every process of the Linux account `name` and removes it with its home (as
// tests that log on leave desktops running as it). Waits for the processes to go, since
// userdel refuses a user that still runs something. Does nothing when not root.
void remove_linux_account(const std::string& name);

}  // namespace mp::test
