#include "mp/service/privileges.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fstream>
#include <optional>
#include <thread>

#include "mp/bus/endpoints.h"

namespace mp::service {

namespace {

constexpr const char* kGroupadd = "/usr/sbin/groupadd";
constexpr const char* kUseradd = "/usr/sbin/useradd";
constexpr const char* kUsermod = "/usr/sbin/usermod";
constexpr const char* kNologin = "/usr/sbin/nologin";
// useradd checks that a name is free before it locks /etc/passwd, so two at once can both
// "create" it, the second replacing the first with another uid: services starting together
// take turns through this lock (in /run, which only root may write).
constexpr const char* kAccountsLock = "/run/multipoint-accounts.lock";

struct Account {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
};

std::size_t nss_buffer_size() {
  long size = sysconf(_SC_GETPW_R_SIZE_MAX);
  return size > 0 ? static_cast<std::size_t>(size) : 16384;
}

std::optional<Account> find_user(const std::string& name) {
  std::vector<char> buffer(nss_buffer_size());
  passwd entry;
  passwd* found = nullptr;
  if (getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found) != 0 || !found) {
    return std::nullopt;
  }
  return Account{found->pw_name, found->pw_uid, found->pw_gid};
}

std::optional<gid_t> find_group(const std::string& name) {
  std::vector<char> buffer(65536);
  group entry;
  group* found = nullptr;
  if (getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found) != 0 || !found) {
    return std::nullopt;
  }
  return found->gr_gid;
}

bool is_member(const Account& account, gid_t group) {
  if (account.gid == group) return true;
  int count = 64;
  std::vector<gid_t> groups(static_cast<std::size_t>(count));
  while (getgrouplist(account.name.c_str(), account.gid, groups.data(), &count) < 0) {
    groups.resize(static_cast<std::size_t>(count));
  }
  groups.resize(static_cast<std::size_t>(count));
  return std::find(groups.begin(), groups.end(), group) != groups.end();
}

// Runs a program (no shell) and returns "" on exit 0, else its exit status and output.
std::string run(const std::vector<std::string>& argv) {
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return std::string("pipe: ") + std::strerror(errno);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = fork();
  if (pid < 0) {
    close(out[0]);
    close(out[1]);
    return std::string("fork: ") + std::strerror(errno);
  }
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    dup2(out[1], STDOUT_FILENO);
    dup2(out[1], STDERR_FILENO);
    execv(args[0], args.data());
    _exit(127);
  }
  close(out[1]);
  std::string output;
  char chunk[1024];
  ssize_t n;
  while ((n = read(out[0], chunk, sizeof chunk)) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0 && output.size() < 4096) output.append(chunk, static_cast<std::size_t>(n));
  }
  close(out[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
  while (!output.empty() && (output.back() == '\n' || output.back() == ' ')) output.pop_back();
  std::string what = WIFEXITED(status) ? "exit " + std::to_string(WEXITSTATUS(status))
                                       : "signal " + std::to_string(WTERMSIG(status));
  return argv[0] + " failed (" + what + (output.empty() ? "" : ": " + output) + ")";
}

// Runs `create` until `exists` holds: another service making the same account at the same
// moment makes it fail (name taken, or /etc/passwd locked for a moment), which is success too.
template <typename Exists>
std::string create_until(const std::vector<std::string>& create, Exists exists) {
  std::string error;
  for (int attempt = 0; attempt < 8; ++attempt) {
    if (exists()) return "";
    error = run(create);
    if (error.empty() || exists()) return "";
    std::this_thread::sleep_for(std::chrono::milliseconds(25 << attempt));
  }
  return error;
}

// "0000000000000000" for CapPrm, CapEff, CapAmb in /proc/self/status, or which one is not.
std::string capabilities_left() {
  std::ifstream status("/proc/self/status");
  std::string line;
  int seen = 0;
  while (std::getline(status, line)) {
    for (const char* field : {"CapPrm:", "CapEff:", "CapAmb:"}) {
      if (!line.starts_with(field)) continue;
      ++seen;
      std::string value = line.substr(std::strlen(field));
      if (value.find_first_not_of("0\t ") != std::string::npos) return line;
    }
  }
  return seen == 3 ? "" : "no capability lines in /proc/self/status";
}

// Takes the account's identity: groups, gid, uid (real, effective and saved).
std::string become(const Account& account) {
  if (initgroups(account.name.c_str(), account.gid) != 0) {
    return std::string("setgroups: ") + std::strerror(errno);
  }
  if (setresgid(account.gid, account.gid, account.gid) != 0) {
    return std::string("setresgid: ") + std::strerror(errno);
  }
  if (setresuid(account.uid, account.uid, account.uid) != 0) {
    return std::string("setresuid: ") + std::strerror(errno);
  }
  return "";
}

// Holds kAccountsLock for its life (nothing if it cannot be had: then it is only less safe).
class AccountsLock {
 public:
  AccountsLock() : fd_(open(kAccountsLock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)) {
    while (fd_ >= 0 && flock(fd_, LOCK_EX) != 0 && errno == EINTR) {
    }
  }
  ~AccountsLock() {
    if (fd_ >= 0) close(fd_);
  }
  AccountsLock(const AccountsLock&) = delete;
  AccountsLock& operator=(const AccountsLock&) = delete;

 private:
  int fd_;
};

}  // namespace

