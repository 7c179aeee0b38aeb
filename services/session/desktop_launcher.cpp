#include "desktop_launcher.h"

#include <X11/Xauth.h>
#include <fcntl.h>
#include <grp.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "mp/service/privileges.h"

namespace mp::session {

namespace fs = std::filesystem;

namespace {

std::string tail_of(const fs::path& file, std::size_t max_bytes = 600) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  std::string all = text.str();
  if (all.size() > max_bytes) all = all.substr(all.size() - max_bytes);
  while (!all.empty() && (all.back() == '\n' || all.back() == ' ')) all.pop_back();
  return all;
}

}  // namespace

std::string random_cookie() {
  std::string cookie(16, '\0');
  std::size_t got = 0;
  while (got < cookie.size()) {
    ssize_t n = getrandom(cookie.data() + got, cookie.size() - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error(std::string("getrandom: ") + std::strerror(errno));
    got += static_cast<std::size_t>(n);
  }
  return cookie;
}

bool display_held_by_another_server(int number) {
  std::error_code ec;
  return fs::exists("/tmp/.X" + std::to_string(number) + "-lock", ec) ||
         fs::exists("/tmp/.X11-unix/X" + std::to_string(number), ec);
}

std::vector<std::string> default_session_command() {
  for (const char* program :
       {"/usr/bin/startxfce4", "/usr/bin/lxsession", "/usr/bin/openbox-session"}) {
    if (access(program, X_OK) == 0) return {program};
  }
  return {"/usr/bin/xterm"};
}

fs::path default_agent_program() {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "mp-agent";
  return self.parent_path() / "mp-agent";
}

std::string write_xauthority(const fs::path& file, int display_number, const std::string& cookie,
                             std::optional<gid_t> readable_by) {
  std::string number = std::to_string(display_number);
  static char kName[] = "MIT-MAGIC-COOKIE-1";
  std::string data = cookie;
  char empty[] = "";
  Xauth entry{};
  // FamilyWild: any host name; clients match on the display number alone.
  entry.family = FamilyWild;
  entry.address_length = 0;
  entry.address = empty;
  entry.number_length = static_cast<unsigned short>(number.size());
  entry.number = number.data();
  entry.name_length = static_cast<unsigned short>(sizeof kName - 1);
  entry.name = kName;
  entry.data_length = static_cast<unsigned short>(data.size());
  entry.data = data.data();
  // Written whole under another name and renamed: nobody reads half a file.
  fs::path temporary = file;
  temporary += ".new";
  int fd = open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return "cannot write " + temporary.string() + ": " + std::strerror(errno);
  FILE* out = fdopen(fd, "w");
  if (!out) {
    close(fd);
    return "fdopen failed";
  }
  bool ok = XauWriteAuth(out, &entry) == 1;
  ok = std::fflush(out) == 0 && ok;
  // Given to the group before it has its name: nobody sees it half-shared.
  if (readable_by) ok = fchown(fd, static_cast<uid_t>(-1), *readable_by) == 0 && ok;
  ok = fchmod(fd, readable_by ? 0640 : 0600) == 0 && ok;
  ok = fsync(fileno(out)) == 0 && ok;
  std::fclose(out);
  if (!ok || rename(temporary.c_str(), file.c_str()) != 0) {
    unlink(temporary.c_str());
    return "cannot write " + file.string();
  }
  return "";
}

std::optional<std::string> read_xauthority_cookie(const fs::path& file, int display_number) {
  int fd = open(file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  struct stat info {};
  // The student owns their own file and may have filled it with anything.
  if (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode) || info.st_size > 65536) {
    close(fd);
    return std::nullopt;
  }
  FILE* in = fdopen(fd, "r");
  if (!in) {
    close(fd);
    return std::nullopt;
  }
  std::string number = std::to_string(display_number);
  std::optional<std::string> cookie;
  while (Xauth* entry = XauReadAuth(in)) {
    std::string_view name(entry->name, entry->name_length);
    std::string_view entry_number(entry->number, entry->number_length);
    if (!cookie && name == "MIT-MAGIC-COOKIE-1" && entry_number == number &&
        entry->data_length == 16) {
      cookie = std::string(entry->data, entry->data_length);
    }
    XauDisposeAuth(entry);
  }
  std::fclose(in);
  return cookie;
}

DesktopLauncher::DesktopLauncher(DesktopConfig config, bool manage_accounts)
    : config_(std::move(config)), manage_accounts_(manage_accounts) {}

SessionFiles DesktopLauncher::files(std::uint64_t session_id) const {
  fs::path dir = config_.sessions_dir / std::to_string(session_id);
  return SessionFiles{.dir = dir,
                      .xauthority = dir / "Xauthority",
                      .transport_xauthority = config_.sessions_dir / "transport" /
                                              (std::to_string(session_id) + ".xauth"),
                      .agent_socket = dir / "agent",
                      .runtime_dir = dir / "runtime"};
}

std::optional<gid_t> DesktopLauncher::transport_group() const {
  if (!manage_accounts_) return std::nullopt;
  std::vector<char> buffer(65536);
  group entry{};
  group* found = nullptr;
  if (getgrnam_r(mp::service::kServiceGroup, &entry, buffer.data(), buffer.size(), &found) != 0 ||
      found == nullptr) {
    return std::nullopt;
  }
  return found->gr_gid;
}

std::string DesktopLauncher::write_transport_cookie(const SessionFiles& files, int display_number,
                                                    const std::string& cookie) const {
  // Made (and its group set) here rather than in prepare(): the last session's end removes it
  // when it is empty, and the group may have appeared since the last session started.
  fs::path dir = files.transport_xauthority.parent_path();
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return "cannot create " + dir.string() + ": " + std::strerror(errno);
  }
  std::optional<gid_t> group = transport_group();
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return "cannot open " + dir.string() + ": " + std::strerror(errno);
  struct stat info {};
  bool ok = fstat(fd, &info) == 0 && info.st_uid == geteuid();
  if (ok && group) ok = fchown(fd, static_cast<uid_t>(-1), *group) == 0;
  if (ok) ok = fchmod(fd, group ? 0750 : 0700) == 0;
  int saved = errno;
  close(fd);
  if (!ok) {
    return "cannot prepare " + dir.string() + " for the transports: " +
           (info.st_uid != geteuid() ? std::string("not ours") : std::strerror(saved));
  }
  return write_xauthority(files.transport_xauthority, display_number, cookie, group);
}

