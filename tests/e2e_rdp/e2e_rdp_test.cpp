// Issue 4 end to end, with real processes only: mp-supervisor running bus, session (an Xvfb
// desktop per session, as the user), policy and rdp; mp-agent in the session; the real xfreerdp
// under its own Xvfb. Screenshots of the client are checked pixel by pixel (test pattern, lock
// colour) and saved under tests/e2e/out/ for a person to look at.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "desktop_system.h"
#include "screen_checks.h"

namespace mp::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// mp-agent's lock background (services/session/agent/palette.h).
constexpr Colour kLockColour{0x0F, 0x2A, 0x47};
// RemoteFX is lossy; NSCodec (chosen below) is exact up to rounding.
constexpr int kTolerance = 4;

std::filesystem::path out_dir() {
  auto dir = source_dir() / "tests" / "e2e" / "out";
  std::filesystem::create_directories(dir);
  return dir;
}

class E2eRdp : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto missing = missing_desktop_prerequisites(); !missing.empty()) GTEST_SKIP() << missing;
    system = std::make_unique<DesktopSystem>();
  }
  void TearDown() override {
    if (HasFailure() && system) std::cerr << "--- system log (tail) ---\n" << tail(system->log());
    client.reset();
    system.reset();
  }
  static std::string tail(const std::string& text) {
    return text.size() > 6000 ? text.substr(text.size() - 6000) : text;
  }

  // Connects the real client (NSCodec, auto-reconnect) and waits for the session's pattern.
  void connect() {
    client =
        system->start_client({"/nsc", "-gfx", "+auto-reconnect", "/auto-reconnect-max-retries:30"});
    ASSERT_TRUE(shows_pattern(20s, "desktop")) << "the client does not show the session";
  }

  bool shows_pattern(std::chrono::milliseconds timeout, const std::string& name) {
    int mismatches = 1 << 20;
    Screenshot shot;
    bool ok = eventually(
        [&] {
          std::pair<int, int> origin;
          shot = system->screenshot(&origin);
          mismatches = pattern_mismatches(shot, origin, kDesktopWidth, kDesktopHeight, kTolerance);
          return mismatches == 0;
        },
        timeout);
    shot.save_png(out_dir() / ("rdp-" + name + ".png"));
    if (!ok) std::cerr << name << ": " << mismatches << " sample points differ\n";
    return ok;
  }

  // The share of the client's window covered by the lock colour.
  double lock_share(const std::string& png = {}) {
    std::pair<int, int> origin;
    Screenshot shot = system->screenshot(&origin);
    if (!png.empty()) shot.save_png(out_dir() / ("rdp-" + png + ".png"));
    return colour_share(shot, origin, kDesktopWidth, kDesktopHeight, kLockColour, kTolerance);
  }
  bool locked() { return lock_share() > 0.6; }

  // The pid of the session's mp-workload (its desktop program), or "" when not root (then the
  // session runs as the invoking user and other sessions' programs would match).
  std::string desktop_pid() {
    if (geteuid() != 0) return "";
    return run("/usr/bin/pgrep", {"-u", system->user(), "-f", "mp-workload"}).output;
  }

  json only_session() {
    json all = system->sessions();
    return all.size() == 1 ? all[0] : json();
  }

  RunResult xdotool(const std::vector<std::string>& args) {
    auto env = system->client_display().env();
    return run("/usr/bin/xdotool", args, ChildProcess::Options{.env = env}, 10s);
  }

  std::unique_ptr<DesktopSystem> system;
  std::unique_ptr<ChildProcess> client;
};

TEST_F(E2eRdp, LogonWithPasswordShowsTheSessionDesktop) {
  connect();
  json session = only_session();
  ASSERT_TRUE(session.is_object()) << system->sessions().dump();
  EXPECT_EQ(session.value("state", ""), "active");
  EXPECT_EQ(session.value("user", ""), system->user());
  EXPECT_EQ(session.value("station", ""), "rdp:e2e-desk");
  EXPECT_TRUE(eventually([&] { return only_session().value("agent_up", false); }, 10s));
  // The session's X server runs as the user, mp-rdp as root: capture still uses MIT-SHM.
  EXPECT_EQ(system->log().find("no MIT-SHM"), std::string::npos) << tail(system->log());
}

TEST_F(E2eRdp, WrongPasswordIsRefusedBeforeActivationAndLogged) {
  auto refused = system->run_client(system->client_args({"+auth-only"}, "not the password"));
  EXPECT_NE(refused.exit_code, 0) << refused.output;
  EXPECT_TRUE(system->sessions().empty()) << "no session for a refused logon";
  EXPECT_TRUE(
      eventually([&] { return system->log().find("from 127.0.0.1") != std::string::npos; }, 5s))
      << "the refusal is logged with the client address";
  auto accepted = system->run_client(system->client_args({"+auth-only"}, system->password()));
  EXPECT_EQ(accepted.exit_code, 0) << accepted.output;
}

