// Restarting or shutting down the server: the operator's request runs the configured command
// (systemctl by default), detached from the supervisor so that stopping the services, which
// the command itself does, cannot cut it short.
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "supervisor.h"

#include <fcntl.h>

namespace mp::supervisor {

using mp::schema::Envelope;
using mp::schema::Error;

namespace {

// Runs `argv` as a grandchild that init adopts, so nobody needs to reap it. Error text or "".
std::string run_detached(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& word : argv) args.push_back(const_cast<char*>(word.c_str()));
  args.push_back(nullptr);
  int ready[2];
  if (pipe2(ready, O_CLOEXEC) != 0) return std::string("pipe: ") + strerror(errno);
  pid_t child = fork();
  if (child < 0) {
    close(ready[0]);
    close(ready[1]);
    return std::string("fork: ") + strerror(errno);
  }
  if (child == 0) {
    setsid();
    pid_t grandchild = fork();
    if (grandchild != 0) _exit(grandchild < 0 ? 1 : 0);
    execv(args[0], args.data());
    int error = errno;  // exec failed: tell the supervisor why
    [[maybe_unused]] auto written = write(ready[1], &error, sizeof(error));
    _exit(127);
  }
  close(ready[1]);
  int status = 0;
  waitpid(child, &status, 0);
  int exec_error = 0;
  ssize_t got = read(ready[0], &exec_error, sizeof(exec_error));  // EOF once exec succeeded
  close(ready[0]);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return "fork failed";
  if (got == sizeof(exec_error)) return std::string("exec: ") + strerror(exec_error);
  return "";
}

}  // namespace

void Supervisor::power(mp::schema::PowerRequest::Action action, Envelope::Builder reply) {
  using Action = mp::schema::PowerRequest::Action;
  if (action != Action::RESTART && action != Action::SHUTDOWN) {
    mp::bus::set_error(reply, Error::Kind::INVALID, "powerRequest needs restart or shutdown");
    return;
  }
  const char* what = action == Action::RESTART ? "restart" : "shutdown";
  const auto& command = action == Action::RESTART ? options_.config.restart_command
                                                  : options_.config.shutdown_command;
  if (command.empty()) {
    mp::bus::set_error(reply, Error::Kind::FAILED,
                       std::string("no ") + what + "_command is configured");
    return;
  }
  spdlog::warn("server {} asked: running {}", what, command.front());
  if (auto error = run_detached(command); !error.empty()) {
    spdlog::error("server {}: {} failed: {}", what, command.front(), error);
    mp::bus::set_error(reply, Error::Kind::FAILED, command.front() + ": " + error);
    return;
  }
  reply.initAck().setDetail(std::string("running ") + command.front());
}

}  // namespace mp::supervisor
