// mp-rdp end to end: the real xfreerdp client against mp-rdp, with a real bus, a stub
// mp-session and real Xvfb displays. Screenshots of the client are checked pixel by pixel
// against the session's test pattern; PNGs are left in /tmp/mp-rdp-*.png for a person to see.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <netinet/in.h>
#include <random>
#include <thread>

#include "rdp_system.h"

namespace mp::test {
namespace {

using namespace std::chrono_literals;

class RdpClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto missing = missing_rdp_prerequisites(); !missing.empty()) GTEST_SKIP() << missing;
  }

  void start(std::vector<std::string> rdp_args = {}) {
    system = std::make_unique<RdpSystem>(std::move(rdp_args));
    system->start_rdp();
    ASSERT_TRUE(system->rdp_running()) << system->rdp_log();
  }

  std::string png(const std::string& name) { return "/tmp/mp-rdp-" + name + ".png"; }

  std::unique_ptr<RdpSystem> system;
};

TEST_F(RdpClientTest, ClientShowsTheSessionDisplayWithEachCodec) {
  start();
  struct Case {
    std::string name;
    std::vector<std::string> flags;
    std::string codec;  // as mp-rdp logs it
    int tolerance;
  };
  const Case cases[] = {
      {"remotefx", {"/rfx", "-gfx"}, "RemoteFX", 12},
      {"nscodec", {"/nsc", "-gfx"}, "NSCodec", 2},
      {"planar", {"-gfx", "/bpp:32"}, "planar", 2},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto before = system->rdp_log().size();
    auto client = system->start_client(c.flags, "client-" + c.name + ".log");
    int mismatches = system->wait_for_pattern(15s, c.tolerance, png(c.name));
    EXPECT_EQ(mismatches, 0) << "see " << png(c.name) << "\n" << system->rdp_log().substr(before);
    EXPECT_NE(system->rdp_log().find(", " + c.codec + ", ", before), std::string::npos)
        << system->rdp_log().substr(before);
    client->stop(3s);
    // The stub saw the station attach with the client's address, then a good logon.
    auto logon = system->session().wait_for(
        [](const StubEvent& e) { return e.kind == "credentials" && e.accepted; }, 1s);
    ASSERT_TRUE(logon);
    EXPECT_EQ(logon->address, "127.0.0.1");
    EXPECT_EQ(logon->key.substr(0, 4), "rdp:");
  }
  EXPECT_TRUE(system->session().wait_for([](const StubEvent& e) { return e.kind == "detach"; }, 5s))
      << "a disconnect detaches the station";
}

TEST_F(RdpClientTest, WrongPasswordIsRefusedBeforeActivation) {
  start();
  auto bad = system->run_client(system->client_args({"+auth-only"}, "wrong password"));
  EXPECT_NE(bad.exit_code, 0) << bad.output;
  auto refused = system->session().wait_for(
      [](const StubEvent& e) { return e.kind == "credentials" && !e.accepted; }, 2s);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->user, kUser);
  auto log = system->rdp_log();
  // mp-rdp cannot tell an account from a password typed as a name: the name is hashed.
  EXPECT_NE(log.find("logon failed for unknown#"), std::string::npos) << log;
  EXPECT_EQ(log.find("logon failed for 'alice'"), std::string::npos) << log;
  EXPECT_NE(log.find("from 127.0.0.1"), std::string::npos) << log;
  EXPECT_EQ(log.find(" active: "), std::string::npos) << "refused before activation\n" << log;
  EXPECT_EQ(log.find("wrong password"), std::string::npos) << "passwords are never logged";

  // The same check with the right password succeeds: the refusal was about the password.
  auto good = system->run_client(system->client_args({"+auth-only"}));
  EXPECT_EQ(good.exit_code, 0) << good.output;
}

