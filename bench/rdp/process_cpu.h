// CPU time of the server side of a benchmark, read from /proc: every process in the trees below
// some root pids, and every process owned by some uids (a session's X server and desktop run as
// the session's user and need not descend from the server that started them).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace mp::bench {

struct ProcessTicks {
  std::string name;         // comm
  std::uint64_t ticks = 0;  // utime + stime, in clock ticks
};

struct ServerProcesses {
  std::vector<pid_t> roots;  // these and all their descendants
  std::vector<uid_t> uids;   // every process whose real uid is one of these
};

// One reading of every matching process (pid -> ticks). `exclude` (and its descendants) is
// never counted: the benchmark client itself.
std::map<pid_t, ProcessTicks> read_server_ticks(const ServerProcesses& which, pid_t exclude);

struct ProcessCpu {
  pid_t pid = 0;
  std::string name;
  double percent = 0;  // of one core over the interval
};

// Per-process CPU between two readings `seconds` apart. A process only in `after` counts all its
// ticks (it started within the interval); one only in `before` counts nothing (it is gone).
std::vector<ProcessCpu> cpu_between(const std::map<pid_t, ProcessTicks>& before,
                                    const std::map<pid_t, ProcessTicks>& after, double seconds);

}  // namespace mp::bench
