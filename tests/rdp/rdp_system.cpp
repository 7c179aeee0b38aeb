#include "rdp_system.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <thread>

#include "mp/service/privileges.h"
#include "test_pattern.h"

namespace mp::test {

using namespace std::chrono_literals;

namespace {

// A port nobody listens on now (the kernel picks it; a race with another process is unlikely).

bool port_open(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  close(fd);
  return ok;
}

bool executable(const char* path) { return access(path, X_OK) == 0; }

}  // namespace

std::string missing_rdp_prerequisites() {
  if (!executable("/usr/bin/xfreerdp")) return "no /usr/bin/xfreerdp (Debian freerdp2-x11)";
  if (!executable("/usr/bin/Xvfb")) return "no /usr/bin/Xvfb (Debian xvfb)";
  if (!executable((bin_dir() / "mp-rdp").c_str())) return "mp-rdp not built";
  if (!executable((bin_dir() / "mp-workload").c_str())) return "mp-workload not built";
  if (!executable((bin_dir() / "mp-bus").c_str())) return "mp-bus not built";
  return "";
}

RdpSystem::RdpSystem(std::vector<std::string> rdp_args)
    : runtime_dir_(dir_.path() / "run"),
      state_dir_(dir_.path() / "state"),
      rdp_args_(std::move(rdp_args)),
      port_(free_port()) {
  std::filesystem::create_directories(state_dir_);
  std::optional<gid_t> transport_group;
  if (geteuid() == 0) {
    // mp-rdp drops to `mp-rdp`: it passes through here to the bus and its state, as it passes
    // through /run and /var in production. Its user (and group mpoint) exist before mp-bus
    // starts, which opens the bus to the group only if there is one (mp-supervisor does the
    // same).
    std::filesystem::permissions(dir_.path(), std::filesystem::perms(0711));
    auto account = mp::service::ensure_system_user("mp-rdp");
    if (account.ok()) {
      transport_group = account.group_gid;
    } else {
      std::fprintf(stderr, "cannot make the system user mp-rdp: %s\n", account.error.c_str());
    }
  }
  std::map<std::string, std::string> env{{"MP_RUNTIME_DIR", runtime_dir_.string()},
                                         {"MP_STATE_DIR", state_dir_.string()}};
  bus_ = std::make_unique<ChildProcess>(
      bin_dir() / "mp-bus", std::vector<std::string>{"--log-level", "warn"},
      ChildProcess::Options{.env = env, .output_file = dir_.path() / "bus.log"});
  eventually([&] { return std::filesystem::exists(runtime_dir_ / "requests"); }, 5s);

  session_display_ = std::make_unique<Xvfb>(dir_.path(), kSessionWidth, kSessionHeight);
  transport_xauthority_ = dir_.path() / "transport.xauth";
  std::filesystem::copy_file(session_display_->xauthority(), transport_xauthority_,
                             std::filesystem::copy_options::overwrite_existing);
  if (transport_group && chown(transport_xauthority_.c_str(), 0, *transport_group) == 0) {
    chmod(transport_xauthority_.c_str(), 0640);
  } else {
    chmod(transport_xauthority_.c_str(), 0600);
  }
  workload_ = std::make_unique<ChildProcess>(
      bin_dir() / "mp-workload", std::vector<std::string>{"--pattern", "--print-input"},
      ChildProcess::Options{.env = session_display_->env(),
                            .output_file = dir_.path() / "workload.log"});
  eventually([&] { return workload_log().find("ready") != std::string::npos; }, 5s);
  client_display_ = std::make_unique<Xvfb>(dir_.path(), 1280, 1024);

  restart_session();
}

RdpSystem::~RdpSystem() {
  if (rdp_) rdp_->stop(3s);
  // MP_TEST_VERBOSE=1 shows what mp-rdp logged, also when the test passed.
  if (std::getenv("MP_TEST_VERBOSE"))
    std::fprintf(stderr, "--- mp-rdp log ---\n%s", rdp_log().c_str());
  session_.reset();
  workload_.reset();
  if (bus_) bus_->stop(3s);
}

void RdpSystem::restart_session() {
  session_.reset();
  session_ =
      std::make_unique<StubSession>(StubSessionConfig{.runtime_dir = runtime_dir_,
                                                      .user = kUser,
                                                      .password = kPassword,
                                                      .display = session_display_->name(),
                                                      .xauthority = transport_xauthority_.string(),
                                                      .width = kSessionWidth,
                                                      .height = kSessionHeight});
  session_->wait_registered(5s);
}

void RdpSystem::start_rdp() {
  std::vector<std::string> args{"--listen", "127.0.0.1:" + std::to_string(port_), "--log-level",
                                "debug"};
  args.insert(args.end(), rdp_args_.begin(), rdp_args_.end());
  rdp_ = std::make_unique<ChildProcess>(
      bin_dir() / "mp-rdp", args,
      ChildProcess::Options{
          .env = {{"MP_RUNTIME_DIR", runtime_dir_.string()}, {"MP_STATE_DIR", state_dir_.string()}},
          .output_file = dir_.path() / "rdp.log"});
  // The first start generates an RSA key: allow for it.
  eventually([&] { return port_open(port_) || !rdp_->running(); }, 15s);
}

void RdpSystem::kill9_rdp() {
  rdp_->signal(SIGKILL);
  rdp_->wait(5s);
}

std::string RdpSystem::rdp_log() const { return read_file(dir_.path() / "rdp.log"); }
std::string RdpSystem::workload_log() const { return read_file(dir_.path() / "workload.log"); }

std::vector<std::string> RdpSystem::client_args(const std::vector<std::string>& extra,
                                                const std::string& password) const {
  std::vector<std::string> args{
      "/v:127.0.0.1:" + std::to_string(port_),
      std::string("/u:") + kUser,
      "/p:" + password,
      "/cert:ignore",
      "/size:" + std::to_string(kSessionWidth) + "x" + std::to_string(kSessionHeight),
      "/log-level:WARN"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

std::unique_ptr<ChildProcess> RdpSystem::start_client(const std::vector<std::string>& extra,
                                                      const std::string& log_name) {
  auto env = client_display_->env();
  env["HOME"] = dir_.path().string();  // xfreerdp keeps known hosts under $HOME/.config
  return std::make_unique<ChildProcess>(
      "/usr/bin/xfreerdp", client_args(extra),
      ChildProcess::Options{.env = env, .output_file = dir_.path() / log_name});
}

RunResult RdpSystem::run_client(const std::vector<std::string>& args,
                                std::chrono::milliseconds timeout) {
  auto env = client_display_->env();
  env["HOME"] = dir_.path().string();
  return run("/usr/bin/xfreerdp", args, ChildProcess::Options{.env = env}, timeout);
}

int RdpSystem::wait_for_pattern(std::chrono::milliseconds timeout, int tolerance,
                                const std::filesystem::path& png) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int mismatches = 1 << 20;
  Screenshot shot;
  while (std::chrono::steady_clock::now() < deadline) {
    int w = 0, h = 0;
    auto origin = client_display_->largest_window_origin(&w, &h);
    shot = client_display_->screenshot();
    mismatches = pattern_mismatches(shot, origin, kSessionWidth, kSessionHeight, tolerance);
    if (mismatches == 0) break;
    std::this_thread::sleep_for(200ms);
  }
  if (!png.empty()) shot.save_png(png);
  return mismatches;
}

}  // namespace mp::test