TEST_F(RdpClientTest, RepeatedFailuresForOneUserAreDelayed) {
  // A long first delay, so the outcome does not depend on how fast xfreerdp runs.
  start({"--max-failed-logons", "2", "--failed-logon-delay-ms", "60000"});
  for (int i = 0; i < 3; ++i) {
    auto bad = system->run_client(system->client_args({"+auth-only"}, "nope" + std::to_string(i)));
    EXPECT_NE(bad.exit_code, 0);
  }
  int asked = 0;
  for (const auto& e : system->session().events()) asked += e.kind == "credentials";
  EXPECT_EQ(asked, 2) << "the third attempt never reaches mp-session";
  EXPECT_NE(system->rdp_log().find("from 127.0.0.1 refused: too many failed logons (try again in"),
            std::string::npos)
      << system->rdp_log();
  // Even the right password is not checked while the user waits.
  auto good = system->run_client(system->client_args({"+auth-only"}));
  EXPECT_NE(good.exit_code, 0);
  asked = 0;
  for (const auto& e : system->session().events()) asked += e.kind == "credentials";
  EXPECT_EQ(asked, 2);
}

TEST_F(RdpClientTest, ParallelFailuresCountWhenTheyStart) {
  start({"--max-failed-logons", "2", "--failed-logon-delay-ms", "60000"});
  auto env = system->client_display().env();
  env["HOME"] = system->dir().string();
  std::vector<std::unique_ptr<ChildProcess>> clients;
  for (int i = 0; i < 8; ++i) {
    clients.push_back(std::make_unique<ChildProcess>(
        "/usr/bin/xfreerdp", system->client_args({"+auth-only"}, "guess" + std::to_string(i)),
        ChildProcess::Options{.env = env,
                              .output_file = system->dir() / ("client" + std::to_string(i))}));
  }
  for (auto& client : clients) EXPECT_TRUE(client->wait(60s).has_value());
  int asked = 0;
  for (const auto& e : system->session().events()) asked += e.kind == "credentials";
  EXPECT_EQ(asked, 2) << "eight at once: only the two free ones reach mp-session";
}

TEST_F(RdpClientTest, KeyboardAndMouseReachTheSession) {
  start();
  auto client = system->start_client({"/nsc", "-gfx"}, "client.log");
  ASSERT_EQ(system->wait_for_pattern(15s, 2), 0);
  int w = 0, h = 0;
  auto origin = system->client_display().largest_window_origin(&w, &h);
  auto env = system->client_display().env();
  // Point into the client window (keys go where the pointer is: no window manager), type,
  // then click at a known place of the session.
  int x = origin.first + 300, y = origin.second + 200;
  auto xdotool = [&](std::vector<std::string> args) {
    auto result = run("/usr/bin/xdotool", args, ChildProcess::Options{.env = env}, 10s);
    EXPECT_EQ(result.exit_code, 0) << result.output;
    std::this_thread::sleep_for(200ms);
  };
  xdotool({"mousemove", std::to_string(x), std::to_string(y)});
  xdotool({"type", "--delay", "50", "hi"});
  xdotool({"key", "Return"});
  xdotool({"click", "1"});
  EXPECT_TRUE(eventually(
      [&] {
        auto log = system->workload_log();
        return log.find("key press h") != std::string::npos &&
               log.find("key press i") != std::string::npos &&
               log.find("key press Return") != std::string::npos &&
               log.find("button press 1 at 300,200") != std::string::npos;
      },
      5s))
      << system->workload_log();
  client->stop(3s);
}

// Raw TCP to mp-rdp's port, for bytes no real client sends.
int connect_to(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

void send_and_close(int port, const std::string& bytes) {
  int fd = connect_to(port);
  if (fd < 0) return;
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may hang up early: that is fine
    sent += static_cast<std::size_t>(n);
  }
  close(fd);
}