SystemUser ensure_system_user(const std::string& name, const std::string& group) {
  SystemUser out;
  out.name = name;
  if (geteuid() != 0) {
    out.error = "only root can create system users";
    return out;
  }
  AccountsLock lock;
  if (std::string error = create_until({kGroupadd, "--system", group},
                                       [&] { return find_group(group).has_value(); });
      !error.empty()) {
    out.error = "cannot create group " + group + ": " + error;
    return out;
  }
  gid_t group_gid = *find_group(group);
  if (std::string error = create_until(
          {kUseradd, "--system", "--no-create-home", "--home-dir", "/nonexistent", "--shell",
           kNologin, "--user-group", "--groups", group, "--comment", "multipoint service", name},
          [&] { return find_user(name).has_value(); });
      !error.empty()) {
    out.error = "cannot create user " + name + ": " + error;
    return out;
  }
  auto account = *find_user(name);
  if (account.uid == 0) {
    out.error = "user " + name + " has uid 0";
    return out;
  }
  if (!is_member(account, group_gid)) {
    if (std::string error = run({kUsermod, "--append", "--groups", group, name});
        !error.empty() && !is_member(account, group_gid)) {
      out.error = "cannot add " + name + " to group " + group + ": " + error;
      return out;
    }
    spdlog::info("added {} to group {}", name, group);
  }
  out.uid = account.uid;
  out.gid = account.gid;
  out.group_gid = group_gid;
  return out;
}

std::string check_access_as(const SystemUser& user, const std::vector<PathAccess>& paths) {
  int result[2];
  if (pipe2(result, O_CLOEXEC) != 0) return std::string("pipe: ") + std::strerror(errno);
  pid_t pid = fork();
  if (pid < 0) {
    close(result[0]);
    close(result[1]);
    return std::string("fork: ") + std::strerror(errno);
  }
  if (pid == 0) {
    close(result[0]);
    std::string answer = become(Account{user.name, user.uid, user.gid});
    for (std::size_t i = 0; answer.empty() && i < paths.size(); ++i) {
      if (access(paths[i].path.c_str(), paths[i].mode) != 0) {
        answer = paths[i].path.string() + ": " + std::strerror(errno);
      }
    }
    [[maybe_unused]] auto n = write(result[1], answer.data(), answer.size());
    _exit(0);
  }
  close(result[1]);
  std::string answer;
  char chunk[512];
  ssize_t n;
  while ((n = read(result[0], chunk, sizeof chunk)) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) answer.append(chunk, static_cast<std::size_t>(n));
  }
  close(result[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return "the access check did not finish";
  return answer;
}

std::string check_bus_access_as(const SystemUser& user, const std::filesystem::path& runtime_dir) {
  std::vector<PathAccess> paths = {{runtime_dir, X_OK}};
  auto endpoints = mp::bus::Endpoints::in_directory(runtime_dir);
  for (const auto& endpoint : {endpoints.events_in, endpoints.events_out, endpoints.requests}) {
    constexpr std::string_view kIpc = "ipc://";
    if (!endpoint.starts_with(kIpc)) continue;
    std::filesystem::path socket = endpoint.substr(kIpc.size());
    std::error_code ignored;
    if (std::filesystem::exists(socket, ignored)) paths.push_back({socket, W_OK});
  }
  return check_access_as(user, paths);
}

std::string bus_unreachable_as(const SystemUser& user, const std::filesystem::path& runtime_dir) {
  std::string why = check_bus_access_as(user, runtime_dir);
  if (why.empty()) return "";
  return "as " + user.name + " it could not reach the bus (" + why +
         "): the runtime directory and its sockets must be open to group " + kServiceGroup +
         " (mp-bus does that as root), or run with --user \"\"";
}

std::optional<SystemUser> service_user_reaching_bus(const std::string& user,
                                                    const std::filesystem::path& runtime_dir) {
  if (user.empty()) return std::nullopt;
  SystemUser account = ensure_system_user(user);
  if (!account.ok()) {
    spdlog::warn("staying root: {}", account.error);
    return std::nullopt;
  }
  if (std::string why = check_bus_access_as(account, runtime_dir); !why.empty()) {
    spdlog::warn(
        "staying root: as {} this process could not reach the bus ({}); the bus's runtime "
        "directory and sockets must be open to group {}",
        user, why, kServiceGroup);
    return std::nullopt;
  }
  return account;
}

std::string drop_privileges(const std::string& user) {
  auto account = find_user(user);
  if (!account) return "no user " + user;
  if (account->uid == 0 || account->gid == 0) return "user " + user + " is root (uid or gid 0)";
  int parent_death_signal = 0;
  prctl(PR_GET_PDEATHSIG, &parent_death_signal);
  pid_t parent = getppid();

  if (std::string error = become(*account); !error.empty()) return error;
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return std::string("PR_SET_NO_NEW_PRIVS: ") + std::strerror(errno);
  }
  // Proof, not faith: none of these may work any more.
  if (setuid(0) == 0 || seteuid(0) == 0 || setresuid(0, 0, 0) == 0) {
    return "root could be had back after the drop";
  }
  if (setgid(0) == 0 || setresgid(0, 0, 0) == 0) return "gid 0 could be had back after the drop";
  uid_t ruid, euid, suid;
  gid_t rgid, egid, sgid;
  getresuid(&ruid, &euid, &suid);
  getresgid(&rgid, &egid, &sgid);
  if (ruid != account->uid || euid != account->uid || suid != account->uid ||
      rgid != account->gid || egid != account->gid || sgid != account->gid) {
    return "the uids or gids are not all " + user + "'s";
  }
  if (std::string left = capabilities_left(); !left.empty()) {
    return "capabilities left after the drop: " + left;
  }
  // A supervisor's "stop me when you die" must survive the credential change.
  if (parent_death_signal != 0) {
    prctl(PR_SET_PDEATHSIG, parent_death_signal);
    if (getppid() != parent) raise(parent_death_signal);
  }
  return "";
}

}  // namespace mp::service
