#include "netns_support.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace mp::webfilter::test {

namespace {

bool ip(const std::vector<std::string>& args) {
  auto r = mp::test::run("/usr/sbin/ip", args);
  if (r.exit_code != 0) std::fprintf(stderr, "ip %s: %s", args[0].c_str(), r.output.c_str());
  return r.exit_code == 0;
}

}  // namespace

Namespace::Namespace() {
  std::string id = std::to_string(getpid());
  name = "mpwf" + id;
  host_link = "wfh" + id;
  std::string inner_link = "wfn" + id;
  std::string octet = std::to_string(getpid() % 250 + 1);
  host_address = "10.249." + octet + ".1";
  foreign_address = "10.249." + octet + ".3";
  inner_address = "10.249." + octet + ".2";
  host_address6 = "fd00:6d70:" + octet + "::1";
  inner_address6 = "fd00:6d70:" + octet + "::2";
  ok = ip({"netns", "add", name}) &&
       ip({"link", "add", host_link, "type", "veth", "peer", "name", inner_link}) &&
       ip({"link", "set", inner_link, "netns", name}) &&
       ip({"addr", "add", host_address + "/24", "dev", host_link}) &&
       ip({"addr", "add", foreign_address + "/24", "dev", host_link}) &&
       ip({"-6", "addr", "add", host_address6 + "/64", "dev", host_link, "nodad"}) &&
       ip({"link", "set", host_link, "up"}) &&
       ip({"-n", name, "addr", "add", inner_address + "/24", "dev", inner_link}) &&
       ip({"-n", name, "-6", "addr", "add", inner_address6 + "/64", "dev", inner_link, "nodad"}) &&
       ip({"-n", name, "link", "set", inner_link, "up"}) &&
       ip({"-n", name, "link", "set", "lo", "up"});
}

Namespace::~Namespace() {
  ip({"link", "del", host_link});
  ip({"netns", "del", name});
}

std::vector<std::string> Namespace::command(const std::vector<std::string>& command, int uid,
                                            int gid) const {
  std::vector<std::string> args = {"netns", "exec", name};
  if (uid >= 0) {
    args.insert(args.end(), {"/usr/bin/setpriv", "--reuid=" + std::to_string(uid),
                             "--regid=" + std::to_string(gid), "--clear-groups"});
  }
  args.insert(args.end(), command.begin(), command.end());
  return args;
}

mp::test::RunResult Namespace::run(const std::vector<std::string>& command_line, int uid, int gid,
                                   std::chrono::milliseconds timeout) {
  return mp::test::run("/usr/sbin/ip", command(command_line, uid, gid), {}, timeout);
}

UnixUser::UnixUser(std::string account_name, bool create) : name(std::move(account_name)) {
  if (!create) return;
  auto r = mp::test::run("/usr/sbin/useradd", {"--no-create-home", "--shell", "/usr/sbin/nologin",
                                               "--user-group", name});
  if (r.exit_code != 0) std::fprintf(stderr, "useradd %s: %s", name.c_str(), r.output.c_str());
  look_up();
}

bool UnixUser::look_up() {
  passwd* entry = getpwnam(name.c_str());
  if (!entry) return false;
  uid = static_cast<int>(entry->pw_uid);
  gid = static_cast<int>(entry->pw_gid);
  return true;
}

UnixUser::~UnixUser() {
  if (uid < 0) return;
  mp::test::remove_linux_account(name);
}

std::string curl(Namespace& ns, const UnixUser* user, const std::vector<std::string>& extra) {
  // A wrapper prints curl's exit code after its status: 7 is "could not connect" (refused at
  // once), 28 a timeout, 35 a TLS failure, 56 a failed receive.
  bool via_proxy = std::find(extra.begin(), extra.end(), "-x") != extra.end();
  std::string command = "/usr/bin/curl -s -o /dev/null -w '%{http_code}' --max-time 4";
  if (!via_proxy) command += " --noproxy '*'";
  for (const auto& arg : extra) command += " '" + arg + "'";
  command += "; echo \" $?\"";
  auto r = user ? ns.run({"/bin/sh", "-c", command}, user->uid, user->gid)
                : ns.run({"/bin/sh", "-c", command});
  while (!r.output.empty() && r.output.back() == '\n') r.output.pop_back();
  return r.output;
}

}  // namespace mp::webfilter::test
