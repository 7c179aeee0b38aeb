// Root-only test support: a network namespace joined to this one by a veth pair (nftables and
// the station user's programs run inside it, origins outside), and running programs in it as
// a given Unix user.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "support/process.h"

namespace mp::webfilter::test {

class Namespace {
 public:
  // Outside: host_address and foreign_address (IPv4), host_address6 (IPv6); inside:
  // inner_address, inner_address6. Every name and subnet carries this process's pid.
  Namespace();
  ~Namespace();
  Namespace(const Namespace&) = delete;
  Namespace& operator=(const Namespace&) = delete;

  // Runs a program inside the namespace (as `uid`:`gid` unless uid is -1).
  mp::test::RunResult run(const std::vector<std::string>& command, int uid = -1, int gid = -1,
                          std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // The command line that runs `command` inside (as `uid`:`gid` unless uid is -1), for
  // long-running children.
  std::vector<std::string> command(const std::vector<std::string>& command, int uid = -1,
                                   int gid = -1) const;

  std::string name, host_link;
  std::string host_address, foreign_address, inner_address;
  std::string host_address6, inner_address6;
  bool ok = false;
};

// A Unix account for the test, removed (with anything still running as it) at the end.
// `create`: made here with useradd; otherwise looked up after something else made it.
class UnixUser {
 public:
  explicit UnixUser(std::string account_name, bool create = false);
  ~UnixUser();
  bool look_up();
  std::string name;
  int uid = -1, gid = -1;
};

// curl inside the namespace (as `user` unless null); `extra` are its arguments (without "-x",
// no proxy whatever the environment says). Returns "HTTP_CODE EXIT_CODE", e.g. "200 0",
// "403 0", "000 7" (could not connect).
std::string curl(Namespace& ns, const UnixUser* user, const std::vector<std::string>& extra);

}  // namespace mp::webfilter::test