std::string DesktopLauncher::ensure_transport_cookie(const SessionFiles& files,
                                                     const std::string& display) const {
  int number = -1;
  try {
    std::size_t used = 0;
    if (display.size() >= 2 && display[0] == ':') number = std::stoi(display.substr(1), &used);
    if (used + 1 != display.size()) number = -1;
  } catch (const std::exception&) {
    number = -1;
  }
  if (number < 0) return "display '" + display + "' is not of the form :N";
  auto copy = read_xauthority_cookie(files.transport_xauthority, number);
  auto cookie = copy ? copy : read_xauthority_cookie(files.xauthority, number);
  if (!cookie) {
    return "no cookie for " + display + " in " + files.transport_xauthority.string() + " or " +
           files.xauthority.string();
  }
  if (copy) {
    // Still there: only its group and mode are brought up to date (the group may be new).
    struct stat info {};
    std::optional<gid_t> group = transport_group();
    if (lstat(files.transport_xauthority.c_str(), &info) == 0 &&
        info.st_gid == (group ? *group : info.st_gid) &&
        (info.st_mode & 07777) == (group ? 0640u : 0600u)) {
      return "";
    }
  }
  return write_transport_cookie(files, number, *cookie);
}

std::string DesktopLauncher::prepare(std::uint64_t session_id, const UnixAccount& account) const {
  std::error_code ec;
  fs::create_directories(config_.sessions_dir, ec);
  if (ec) return "cannot create " + config_.sessions_dir.string() + ": " + ec.message();
  // As root the parent only lets users pass through to their own session's directory.
  chmod(config_.sessions_dir.c_str(), manage_accounts_ ? 0711 : 0700);
  SessionFiles f = files(session_id);
  fs::remove_all(f.dir, ec);  // a leftover of a crash; ids are never reused within one store
  unlink(f.transport_xauthority.c_str());
  if (mkdir(f.dir.c_str(), 0700) != 0) {
    return "cannot create " + f.dir.string() + ": " + std::strerror(errno);
  }
  if (manage_accounts_) {
    // root:<user's group> 0750: the user (and root) may enter and read the cookie and the agent
    // socket, but cannot replace or remove anything in it.
    if (chown(f.dir.c_str(), 0, account.gid) != 0 || chmod(f.dir.c_str(), 0750) != 0) {
      return "cannot hand " + f.dir.string() + " to " + account.name + ": " + std::strerror(errno);
    }
  }
  if (mkdir(f.runtime_dir.c_str(), 0700) != 0) {
    return "cannot create " + f.runtime_dir.string() + ": " + std::strerror(errno);
  }
  if (manage_accounts_ && chown(f.runtime_dir.c_str(), account.uid, account.gid) != 0) {
    return "cannot hand " + f.runtime_dir.string() + " to " + account.name;
  }
  if (manage_accounts_) {
    // Xvfb runs as the user and cannot make the shared socket directory itself.
    mkdir("/tmp/.X11-unix", 01777);
    chmod("/tmp/.X11-unix", 01777);
  }
  return "";
}

