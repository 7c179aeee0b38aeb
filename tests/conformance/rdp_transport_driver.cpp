// The conformance driver for mp-rdp: stations attach by starting real xfreerdp clients (each
// with its own client name and user) under a private Xvfb, and detach by closing them.
//
// It needs an mp-session that starts a display server per session (an RDP station only stays
// attached once its session's display can be served). Without one, every test is skipped
// with the reason.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>
#include <poll.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>

#include "transport_driver.h"

namespace mp::test {

using mp::schema::Envelope;
using namespace std::chrono_literals;

namespace {

// An Xvfb for the clients to draw into, on a display number it picks itself.
class ClientDisplay {
 public:
  explicit ClientDisplay(const std::filesystem::path& dir) {
    xauthority_ = dir / "client-xauth";
    std::string entry;
    auto put = [&](const std::string& field) {
      entry.push_back(static_cast<char>(field.size() >> 8));
      entry.push_back(static_cast<char>(field.size() & 0xff));
      entry += field;
    };
    entry += "\xff\xff";  // FamilyWild: any display on this host
    put("");
    put("");
    put("MIT-MAGIC-COOKIE-1");
    std::random_device random;
    std::string cookie;
    for (int i = 0; i < 16; ++i) cookie.push_back(static_cast<char>(random() & 0xff));
    put(cookie);
    std::ofstream(xauthority_, std::ios::binary) << entry;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], 3);
      int null = open("/dev/null", O_WRONLY);
      dup2(null, 1);
      dup2(null, 2);
      execlp("Xvfb", "Xvfb", "-displayfd", "3", "-auth", xauthority_.c_str(), "-screen", "0",
             "1280x1024x24", "-nolisten", "tcp", static_cast<char*>(nullptr));
      _exit(127);
    }
    close(fds[1]);
    std::string number;
    char c;
    pollfd p{fds[0], POLLIN, 0};
    while (poll(&p, 1, 10000) > 0 && read(fds[0], &c, 1) == 1 && c != '\n') number.push_back(c);
    close(fds[0]);
    if (!number.empty()) name_ = ":" + number;
  }
  ~ClientDisplay() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
  }
  bool ok() const { return !name_.empty(); }
  std::map<std::string, std::string> env() const {
    return {{"DISPLAY", name_}, {"XAUTHORITY", xauthority_.string()}};
  }

 private:
  pid_t pid_ = -1;
  std::string name_;
  std::filesystem::path xauthority_;
};

class RdpTransportDriver : public TransportDriver {
 public:
  ~RdpTransportDriver() override {
    // On failure, what the clients said helps more than the station states alone.
    if (::testing::Test::HasFailure()) {
      // SystemUnderTest keeps each service's output next to its state directory.
      for (const char* service : {"rdp", "session"}) {
        std::fprintf(stderr, "--- mp-%s ---\n%s", service,
                     read_file(log_dir_.parent_path() / (std::string(service) + ".log")).c_str());
      }
      for (const auto& [key, client] : clients_) {
        std::string name = key.substr(4);
        std::fprintf(stderr, "--- %s ---\n%s", name.c_str(),
                     read_file(log_dir_ / (name + ".client.log")).c_str());
      }
    }
    remove_accounts();
  }

  std::string service_name() const override { return "rdp"; }

  void start(SystemUnderTest& system) override {
    if (access("/usr/bin/xfreerdp", X_OK) != 0) GTEST_SKIP() << "no /usr/bin/xfreerdp";
    log_dir_ = system.state_dir();
    if (!display_) {
      display_ = std::make_unique<ClientDisplay>(system.state_dir());
      if (!display_->ok()) GTEST_SKIP() << "Xvfb for the RDP clients did not start";
      port_ = free_port();
    }
    // mp-rdp takes its port from the environment the test's children inherit, and logs at
    // info, where it says when a client is active (see attach()).
    setenv("MP_RDP_LISTEN", ("127.0.0.1:" + std::to_string(port_)).c_str(), 1);
    setenv("MP_TEST_LOG_LEVEL", "info", 1);
    auto previous = system.registered_incarnation("rdp");
    system.start("rdp");
    ASSERT_TRUE(system.wait_registered("rdp", 15s, previous)) << "mp-rdp did not register";
    if (!probed_) {
      probed_ = true;
      // Users first: stations may attach while mp-session is away.
      for (int i = 0; i < kUsers; ++i) users_.push_back(add_user(system, i));
      // One full logon, end to end: it only succeeds if mp-session's session has a display.
      // The first logon of a run pays for the first desktop start (and, in CI, for whatever
      // else runs meanwhile): tried three times before it counts as broken.
      std::string user = users_.back();
      for (int attempt = 0; attempt < 3 && !usable_; ++attempt) {
        auto probe = run("/usr/bin/xfreerdp", client_args("conformance-probe", user, "+auth-only"),
                         ChildProcess::Options{.env = client_env(system)}, 30s);
        usable_ = probe.exit_code == 0;
        if (!usable_) probe_output_ = probe.output;
      }
    }
    if (!clients_.empty()) {
      // A restart: the clients reconnect on their own schedule (xfreerdp retries every 0.5 s,
      // and an attempt caught mid-restart waits for its own timeout). The transport counts as
      // started once its live clients are back, as the fake one is once it has re-read its
      // list.
      system.wait_for(
          [&] {
            auto stations = system.stations();
            for (const auto& [key, client] : clients_) {
              auto it = stations.find(key);
              if (it == stations.end() || it->second.state != mp::schema::StationState::ATTACHED)
                return false;
            }
            return true;
          },
          20s);
    }
    // mp-session starts a desktop for every logon: a logon that never gets one is a failure
    // of the system under test, not a reason to skip.
    ASSERT_TRUE(usable_) << "an RDP logon did not reach an active session in three tries; the "
                            "last client said:\n"
                         << probe_output_;
  }

