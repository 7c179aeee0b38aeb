#include "classroom_system.h"

#include <httplib.h>
#include <pwd.h>
#include <unistd.h>

#include <fstream>
#include <random>

namespace mp::test {

using namespace std::chrono_literals;
using nlohmann::json;

namespace {

// 24 hex digits from the kernel's random source: no account here has a fixed password.
std::string new_password() {
  std::random_device random;
  std::string out;
  const char* digits = "0123456789abcdef";
  for (int i = 0; i < 24; ++i) out += digits[random() % 16];
  return out;
}

bool executable(const std::filesystem::path& path) { return access(path.c_str(), X_OK) == 0; }

}  // namespace

std::string missing_classroom_prerequisites() {
  for (const char* tool : {"/usr/bin/xfreerdp", "/usr/bin/Xvfb", "/usr/bin/xdotool"}) {
    if (!executable(tool)) return std::string("no ") + tool;
  }
  for (const char* binary : {"mp-supervisor", "mpctl", "mp-bus", "mp-session", "mp-agent",
                             "mp-policy", "mp-rdp", "mp-dashboard", "mp-workload"}) {
    if (!executable(bin_dir() / binary)) return std::string(binary) + " not built";
  }
  return "";
}

ClassroomSystem::ClassroomSystem(int stations)
    : runtime_dir_(dir_.path() / "run"),
      state_dir_(dir_.path() / "state"),
      rdp_port_(free_port()),
      dashboard_port_(free_port()),
      teacher_("mpdt" + std::to_string(getpid())),
      teacher_password_(new_password()) {
  // mp-dashboard runs as its own system user and passes through here to the bus.
  std::filesystem::permissions(dir_.path(), std::filesystem::perms(0711));
  std::filesystem::create_directories(state_dir_);
  // Session displays from a range of their own, away from tests running in parallel.
  int first_display = 1500 + static_cast<int>(getpid() % 200) * 5;
  // A pattern with a moving bar (thumbnails change) that echoes typed keys (take control).
  std::string workload = (bin_dir() / "mp-workload").string() + " --pattern --ticker --echo-keys";
  json config = {
      {"services",
       {{{"name", "bus"}},
        {{"name", "session"},
         {"args",
          {"--session-command", workload, "--first-display", std::to_string(first_display),
           "--privacy-notice", ""}}},
        {{"name", "policy"}},
        {{"name", "rdp"}, {"args", {"--listen", "127.0.0.1:" + std::to_string(rdp_port_)}}},
        {{"name", "dashboard"},
         {"args", {"--listen", "127.0.0.1:" + std::to_string(dashboard_port_)}}}}},
      {"restart_command", {"/bin/sh", "-c", "echo restart >> '" + power_mark().string() + "'"}},
      {"shutdown_command", {"/bin/sh", "-c", "echo shutdown >> '" + power_mark().string() + "'"}}};
  std::ofstream(dir_.path() / "supervisor.json") << config.dump(2);
  supervisor_ = std::make_unique<ChildProcess>(
      bin_dir() / "mp-supervisor",
      std::vector<std::string>{"--runtime-dir", runtime_dir_.string(), "--state-dir",
                               state_dir_.string(), "--config",
                               (dir_.path() / "supervisor.json").string()},
      ChildProcess::Options{.output_file = dir_.path() / "system.log"});
  for (int i = 0; i < stations; ++i) {
    ClassroomStation station;
    std::string client_name = "e2ed-" + std::to_string(i + 1);
    station.key = "rdp:" + client_name;
    station.user = "mpds" + std::to_string(i + 1) + "x" + std::to_string(getpid());
    station.password = new_password();
    stations_.push_back(std::move(station));
  }
}

ClassroomSystem::~ClassroomSystem() {
  for (auto& station : stations_) {
    station.client.reset();
    station.display.reset();
  }
  if (supervisor_) supervisor_->stop(15s);
  // Desktops outlive their services by design; end them as `./mp down` does.
  run(bin_dir() / "mp-session", {"--end-all-sessions", "--runtime-dir", runtime_dir_.string(),
                                 "--state-dir", state_dir_.string()});
  for (const auto& name : accounts_) {
    if (getpwnam(name.c_str()) != nullptr) remove_linux_account(name);
  }
}

bool ClassroomSystem::wait_ready(std::chrono::milliseconds timeout) {
  bool up = eventually(
      [&] {
        if (mpctl({"sessions"}).exit_code != 0) return false;
        httplib::Client http("127.0.0.1", dashboard_port_);
        http.set_connection_timeout(1, 0);
        auto page = http.Get("/login");
        return page && page->status == 200;
      },
      timeout);
  if (!up) return false;
  add_account(teacher_, "dashboard", teacher_password_);
  for (auto& station : stations_) add_account(station.user, "standard", station.password);
  return accounts_.size() == stations_.size() + 1;
}

std::string ClassroomSystem::add_account(const std::string& name, const std::string& role,
                                         const std::string& password) {
  auto added = mpctl({"user", "add", name, "--role", role, "--password-stdin"}, password + "\n");
  if (added.exit_code == 0) accounts_.push_back(name);
  return added.output;
}

bool ClassroomSystem::connect_stations(std::chrono::milliseconds timeout) {
  for (std::size_t i = 0; i < stations_.size(); ++i) {
    auto& station = stations_[i];
    station.display = std::make_unique<Xvfb>(dir_.path(), kStationWidth + 64, kStationHeight + 64);
    auto env = station.display->env();
    env["HOME"] = dir_.path().string();  // xfreerdp keeps known hosts under $HOME/.config
    // NSCodec draws exactly what the session shows, so screenshots can be checked by colour.
    // The password goes on stdin, not on a command line.
    station.client = std::make_unique<ChildProcess>(
        "/usr/bin/xfreerdp",
        std::vector<std::string>{
            "/v:127.0.0.1:" + std::to_string(rdp_port_), "/u:" + station.user, "/from-stdin:force",
            "/cert:ignore", "/client-hostname:" + station.key.substr(4),
            "/size:" + std::to_string(kStationWidth) + "x" + std::to_string(kStationHeight), "/nsc",
            "-gfx", "/log-level:WARN"},
        ChildProcess::Options{
            .env = env,
            .stdin_text = station.password + "\n",
            .output_file = dir_.path() / ("client" + std::to_string(i + 1) + ".log")});
  }
  return eventually(
      [&] {
        json all = sessions();
        std::size_t ready = 0;
        for (const auto& station : stations_) {
          for (const auto& s : all) {
            ready += s.value("station", "") == station.key && s.value("state", "") == "active" &&
                     s.value("user", "") == station.user && s.value("agent_up", false);
          }
        }
        return ready == stations_.size();
      },
      timeout);
}

RunResult ClassroomSystem::mpctl(std::vector<std::string> args, const std::string& stdin_text) {
  args.insert(args.begin(), {"--runtime-dir", runtime_dir_.string(), "--timeout", "5000"});
  ChildProcess::Options options;
  if (!stdin_text.empty()) options.stdin_text = stdin_text;
  return run(bin_dir() / "mpctl", args, options, 20s);
}

json ClassroomSystem::sessions() {
  auto listed = mpctl({"sessions", "--json"});
  json out = json::parse(listed.output, nullptr, false);
  return out.is_array() ? out : json::array();
}

std::string ClassroomSystem::log() const {
  std::string all = read_file(dir_.path() / "system.log");
  for (std::size_t i = 0; i < stations_.size(); ++i) {
    all += "--- client " + std::to_string(i + 1) + " ---\n" +
           read_file(dir_.path() / ("client" + std::to_string(i + 1) + ".log"));
  }
  return all;
}

Screenshot ClassroomSystem::screenshot(std::size_t station, std::pair<int, int>* origin) {
  auto& display = *stations_.at(station).display;
  *origin = display.largest_window_origin();
  return display.screenshot();
}

RunResult ClassroomSystem::xdotool(std::size_t station, const std::vector<std::string>& args) {
  return run("/usr/bin/xdotool", args,
             ChildProcess::Options{.env = stations_.at(station).display->env()}, 10s);
}

}  // namespace mp::test