std::variant<SpawnedDisplay, std::string> DesktopLauncher::spawn_display(
    const SessionFiles& files, const UnixAccount& account, std::uint16_t width,
    std::uint16_t height, int number, const std::string& cookie) const {
  std::string display = ":" + std::to_string(number);
  if (auto e = write_xauthority(files.xauthority, number, cookie); !e.empty()) return e;
  if (manage_accounts_ && chown(files.xauthority.c_str(), account.uid, account.gid) != 0) {
    return "cannot hand " + files.xauthority.string() + " to " + account.name;
  }
  if (auto e = write_transport_cookie(files, number, cookie); !e.empty()) return e;
  fs::path log = files.dir / "xvfb.log";
  int log_fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0640);
  int ready[2];
  if (pipe2(ready, O_CLOEXEC) != 0) {
    if (log_fd >= 0) close(log_fd);
    return std::string("pipe: ") + std::strerror(errno);
  }
  // Our end only: the reactor reads it when it is readable and must never block on it.
  fcntl(ready[0], F_SETFL, O_NONBLOCK);
  SpawnRequest request = as_user(files, account);
  request.argv = {config_.xvfb.string(),
                  display,
                  "-auth",
                  files.xauthority.string(),
                  "-screen",
                  "0",
                  std::to_string(width) + "x" + std::to_string(height) + "x24",
                  "-nolisten",
                  "tcp",
                  "-noreset",
                  "-displayfd",
                  "3"};
  request.env = {"PATH=/usr/bin:/bin", "HOME=" + account.home};
  request.output_fd = log_fd;
  request.pass_fd = ready[1];
  SpawnResult xvfb = spawn(request);
  close(ready[1]);
  if (log_fd >= 0) close(log_fd);
  if (xvfb.pid < 0) {
    close(ready[0]);
    return xvfb.error;
  }
  return SpawnedDisplay{.display = {.display = display, .pid = xvfb.pid, .pidfd = xvfb.pidfd},
                        .ready_fd = ready[0]};
}

std::string DesktopLauncher::display_log(const SessionFiles& files) const {
  return tail_of(files.dir / "xvfb.log");
}

