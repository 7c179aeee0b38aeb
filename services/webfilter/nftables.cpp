#include "nftables.h"

#include <fcntl.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

extern char** environ;

namespace mp::webfilter {

std::string nft_install_script(std::uint16_t port, const std::set<uid_t>& station_uids,
                               uid_t proxy_uid) {
  std::string elements;
  for (uid_t uid : station_uids) {
    if (uid == proxy_uid) continue;
    if (!elements.empty()) elements += ", ";
    elements += std::to_string(uid);
  }
  std::string table = kNftTable;
  std::string s;
  // "add" then "delete" works whether or not the table exists (nft 1.0.6 has no "destroy").
  s += "add table inet " + table + "\n";
  s += "delete table inet " + table + "\n";
  s += "table inet " + table + " {\n";
  s += "  set station_uids {\n    type uid\n";
  if (!elements.empty()) s += "    elements = { " + elements + " }\n";
  s += "  }\n";
  s += "  chain redirect_web {\n";
  s += "    type nat hook output priority -100; policy accept;\n";
  s += "    meta nfproto ipv4 meta skuid @station_uids tcp dport { 80, 443 } redirect to :" +
       std::to_string(port) + "\n";
  s += "  }\n";
  s += "  chain drop_bypass {\n";
  s += "    type filter hook output priority 0; policy accept;\n";
  s += "    meta skuid @station_uids tcp dport 853 drop\n";
  s += "    meta skuid @station_uids udp dport { 443, 853 } drop\n";
  s += "    meta nfproto ipv6 meta skuid @station_uids tcp dport { 80, 443 } reject with tcp "
       "reset\n";
  s += "  }\n";
  s += "}\n";
  return s;
}

std::string nft_remove_script() {
  std::string table = kNftTable;
  return "add table inet " + table + "\ndelete table inet " + table + "\n";
}

Nftables::Nftables(std::uint16_t transparent_port, uid_t proxy_uid, std::string nft_program)
    : port_(transparent_port), proxy_uid_(proxy_uid), program_(std::move(nft_program)) {}

Nftables::~Nftables() {
  if (installed_) remove();
}

bool Nftables::apply(const std::set<uid_t>& station_uids) {
  if (installed_ && station_uids == uids_) return true;
  if (!run(nft_install_script(port_, station_uids, proxy_uid_))) return false;
  installed_ = true;
  uids_ = station_uids;
  spdlog::info("nftables: {} station user(s) go through the proxy", uids_.size());
  return true;
}

bool Nftables::remove() {
  bool ok = run(nft_remove_script());
  if (ok) spdlog::info("nftables: rules removed");
  installed_ = false;
  uids_.clear();
  return ok;
}

bool Nftables::run(const std::string& script) {
  int input[2], output[2];
  if (pipe2(input, O_CLOEXEC) != 0) return false;
  if (pipe2(output, O_CLOEXEC) != 0) {
    close(input[0]);
    close(input[1]);
    return false;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, input[0], 0);
  posix_spawn_file_actions_adddup2(&actions, output[1], 1);
  posix_spawn_file_actions_adddup2(&actions, output[1], 2);
  std::vector<char*> argv = {program_.data(), const_cast<char*>("-f"), const_cast<char*>("-"),
                             nullptr};
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, program_.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(input[0]);
  close(output[1]);
  if (rc != 0) {
    close(input[1]);
    close(output[0]);
    spdlog::error("nftables: cannot run {}: {}", program_, std::strerror(rc));
    return false;
  }
  // The script is a few hundred bytes: far below the pipe's buffer.
  [[maybe_unused]] auto written = write(input[1], script.data(), script.size());
  close(input[1]);
  std::string text;
  char chunk[4096];
  ssize_t n;
  while ((n = read(output[0], chunk, sizeof chunk)) > 0) text.append(chunk, n);
  close(output[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    spdlog::error("nftables: nft failed: {}", text);
    return false;
  }
  return true;
}

}  // namespace mp::webfilter
