#include "support/process.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace mp::test {

std::filesystem::path bin_dir() { return MP_BIN_DIR; }
std::filesystem::path source_dir() { return MP_SOURCE_DIR; }

namespace {

std::vector<std::string> merged_environment(const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> all;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry(*e);
    auto eq = entry.find('=');
    if (eq != std::string::npos) all[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  for (const auto& [key, value] : extra) all[key] = value;
  std::vector<std::string> out;
  for (const auto& [key, value] : all) out.push_back(key + "=" + value);
  return out;
}

int exit_code_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

ChildProcess::ChildProcess(const std::filesystem::path& program,
                           const std::vector<std::string>& args, Options options) {
  std::vector<std::string> env = merged_environment(options.env);
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_storage{program.string()};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);

  int stdin_pipe[2] = {-1, -1};
  if (options.stdin_text && pipe2(stdin_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe: " + std::string(strerror(errno)));
  }
  int out_fd = -1;
  if (!options.output_file.empty()) {
    out_fd = open(options.output_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (out_fd < 0) throw std::runtime_error("open " + options.output_file.string());
  }
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork: " + std::string(strerror(errno)));
  if (pid_ == 0) {
    if (stdin_pipe[0] >= 0) dup2(stdin_pipe[0], STDIN_FILENO);
    if (out_fd >= 0) {
      dup2(out_fd, STDOUT_FILENO);
      dup2(out_fd, STDERR_FILENO);
    }
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  if (out_fd >= 0) close(out_fd);
  if (stdin_pipe[0] >= 0) {
    close(stdin_pipe[0]);
    const std::string& text = *options.stdin_text;
    std::size_t written = 0;
    while (written < text.size()) {
      ssize_t n = write(stdin_pipe[1], text.data() + written, text.size() - written);
      if (n <= 0) break;
      written += static_cast<std::size_t>(n);
    }
    close(stdin_pipe[1]);
  }
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !exit_code_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
}

bool ChildProcess::running() {
  if (exit_code_) return false;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exit_code_ = exit_code_of(status);
    return false;
  }
  return true;
}

void ChildProcess::signal(int signo) {
  if (!exit_code_) ::kill(pid_, signo);
}

std::optional<int> ChildProcess::wait(std::chrono::milliseconds timeout) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() >= until) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return exit_code_;
}

int ChildProcess::stop(std::chrono::milliseconds grace) {
  signal(SIGTERM);
  if (auto code = wait(grace)) return *code;
  signal(SIGKILL);
  return wait(std::chrono::seconds(10)).value_or(-1);
}

RunResult run(const std::filesystem::path& program, const std::vector<std::string>& args,
              ChildProcess::Options options, std::chrono::milliseconds timeout) {
  char path_template[] = "/tmp/mp-run-XXXXXX";
  int fd = mkstemp(path_template);
  if (fd < 0) throw std::runtime_error("mkstemp");
  close(fd);
  options.output_file = path_template;
  RunResult result;
  {
    ChildProcess child(program, args, options);
    auto code = child.wait(timeout);
    if (!code) {
      child.signal(SIGKILL);
      code = child.wait(std::chrono::seconds(5));
      result.output = "[killed after timeout]\n";
    }
    result.exit_code = code.value_or(-1);
  }
  result.output += read_file(path_template);
  std::filesystem::remove(path_template);
  return result;
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof address;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) == 0) {
    port = ntohs(address.sin_port);
  }
  ::close(fd);
  return port;
}

void remove_linux_account(const std::string& name) {
  if (geteuid() != 0 || name.empty()) return;
  for (int attempt = 0; attempt < 50; ++attempt) {
    run("/usr/bin/pkill", {"-KILL", "-u", name});
    if (run("/usr/sbin/userdel", {"-r", name}).exit_code != 8) return;  // 8: user logged in
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace mp::test
