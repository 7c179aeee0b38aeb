#include "desktop_probe.h"

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "support/process.h"

namespace mp::session::test {

namespace {

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

std::vector<std::string> split_nul(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::vector<std::string> words;
  std::string word;
  while (std::getline(in, word, '\0')) words.push_back(word);
  return words;
}

}  // namespace

bool alive(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  auto close = line.rfind(')');
  if (close == std::string::npos || close + 2 >= line.size()) return false;
  char state = line[close + 2];
  return state != 'Z' && state != 'X';
}

std::set<pid_t> processes_on_display(const std::string& display) {
  std::set<pid_t> found;
  for (pid_t pid : all_pids()) {
    if (pid == getpid() || !alive(pid)) continue;
    for (const auto& entry : split_nul("/proc/" + std::to_string(pid) + "/environ")) {
      if (entry == "DISPLAY=" + display) {
        found.insert(pid);
        break;
      }
    }
  }
  return found;
}

pid_t find_process(const std::string& program, const std::string& argument) {
  for (pid_t pid : all_pids()) {
    if (!alive(pid)) continue;
    auto args = split_nul("/proc/" + std::to_string(pid) + "/cmdline");
    if (args.empty()) continue;
    const std::string& first = args[0];
    if (first.size() < program.size() ||
        first.compare(first.size() - program.size(), program.size(), program) != 0) {
      continue;
    }
    if (argument.empty()) return pid;
    for (const auto& a : args) {
      if (a == argument) return pid;
    }
  }
  return 0;
}

pid_t program_on_display(const std::string& display, const std::string& program) {
  for (pid_t pid : processes_on_display(display)) {
    auto args = split_nul("/proc/" + std::to_string(pid) + "/cmdline");
    if (!args.empty() && std::filesystem::path(args[0]).filename() == program) return pid;
  }
  return 0;
}

std::optional<uid_t> uid_of(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Uid:", 0) == 0) {
      std::istringstream fields(line.substr(4));
      uid_t uid = 0;
      if (fields >> uid) return uid;
    }
  }
  return std::nullopt;
}

bool display_accepts(const std::string& display, const std::string& xauthority) {
  auto r = mp::test::run("/usr/bin/xdpyinfo", {"-display", display},
                         {.env = {{"XAUTHORITY", xauthority}}}, std::chrono::seconds(10));
  return r.exit_code == 0;
}

bool window_viewable(const std::string& display, const std::string& xauthority,
                     const std::string& name) {
  auto r = mp::test::run("/usr/bin/xwininfo", {"-display", display, "-name", name},
                         {.env = {{"XAUTHORITY", xauthority}}}, std::chrono::seconds(10));
  return r.exit_code == 0 && r.output.find("IsViewable") != std::string::npos;
}

std::string unique_user(char suffix) {
  return "mpt" + std::to_string(getpid()) + std::string(1, suffix);
}

void delete_linux_account(const std::string& name) { mp::test::remove_linux_account(name); }

}  // namespace mp::session::test