std::string DesktopLauncher::session_shell(const UnixAccount& account) const {
  // Students' login shell is nologin (no logins outside multipoint): their terminals get the
  // configured shell. An administrator's own account keeps its own.
  if (!account.shell.empty() && account.shell.find("nologin") == std::string::npos &&
      account.shell != "/bin/false") {
    return account.shell;
  }
  if (access(config_.session_shell.c_str(), X_OK) == 0) return config_.session_shell.string();
  return "/bin/sh";
}

std::vector<std::string> DesktopLauncher::environment(const SessionFiles& files,
                                                      const UnixAccount& account,
                                                      const std::string& display) const {
  std::vector<std::string> env = {
      "HOME=" + account.home,
      "USER=" + account.name,
      "LOGNAME=" + account.name,
      "SHELL=" + session_shell(account),
      "PATH=/usr/local/bin:/usr/bin:/bin:/usr/games",
      "DISPLAY=" + display,
      "XAUTHORITY=" + files.xauthority.string(),
      "XDG_RUNTIME_DIR=" + files.runtime_dir.string(),
  };
  if (!files.user.empty()) env.push_back("MP_USER=" + files.user);
  if (const char* lang = getenv("LANG")) env.push_back(std::string("LANG=") + lang);
  return env;
}

SpawnRequest DesktopLauncher::as_user(const SessionFiles& files, const UnixAccount& account) const {
  SpawnRequest request;
  if (manage_accounts_) request.run_as = account;
  request.cwd = account.home.empty() ? files.dir.string() : account.home;
  return request;
}

SpawnResult DesktopLauncher::start_session_command(const SessionFiles& files,
                                                   const UnixAccount& account,
                                                   const std::string& display) const {
  return start_in_session(files, account, display, config_.session_command);
}

SpawnResult DesktopLauncher::start_app(const SessionFiles& files, const UnixAccount& account,
                                       const std::string& display,
                                       const std::vector<std::string>& argv) const {
  return start_in_session(files, account, display, argv);
}

SpawnResult DesktopLauncher::start_in_session(const SessionFiles& files, const UnixAccount& account,
                                              const std::string& display,
                                              const std::vector<std::string>& argv) const {
  SpawnRequest request = as_user(files, account);
  request.argv = argv;
  request.env = environment(files, account, display);
  int log_fd = -1;
  if (config_.log_in_home && manage_accounts_) {
    request.output_path = account.home + "/.xsession-errors";
  } else {
    fs::path log = files.dir / "session.log";
    log_fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    request.output_fd = log_fd;
  }
  SpawnResult result = spawn(request);
  if (log_fd >= 0) close(log_fd);
  return result;
}

SpawnResult DesktopLauncher::start_agent(const SessionFiles& files, const UnixAccount& account,
                                         const std::string& display,
                                         std::uint64_t session_id) const {
  SpawnRequest request = as_user(files, account);
  request.argv = {config_.agent_program.string(), "--endpoint",
                  "ipc://" + files.agent_socket.string(), "--session-id",
                  std::to_string(session_id)};
  request.env = environment(files, account, display);
  int log_fd = -1;
  if (config_.log_in_home && manage_accounts_) {
    request.output_path = account.home + "/.xsession-errors";
  } else {
    fs::path log = files.dir / "agent.log";
    log_fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    request.output_fd = log_fd;
  }
  SpawnResult result = spawn(request);
  if (log_fd >= 0) close(log_fd);
  return result;
}

void DesktopLauncher::remove_files(std::uint64_t session_id) const {
  SessionFiles f = files(session_id);
  std::error_code ec;
  fs::remove_all(f.dir, ec);
  unlink(f.transport_xauthority.c_str());
  // The last one takes the directory along (so an emptied sessions directory can go); with
  // other sessions' cookies in it, this fails and changes nothing.
  rmdir(f.transport_xauthority.parent_path().c_str());
}

}  // namespace mp::session
