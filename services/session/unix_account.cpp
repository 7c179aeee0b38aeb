#include "unix_account.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <cerrno>
#include <climits>
#include <filesystem>
#include <fstream>

namespace mp::session {

namespace {

std::optional<UnixAccount> account_from(const passwd& entry) {
  UnixAccount account{.name = entry.pw_name,
                      .uid = entry.pw_uid,
                      .gid = entry.pw_gid,
                      .home = entry.pw_dir ? entry.pw_dir : "",
                      .shell = entry.pw_shell ? entry.pw_shell : ""};
  int count = 32;
  for (int attempt = 0; attempt < 4; ++attempt) {
    account.groups.resize(static_cast<std::size_t>(count));
    int n = count;
    if (getgrouplist(entry.pw_name, entry.pw_gid, account.groups.data(), &n) >= 0) {
      account.groups.resize(static_cast<std::size_t>(n));
      return account;
    }
    count = n > count ? n : count * 2;  // too small: n says how many there are
  }
  account.groups = {entry.pw_gid};
  return account;
}

std::optional<UnixAccount> find(const std::string* name, uid_t uid) {
  passwd entry{};
  passwd* found = nullptr;
  std::vector<char> buffer(16384);
  int rc = name ? getpwnam_r(name->c_str(), &entry, buffer.data(), buffer.size(), &found)
                : getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found);
  if (rc != 0 || !found) return std::nullopt;
  return account_from(entry);
}

std::string describe(const CommandResult& result) {
  std::string output = result.output;
  while (!output.empty() && (output.back() == '\n' || output.back() == ' ')) output.pop_back();
  if (result.exit_code < 0) return "could not run it";
  return "exit " + std::to_string(result.exit_code) + (output.empty() ? "" : ": " + output);
}

}  // namespace

bool is_multipoint_account(uid_t uid) {
  if (uid == 0) return false;
  auto account = find_account(uid);
  return account && gecos_of(account->name) == UnixAccounts::kMarker;
}

std::optional<UnixAccount> find_account(const std::string& name) { return find(&name, 0); }
std::optional<UnixAccount> find_account(uid_t uid) { return find(nullptr, uid); }

std::string gecos_of(const std::string& name) {
  passwd entry{};
  passwd* found = nullptr;
  std::vector<char> buffer(16384);
  if (getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found) != 0 || !found) {
    return "";
  }
  return entry.pw_gecos ? entry.pw_gecos : "";
}

CommandResult run_command(const std::vector<std::string>& argv) {
  CommandResult result;
  if (argv.empty()) return result;
  // Everything the child needs is built before fork: between fork and exec only
  // async-signal-safe calls (ZeroMQ's threads exist in this process).
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const char* path_env = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
  char* env[] = {const_cast<char*>(path_env), nullptr};
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return result;
  pid_t pid = fork();
  if (pid < 0) {
    close(out[0]);
    close(out[1]);
    return result;
  }
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);  // the reactor blocks SIGTERM for its signalfd
    int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd >= 0) dup2(null_fd, STDIN_FILENO);
    dup2(out[1], STDOUT_FILENO);
    dup2(out[1], STDERR_FILENO);
    execve(args[0], args.data(), env);
    _exit(127);
  }
  close(out[1]);
  char buffer[4096];
  while (true) {
    ssize_t n = read(out[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (result.output.size() < 65536) result.output.append(buffer, static_cast<std::size_t>(n));
  }
  close(out[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

UnixAccounts::UnixAccounts(bool manage, Options options)
    : manage_(manage), options_(std::move(options)) {}

std::variant<UnixAccount, std::string> UnixAccounts::lookup(const std::string& name) const {
  if (!manage_) {
    auto self = find_account(getuid());
    if (!self)
      return std::string("the invoking user (uid " + std::to_string(getuid()) +
                         ") has no account entry");
    return *self;
  }
  auto account = find_account(name);
  if (!account) return "no Linux account '" + name + "'";
  if (gecos_of(name) != kMarker) {
    return "Linux account '" + name + "' was not created by multipoint";
  }
  if (account->uid == 0 || account->gid == 0) {
    return "Linux account '" + name + "' has uid or gid 0; sessions never run as root";
  }
  return *account;
}

std::variant<UnixAccount, std::string> UnixAccounts::ensure(const std::string& name) {
  if (!manage_) return lookup(name);
  if (find_account(name)) {
    if (gecos_of(name) != kMarker) {
      return "a Linux account '" + name +
             "' already exists and was not created by multipoint; choose another name";
    }
    // Ours, perhaps locked by an earlier removal: enable it again (the password stays locked).
    // Accounts made before their login shell became nologin get it now.
    auto r = run_command({options_.usermod, "--expiredate", "", "--shell", options_.shell, name});
    if (r.exit_code != 0) return "usermod " + name + " failed (" + describe(r) + ")";
    if (auto e = deny_scheduling(name); !e.empty()) return e;
    return lookup(name);
  }
  // -K HOME_MODE: students do not read each other's homes (Debian's default would be 0755).
  // No password given: the account stays locked for password logins.
  auto r = run_command({options_.useradd, "--create-home", "--shell", options_.shell, "--comment",
                        kMarker, "--user-group", "-K", "HOME_MODE=0700", name});
  if (r.exit_code != 0) return "useradd " + name + " failed (" + describe(r) + ")";
  spdlog::info("created Linux account {}", name);
  if (auto e = deny_scheduling(name); !e.empty()) return e;
  return lookup(name);
}

std::string UnixAccounts::deny_scheduling(const std::string& name) const {
  for (const auto& file : options_.deny_files) {
    std::ifstream in(file);
    bool listed = false;
    for (std::string line; !listed && std::getline(in, line);) listed = line == name;
    if (listed) continue;
    in.close();
    std::ofstream out(file, std::ios::app);
    out << name << '\n';
    if (!out.flush()) return "cannot add " + name + " to " + file;
    // Root-only files: cron and at read them as root.
    chmod(file.c_str(), 0640);
  }
  std::error_code ignored;
  std::filesystem::remove(std::filesystem::path(options_.crontabs_dir) / name, ignored);
  return "";
}

std::string UnixAccounts::lock(const std::string& name) {
  if (!manage_) return "";
  if (!find_account(name)) return "";  // nothing to lock
  if (gecos_of(name) != kMarker) {
    return "Linux account '" + name + "' was not created by multipoint; left alone";
  }
  // Expiry day 1 (1970-01-02) refuses every login method, keys included; files stay.
  auto r = run_command(
      {options_.usermod, "--lock", "--expiredate", "1", "--shell", "/usr/sbin/nologin", name});
  if (r.exit_code != 0) return "usermod --lock " + name + " failed (" + describe(r) + ")";
  spdlog::info("locked Linux account {}", name);
  return "";
}

}  // namespace mp::session
