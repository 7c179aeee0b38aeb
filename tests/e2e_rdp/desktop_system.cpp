#include "desktop_system.h"

#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <random>

namespace mp::test {

using namespace std::chrono_literals;
using nlohmann::json;

namespace {

std::string random_password() {
  std::random_device random;
  std::string out;
  const char* alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  for (int i = 0; i < 20; ++i) out += alphabet[random() % 56];
  return out;
}

bool executable(const std::filesystem::path& path) { return access(path.c_str(), X_OK) == 0; }

}  // namespace

std::string missing_desktop_prerequisites() {
  for (const char* tool : {"/usr/bin/xfreerdp", "/usr/bin/Xvfb"}) {
    if (!executable(tool)) return std::string("no ") + tool;
  }
  for (const char* binary : {"mp-supervisor", "mpctl", "mp-session", "mp-agent", "mp-rdp",
                             "mp-workload", "mp-policy", "mp-bus"}) {
    if (!executable(bin_dir() / binary)) return std::string(binary) + " not built";
  }
  return "";
}

DesktopSystem::DesktopSystem(DesktopSystemOptions options)
    : runtime_dir_(dir_.path() / "run"),
      state_dir_(dir_.path() / "state"),
      user_("mpe2e" + std::to_string(getpid())),
      password_(random_password()),
      port_(free_port()) {
  // As root mp-rdp (like mp-webfilter) runs as its own system user: it must pass through here
  // to the bus and its state, as it passes through /run and /var in production.
  std::filesystem::permissions(dir_.path(), std::filesystem::perms(0711));
  std::filesystem::create_directories(state_dir_);
  // Displays from a range of their own, so tests running in parallel do not race for one.
  int first_display = 400 + static_cast<int>(getpid() % 200) * 5;
  std::string command = (bin_dir() / "mp-workload").string() + " --pattern --print-input";
  if (!options.session_command.empty()) {
    command.clear();
    for (const auto& word : options.session_command) command += (command.empty() ? "" : " ") + word;
  }
  json session_args = {"--session-command", command,
                       "--first-display",   std::to_string(first_display),
                       "--privacy-notice",  ""};
  for (const auto& arg : options.session_args) session_args.push_back(arg);
  json services = {{{"name", "bus"}},
                   {{"name", "session"}, {"args", session_args}},
                   {{"name", "policy"}},
                   {{"name", "rdp"}, {"args", {"--listen", "127.0.0.1:" + std::to_string(port_)}}}};
  if (options.webfilter) {
    json args = json::array();
    for (const auto& arg : options.webfilter_args) args.push_back(arg);
    services.push_back({{"name", "webfilter"}, {"args", args}});
  }
  json config = {{"services", services}};
  std::ofstream(dir_.path() / "supervisor.json") << config.dump(2);
  supervisor_ = std::make_unique<ChildProcess>(
      bin_dir() / "mp-supervisor",
      std::vector<std::string>{"--runtime-dir", runtime_dir_.string(), "--state-dir",
                               state_dir_.string(), "--config",
                               (dir_.path() / "supervisor.json").string()},
      ChildProcess::Options{.output_file = dir_.path() / "system.log"});
  eventually(
      [&] {
        for (const char* s : {"bus", "session", "policy", "rdp", "webfilter"}) {
          if ((options.webfilter || std::string(s) != "webfilter") && pid_of(s) == 0) return false;
        }
        return mpctl({"sessions"}).exit_code == 0;
      },
      20s);
  mpctl({"user", "add", user_, "--role", "standard", "--password-stdin"});
  client_display_ = std::make_unique<Xvfb>(dir_.path(), kDesktopWidth + 64, kDesktopHeight + 64);
}

DesktopSystem::~DesktopSystem() {
  client_display_.reset();
  if (supervisor_) supervisor_->stop(15s);
  // Desktops outlive their services by design; end them as `./mp down` does.
  run(bin_dir() / "mp-session", {"--end-all-sessions", "--runtime-dir", runtime_dir_.string(),
                                 "--state-dir", state_dir_.string()});
  if (getpwnam(user_.c_str()) != nullptr) remove_linux_account(user_);
}

RunResult DesktopSystem::mpctl(std::vector<std::string> args) {
  bool add = args.size() > 1 && args[0] == "user" && args[1] == "add";
  args.insert(args.begin(), {"--runtime-dir", runtime_dir_.string(), "--timeout", "5000"});
  ChildProcess::Options options;
  if (add) options.stdin_text = password_ + "\n";
  return run(bin_dir() / "mpctl", args, options, 20s);
}

json DesktopSystem::status() {
  auto r = mpctl({"status", "--json"});
  json out = json::parse(r.output, nullptr, false);
  return out.is_discarded() ? json::array() : out;
}

pid_t DesktopSystem::pid_of(const std::string& service) {
  for (const auto& entry : status()) {
    if (entry.value("service", "") == service && entry.value("state", "") == "running" &&
        entry["pid"].is_number()) {
      return entry["pid"].get<pid_t>();
    }
  }
  return 0;
}

bool DesktopSystem::wait_running(const std::string& service, pid_t not_pid,
                                 std::chrono::milliseconds timeout) {
  return eventually(
      [&] {
        pid_t pid = pid_of(service);
        return pid != 0 && pid != not_pid;
      },
      timeout);
}

json DesktopSystem::sessions() {
  auto r = mpctl({"sessions", "--json"});
  json out = json::parse(r.output, nullptr, false);
  return out.is_discarded() ? json::array() : out;
}

json DesktopSystem::only_session() {
  json all = sessions();
  return all.is_array() && all.size() == 1 ? all[0] : json::object();
}

std::string DesktopSystem::log() const { return read_file(dir_.path() / "system.log"); }

std::string DesktopSystem::log_tail(std::size_t bytes) const {
  std::string all = log();
  return all.size() > bytes ? all.substr(all.size() - bytes) : all;
}

std::vector<std::string> DesktopSystem::client_args(const std::vector<std::string>& extra,
                                                    const std::string& password) const {
  std::vector<std::string> args{
      "/v:127.0.0.1:" + std::to_string(port_),
      "/u:" + user_,
      "/p:" + password,
      "/cert:ignore",
      "/client-hostname:e2e-desk",
      "/size:" + std::to_string(kDesktopWidth) + "x" + std::to_string(kDesktopHeight),
      "/log-level:WARN"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

std::unique_ptr<ChildProcess> DesktopSystem::start_client(const std::vector<std::string>& extra,
                                                          const std::string& client_name) {
  auto env = client_display_->env();
  env["HOME"] = dir_.path().string();
  auto args = client_args(extra, password_);
  for (auto& arg : args) {
    if (arg.rfind("/client-hostname:", 0) == 0) arg = "/client-hostname:" + client_name;
  }
  return std::make_unique<ChildProcess>(
      "/usr/bin/xfreerdp", args,
      ChildProcess::Options{.env = env,
                            .output_file = dir_.path() / ("client-" + client_name + ".log")});
}

RunResult DesktopSystem::run_client(const std::vector<std::string>& args) {
  auto env = client_display_->env();
  env["HOME"] = dir_.path().string();
  return run("/usr/bin/xfreerdp", args, ChildProcess::Options{.env = env}, 30s);
}

Screenshot DesktopSystem::screenshot(std::pair<int, int>* origin) {
  *origin = client_display_->largest_window_origin();
  return client_display_->screenshot();
}

std::string DesktopSystem::desktop_output() const {
  // As root the session's output goes to the user's ~/.xsession-errors; else to the session
  // directory's session.log.
  if (passwd* entry = getpwnam(user_.c_str()); entry && geteuid() == 0) {
    return read_file(std::filesystem::path(entry->pw_dir) / ".xsession-errors");
  }
  std::string all;
  std::error_code ec;
  for (auto& entry : std::filesystem::recursive_directory_iterator(runtime_dir_, ec)) {
    if (entry.path().filename() == "session.log") all += read_file(entry.path());
  }
  return all;
}

}  // namespace mp::test