TEST_F(RdpClientTest, GarbageTruncatedAndOversizedInputCrashNothing) {
  start();
  // A client showing the session all along must survive what follows.
  auto client = system->start_client({"/nsc", "-gfx"}, "client.log");
  ASSERT_EQ(system->wait_for_pattern(15s, 2), 0);

  std::mt19937 random(42);
  auto noise = [&](std::size_t n) {
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(random() & 0xff);
    return s;
  };
  // TPKT + X.224 connection request, cut short; then a TPKT header claiming 65535 bytes.
  const std::string x224_start("\x03\x00\x00\x2b\x26\xe0\x00\x00\x00\x00\x00", 11);
  const std::string huge_tpkt("\x03\x00\xff\xff\x02\xf0\x80", 7);
  std::vector<std::string> inputs{noise(1),
                                  noise(64),
                                  noise(4096),
                                  x224_start,
                                  huge_tpkt,
                                  huge_tpkt + noise(200000),
                                  std::string(1 << 20, '\x03'),
                                  ""};
  for (int i = 0; i < 20; ++i) inputs.push_back(x224_start.substr(0, 4) + noise(100 + i * 37));
  for (const auto& bytes : inputs) send_and_close(system->port(), bytes);
  // Connections that open and say nothing, held while a real client connects.
  std::vector<int> idle;
  for (int i = 0; i < 10; ++i) idle.push_back(connect_to(system->port()));

  // Absurd desktop sizes: the station's capabilities are clamped, the display size wins.
  for (const char* size : {"/size:20000x20000", "/size:1x1"}) {
    // Another client name: with the same name, a good logon takes the station over.
    auto args = system->client_args({"+auth-only", "-gfx", "/client-hostname:other"});
    for (auto& a : args) {
      if (a.rfind("/size:", 0) == 0) a = size;
    }
    system->run_client(args, 20s);
  }
  for (int fd : idle) close(fd);

  ASSERT_TRUE(system->rdp_running()) << system->rdp_log();
  for (const auto& e : system->session().events()) {
    if (e.kind != "attach") continue;
    EXPECT_GE(e.width, 640);
    EXPECT_LE(e.width, 4096);
    EXPECT_GE(e.height, 480);
    EXPECT_LE(e.height, 2160);
  }
  // The first client still works, and a new one connects.
  EXPECT_TRUE(client->running());
  client->stop(3s);
  auto second = system->start_client({"/rfx", "-gfx"}, "client2.log");
  EXPECT_EQ(system->wait_for_pattern(15s, 12, "/tmp/mp-rdp-after-garbage.png"), 0)
      << system->rdp_log();
  EXPECT_TRUE(system->rdp_running());
}

TEST_F(RdpClientTest, ClientReconnectsAfterRdpIsKilled) {
  start();
  auto client = system->start_client(
      {"/nsc", "-gfx", "+auto-reconnect", "/auto-reconnect-max-retries:20"}, "client.log");
  ASSERT_EQ(system->wait_for_pattern(15s, 2), 0);
  auto logons = [&] {
    int n = 0;
    for (const auto& e : system->session().events()) n += e.kind == "credentials" && e.accepted;
    return n;
  };
  ASSERT_EQ(logons(), 1);
  system->kill9_rdp();
  system->start_rdp();
  ASSERT_TRUE(system->rdp_running());
  EXPECT_TRUE(eventually([&] { return logons() == 2; }, 30s))
      << "no reconnect\n"
      << read_file(system->dir() / "client.log") << system->rdp_log();
  EXPECT_TRUE(client->running());
  EXPECT_EQ(system->wait_for_pattern(15s, 2, "/tmp/mp-rdp-reconnected.png"), 0);
  auto sync = system->session().wait_for(
      [](const StubEvent& e) { return e.kind == "sync" && e.key.empty(); }, 1s);
  EXPECT_TRUE(sync) << "a restarted mp-rdp announces its (empty) station list";
  // Input works on the new connection.
  int w = 0, h = 0;
  auto origin = system->client_display().largest_window_origin(&w, &h);
  run("/usr/bin/xdotool",
      {"mousemove", std::to_string(origin.first + 50), std::to_string(origin.second + 50), "sleep",
       "0.3", "key", "z"},
      ChildProcess::Options{.env = system->client_display().env()}, 10s);
  EXPECT_TRUE(eventually(
      [&] { return system->workload_log().find("key press z") != std::string::npos; }, 5s));
  client->stop(3s);
}

TEST_F(RdpClientTest, StationsAreAnnouncedAgainWhenSessionComesBack) {
  start();
  auto client = system->start_client({"/nsc", "-gfx", "/client-hostname:lab-07"}, "client.log");
  ASSERT_EQ(system->wait_for_pattern(15s, 2), 0);
  system->restart_session();  // a new mp-session incarnation
  auto sync = system->session().wait_for(
      [](const StubEvent& e) { return e.kind == "sync" && e.key == "rdp:lab-07"; }, 10s);
  EXPECT_TRUE(sync) << system->rdp_log();
  client->stop(3s);
  EXPECT_TRUE(system->session().wait_for(
      [](const StubEvent& e) { return e.kind == "detach" && e.key == "rdp:lab-07"; }, 5s));
}

}  // namespace
}  // namespace mp::test