  void kill9(SystemUnderTest& system) override { system.kill9("rdp"); }

  std::vector<std::string> attach(SystemUnderTest& system, int count) override {
    std::vector<std::string> keys;
    for (int i = 0; i < count; ++i) {
      std::string name = "conf-" + std::to_string(next_++);
      std::string user = users_[static_cast<std::size_t>(next_) % (kUsers - 1)];
      keys.push_back("rdp:" + name);
      users_of_[keys.back()] = user;
      clients_[keys.back()] = std::make_unique<ChildProcess>(
          "/usr/bin/xfreerdp", client_args(name, user, "+auto-reconnect"),
          ChildProcess::Options{.env = client_env(system),
                                .output_file = system.state_dir() / (name + ".client.log")});
    }
    // An RDP station is attached as soon as its client connects, but xfreerdp's auto-reconnect
    // only covers a connection that was fully up: "attached" for this driver means active
    // (mp-rdp logs "station KEY active" when the client is activated). A client that gave up
    // meanwhile (its handshake timed out on a loaded machine) is started again, as its user
    // would.
    system.wait_for(
        [&] {
          keep_trying(system);
          std::string log = read_file(log_dir_.parent_path() / "rdp.log");
          for (const auto& key : keys) {
            if (log.find("station " + key + " active") == std::string::npos) return false;
          }
          return true;
        },
        60s);
    return keys;
  }

  // An RDP client that could not log on is gone (there is no logon screen to wait at, and
  // xfreerdp reconnects by itself only a connection that was up): its user starts it again.
  void keep_trying(SystemUnderTest& system) override {
    for (auto& [key, client] : clients_) {
      if (client->running()) continue;
      std::string name = key.substr(std::string("rdp:").size());
      client = std::make_unique<ChildProcess>(
          "/usr/bin/xfreerdp", client_args(name, users_of_.at(key), "+auto-reconnect"),
          ChildProcess::Options{.env = client_env(system),
                                .output_file = system.state_dir() / (name + ".client.log")});
    }
  }

  void detach(SystemUnderTest&, const std::string& key) override {
    auto it = clients_.find(key);
    if (it == clients_.end()) return;
    it->second->stop(3s);
    clients_.erase(it);
  }

 private:
  std::vector<std::string> client_args(const std::string& client_name, const std::string& user,
                                       const std::string& extra) const {
    return {"/v:127.0.0.1:" + std::to_string(port_),
            "/u:" + user,
            "/p:" + password_,
            "/cert:ignore",
            "/client-hostname:" + client_name,
            "/size:800x600",
            "-gfx",
            "/nsc",
            "/auto-reconnect-max-retries:30",
            extra};
  }

  std::map<std::string, std::string> client_env(SystemUnderTest& system) const {
    auto env = display_->env();
    env["HOME"] = system.state_dir().string();  // xfreerdp's known hosts stay in the test
    return env;
  }

  // One user per station (a station's session belongs to one user), made up front.
  std::string add_user(SystemUnderTest& system, int index) {
    // Unique per run: as root each is a real Linux account, removed by the destructor.
    std::string name = "cf" + std::to_string(getpid()) + "u" + std::to_string(index);
    auto reply = system.client().call(
        "session",
        [&](Envelope::Builder e) {
          auto add = e.initUserAdd();
          add.setName(name);
          add.setRole(mp::schema::Role::STANDARD);
          add.setPassword(password_);
        },
        mp::bus::RequestOptions{.deadline = 5s, .idempotency_key = "conformance-rdp-" + name});
    EXPECT_TRUE(reply.ok()) << reply.error_text();
    return name;
  }

  // The stations' desktops run as these users: end them with the accounts.
  void remove_accounts() {
    clients_.clear();
    for (const auto& user : users_) remove_linux_account(user);
  }

  std::unique_ptr<ClientDisplay> display_;
  std::filesystem::path log_dir_;
  int port_ = 0;
  bool probed_ = false;
  bool usable_ = false;
  std::string probe_output_;         // the last failed probe's client output
  static constexpr int kUsers = 16;  // the last one is the probe's
  int next_ = 1;
  std::vector<std::string> users_;
  const std::string password_ = "conformance-password";
  std::map<std::string, std::unique_ptr<ChildProcess>> clients_;
  std::map<std::string, std::string> users_of_;  // station -> its user
};

}  // namespace

std::unique_ptr<TransportDriver> make_rdp_transport_driver() {
  return std::make_unique<RdpTransportDriver>();
}

}  // namespace mp::test