TEST_F(E2eRdp, KilledRdpServiceIsRestartedAndTheClientReturnsToTheSameSession) {
  connect();
  json before = only_session();
  std::string desktop = desktop_pid();
  pid_t rdp = system->pid_of("rdp");
  ASSERT_GT(rdp, 0);
  ASSERT_EQ(::kill(rdp, SIGKILL), 0);
  ASSERT_TRUE(system->wait_running("rdp", rdp, 15s)) << "the supervisor restarts mp-rdp";
  // The client reconnects by itself and lands in the same session: same id, same display.
  EXPECT_TRUE(eventually(
      [&] {
        return only_session().value("state", "") == "active" &&
               only_session().value("id", 0) == before.value("id", 1);
      },
      30s))
      << system->sessions().dump();
  EXPECT_EQ(only_session().value("display", ""), before.value("display", "?"));
  EXPECT_TRUE(shows_pattern(30s, "after-rdp-restart"));
  EXPECT_EQ(desktop_pid(), desktop) << "the same session processes";
}

TEST_F(E2eRdp, KilledSessionServiceLeavesTheDesktopRunningAndReadoptsIt) {
  connect();
  json before = only_session();
  std::string desktop = desktop_pid();
  pid_t session = system->pid_of("session");
  ASSERT_GT(session, 0);
  ASSERT_EQ(::kill(session, SIGKILL), 0);
  // While mp-session is away the desktop keeps running and keeps being shown.
  EXPECT_TRUE(shows_pattern(5s, "while-session-down"));
  ASSERT_TRUE(system->wait_running("session", session, 15s));
  EXPECT_TRUE(eventually(
      [&] {
        json now = only_session();
        return now.is_object() && now.value("id", 0) == before.value("id", 1) &&
               now.value("display", "") == before.value("display", "?") &&
               now.value("agent_up", false);
      },
      15s))
      << system->sessions().dump();
  EXPECT_TRUE(shows_pattern(5s, "after-session-restart"));
  EXPECT_EQ(desktop_pid(), desktop) << "the same session processes";
}

TEST_F(E2eRdp, BlockShowsTheLockWithinOneSecondAndHoldsTheKeyboard) {
  connect();
  ASSERT_TRUE(eventually([&] { return only_session().value("agent_up", false); }, 10s));
  auto blocked = system->mpctl({"block", "--all", "--message", "Eyes on me"});
  ASSERT_EQ(blocked.exit_code, 0) << blocked.output;
  auto at = std::chrono::steady_clock::now();
  bool shown = eventually([&] { return locked(); }, 3s);
  auto took =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - at);
  lock_share("locked");
  ASSERT_TRUE(shown) << "no lock in the client's screenshot";
  EXPECT_LE(took.count(), 1000) << "the lock took " << took.count() << " ms";
  std::cerr << "lock visible in the client " << took.count() << " ms after mpctl block\n";

  // Keys typed in the client do not reach the desktop behind the lock.
  std::string before = system->desktop_output();
  xdotool({"mousemove", "300", "300"});
  xdotool({"type", "--delay", "30", "zq"});
  std::this_thread::sleep_for(1s);
  std::string during = system->desktop_output().substr(before.size());
  EXPECT_EQ(during.find("key press"), std::string::npos) << during;

  ASSERT_EQ(system->mpctl({"unblock", "--all"}).exit_code, 0);
  EXPECT_TRUE(eventually([&] { return !locked(); }, 3s));
  EXPECT_TRUE(shows_pattern(5s, "unblocked"));
  // And now keys reach it again.
  std::string ready = system->desktop_output();
  xdotool({"type", "--delay", "30", "zq"});
  EXPECT_TRUE(eventually(
      [&] {
        return system->desktop_output().substr(ready.size()).find("key press") != std::string::npos;
      },
      5s))
      << system->desktop_output();
}

TEST_F(E2eRdp, KilledAgentOfABlockedStationShowsTheLockAgainWithinOneSecond) {
  if (geteuid() != 0) GTEST_SKIP() << "finds the agent by the session's own Unix user (root only)";
  connect();
  ASSERT_TRUE(eventually([&] { return only_session().value("agent_up", false); }, 10s));
  ASSERT_EQ(system->mpctl({"block", "--all", "--message", "Eyes on me"}).exit_code, 0);
  ASSERT_TRUE(eventually([&] { return locked(); }, 3s));
  // The agent is the one process of the session's user running mp-agent.
  auto found = run("/usr/bin/pgrep", {"-u", system->user(), "-f", "mp-agent"});
  ASSERT_EQ(found.exit_code, 0) << found.output;
  pid_t agent = std::stoi(found.output);
  ASSERT_EQ(::kill(agent, SIGKILL), 0);
  auto at = std::chrono::steady_clock::now();
  // The X server drops the dead agent's window at once; the lock must be back within 1 s.
  bool back = eventually(
      [&] {
        auto now = run("/usr/bin/pgrep", {"-u", system->user(), "-f", "mp-agent"});
        return now.exit_code == 0 && std::stoi(now.output) != agent && locked();
      },
      3s);
  auto took =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - at);
  lock_share("relocked");
  ASSERT_TRUE(back) << "the lock did not come back";
  EXPECT_LE(took.count(), 1000) << "the lock came back after " << took.count() << " ms";
  std::cerr << "lock back " << took.count() << " ms after kill -9 of mp-agent\n";
}

}  // namespace
}  // namespace mp::test
