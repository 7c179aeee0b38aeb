#include "process_cpu.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

namespace mp::bench {

namespace {

struct ProcStat {
  pid_t pid = 0;
  pid_t ppid = 0;
  uid_t uid = 0;
  std::string name;
  std::uint64_t ticks = 0;
};

bool read_stat(pid_t pid, ProcStat& out) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  // comm may hold spaces and parentheses: it ends at the last ')'.
  auto open = line.find('('), close = line.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open) return false;
  out.pid = pid;
  out.name = line.substr(open + 1, close - open - 1);
  std::istringstream rest(line.substr(close + 2));
  // Fields 3.. : state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime
  // stime
  std::string state;
  long ppid = 0;
  std::uint64_t skip = 0, utime = 0, stime = 0;
  rest >> state >> ppid;
  for (int i = 0; i < 9; ++i) rest >> skip;
  rest >> utime >> stime;
  if (!rest) return false;
  out.ppid = static_cast<pid_t>(ppid);
  out.ticks = utime + stime;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  while (std::getline(status, line)) {
    if (line.rfind("Uid:", 0) == 0) {
      out.uid = static_cast<uid_t>(std::strtoul(line.c_str() + 4, nullptr, 10));
      break;
    }
  }
  return true;
}

std::vector<ProcStat> all_processes() {
  std::vector<ProcStat> found;
  DIR* dir = opendir("/proc");
  if (dir == nullptr) return found;
  while (dirent* entry = readdir(dir)) {
    char* end = nullptr;
    long pid = std::strtol(entry->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    ProcStat stat;
    if (read_stat(static_cast<pid_t>(pid), stat)) found.push_back(stat);
  }
  closedir(dir);
  return found;
}

// `pid` and every process below it.
std::set<pid_t> tree_of(const std::vector<ProcStat>& processes, pid_t root) {
  std::set<pid_t> tree{root};
  bool grew = true;
  while (grew) {
    grew = false;
    for (const auto& p : processes) {
      if (tree.count(p.ppid) != 0 && tree.insert(p.pid).second) grew = true;
    }
  }
  return tree;
}

}  // namespace

std::map<pid_t, ProcessTicks> read_server_ticks(const ServerProcesses& which, pid_t exclude) {
  auto processes = all_processes();
  std::set<pid_t> chosen;
  for (pid_t root : which.roots) {
    auto tree = tree_of(processes, root);
    chosen.insert(tree.begin(), tree.end());
  }
  for (const auto& p : processes) {
    if (std::find(which.uids.begin(), which.uids.end(), p.uid) != which.uids.end()) {
      chosen.insert(p.pid);
    }
  }
  for (pid_t pid : tree_of(processes, exclude)) chosen.erase(pid);
  std::map<pid_t, ProcessTicks> ticks;
  for (const auto& p : processes) {
    if (chosen.count(p.pid) != 0) ticks[p.pid] = ProcessTicks{p.name, p.ticks};
  }
  return ticks;
}

std::vector<ProcessCpu> cpu_between(const std::map<pid_t, ProcessTicks>& before,
                                    const std::map<pid_t, ProcessTicks>& after, double seconds) {
  static const double ticks_per_second = static_cast<double>(sysconf(_SC_CLK_TCK));
  std::vector<ProcessCpu> result;
  for (const auto& [pid, now] : after) {
    auto then = before.find(pid);
    std::uint64_t start =
        then != before.end() && then->second.name == now.name ? then->second.ticks : 0;
    double used = now.ticks >= start ? static_cast<double>(now.ticks - start) : 0.0;
    result.push_back({pid, now.name, 100.0 * used / ticks_per_second / seconds});
  }
  std::sort(result.begin(), result.end(),
            [](const ProcessCpu& a, const ProcessCpu& b) { return a.percent > b.percent; });
  return result;
}

}  // namespace mp::bench
