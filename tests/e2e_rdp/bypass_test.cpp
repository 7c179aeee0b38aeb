// The bypass suite: a student attacks a teacher's block from inside their own session, as
// their own Unix user (runuser, with the session's DISPLAY and XAUTHORITY), against the system
// as `./mp up` runs it (mp-supervisor, real desktops, the real xfreerdp client). After each
// attack the client's screenshot must still show the lock, and a key typed on it must never
// reach the session. Root only: sessions run as their own Linux accounts.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <iostream>
#include <thread>

#include "desktop_system.h"
#include "screen_checks.h"

namespace mp::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr Colour kLockColour{0x0F, 0x2A, 0x47};  // lib/lockscreen, and mp-agent's overlay
constexpr int kTolerance = 4;
constexpr const char* kStation = "rdp:e2e-desk";

std::filesystem::path out_dir() {
  auto dir = std::filesystem::path(MP_SOURCE_DIR) / "tests" / "e2e" / "out";
  std::filesystem::create_directories(dir);
  return dir;
}

class Bypass : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      GTEST_SKIP() << "needs root: the student must be a Unix account of its own, attacked "
                      "from with runuser";
    }
    if (auto missing = missing_desktop_prerequisites(); !missing.empty()) GTEST_SKIP() << missing;
    if (access("/usr/sbin/runuser", X_OK) != 0) GTEST_SKIP() << "no /usr/sbin/runuser";
    system = std::make_unique<DesktopSystem>();
  }
  void TearDown() override {
    if (HasFailure() && system) std::cerr << "--- system log (tail) ---\n" << system->log_tail();
    client.reset();
    system.reset();
  }

  void connect(const std::string& name = "e2e-desk") {
    client = system->start_client(
        {"/nsc", "-gfx", "+auto-reconnect", "/auto-reconnect-max-retries:30"}, name);
    ASSERT_TRUE(shows_pattern(20s)) << "the client does not show the session";
    ASSERT_TRUE(eventually([&] { return session().value("agent_up", false); }, 10s));
  }

  json session() { return system->only_session(); }
  // <sessions-dir>/<id>: the session's own directory (its cookie, the agent socket). The
  // record's `xauthority` is the transports' copy, <sessions-dir>/transport/<id>.xauth.
  std::filesystem::path session_dir() {
    json s = session();
    return std::filesystem::path(s.value("xauthority", "")).parent_path().parent_path() /
           std::to_string(s.value("id", 0));
  }

  bool shows_pattern(std::chrono::milliseconds timeout) {
    return eventually(
        [&] {
          std::pair<int, int> origin;
          auto shot = system->screenshot(&origin);
          return pattern_mismatches(shot, origin, kDesktopWidth, kDesktopHeight, kTolerance) == 0;
        },
        timeout);
  }

  double lock_share(const std::string& png = {}) {
    std::pair<int, int> origin;
    Screenshot shot = system->screenshot(&origin);
    if (!png.empty()) shot.save_png(out_dir() / ("bypass-" + png + ".png"));
    return colour_share(shot, origin, kDesktopWidth, kDesktopHeight, kLockColour, kTolerance);
  }
  bool locked() { return lock_share() > 0.6; }

  void block(const std::string& station = kStation) {
    auto r = system->mpctl({"block", station, "--message", "Eyes on me"});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    ASSERT_TRUE(eventually([&] { return locked(); }, 5s)) << "no lock on the client";
  }

  // Runs `argv` as the session's user, in the session's display.
  RunResult as_student(std::vector<std::string> argv, std::chrono::milliseconds timeout = 20s) {
    json s = session();
    // The session's own cookie file, in its session directory (what its programs use).
    auto session_dir = this->session_dir();
    std::vector<std::string> args = {"-u",
                                     system->user(),
                                     "--",
                                     "/usr/bin/env",
                                     "DISPLAY=" + s.value("display", ""),
                                     "XAUTHORITY=" + (session_dir / "Xauthority").string()};
    args.insert(args.end(), argv.begin(), argv.end());
    return run("/usr/sbin/runuser", args, {}, timeout);
  }

  pid_t agent_pid() {
    auto found = run("/usr/bin/pgrep", {"-u", system->user(), "-f", "mp-agent"});
    return found.exit_code == 0 ? static_cast<pid_t>(std::stoi(found.output)) : 0;
  }

  void type_on_client(const std::string& key) {
    auto env = system->client_display().env();
    run("/usr/bin/xdotool", {"mousemove", "300", "300", "key", key},
        ChildProcess::Options{.env = env}, 10s);
  }

  // The end of every case: a key typed on the lock never reaches the session. Keys are replayed
  // in order, so once 'z' (typed after the unblock) arrived, a forwarded 'q' would be there.
  void expect_keys_held_until_unblocked() {
    std::string before = system->desktop_output();
    type_on_client("q");
    auto r = system->mpctl({"unblock", "--all"});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    ASSERT_TRUE(shows_pattern(15s)) << "the desktop did not come back";
    ASSERT_TRUE(eventually(
        [&] {
          type_on_client("z");
          return system->desktop_output().substr(before.size()).find("key press z") !=
                 std::string::npos;
        },
        10s));
    EXPECT_EQ(system->desktop_output().substr(before.size()).find("key press q"), std::string::npos)
        << "a key typed on the lock reached the session";
  }

  std::unique_ptr<DesktopSystem> system;
  std::unique_ptr<ChildProcess> client;
};

TEST_F(Bypass, StoppingTheAgentAndKillingItsLockWindowLeaveTheLock) {
  connect();
  block();
  pid_t agent = agent_pid();
  ASSERT_GT(agent, 0);
  auto stop = as_student({"/bin/kill", "-STOP", std::to_string(agent)});
  ASSERT_EQ(stop.exit_code, 0) << stop.output;
  // xkill on the lock window: its X connection goes.
  auto xkill = as_student({"/usr/bin/xdotool", "search", "--name", "^Locked$", "windowkill"});
  std::cerr << "xkill of the agent's lock window: exit " << xkill.exit_code << "\n";
  // The stopped agent counts as down and is replaced by a new one. (Down is a moment only: the
  // replacement starts at once, so the log says it, not a poll of agent_up.)
  EXPECT_TRUE(eventually(
      [&] { return system->log().find("is stopped (SIGSTOP or a tracer)") != std::string::npos; },
      5s))
      << system->log_tail(3000);
  EXPECT_TRUE(eventually(
      [&] {
        pid_t now = agent_pid();
        return now != 0 && now != agent;
      },
      10s))
      << "the stopped agent was not replaced";
  EXPECT_TRUE(locked()) << lock_share("stopped-agent");
  lock_share("stopped-agent");
  expect_keys_held_until_unblocked();
}

TEST_F(Bypass, AKillLoopOnTheAgentLeavesTheLock) {
  connect();
  block();
  // Five seconds of killing every agent the student owns, as fast as the shell goes.
  auto loop = as_student(
      {"/bin/bash", "-c",
       "end=$((SECONDS+5)); while ((SECONDS < end)); do pkill -KILL -x mp-agent; done; true"},
      30s);
  EXPECT_EQ(loop.exit_code, 0) << loop.output;
  EXPECT_TRUE(locked()) << lock_share("kill-loop");
  lock_share("kill-loop");
  expect_keys_held_until_unblocked();
}

TEST_F(Bypass, ForgedHeartbeatsOnTheAgentSocketAreRefused) {
  connect();
  block();
  pid_t agent = agent_pid();
  ASSERT_GT(agent, 0);
  std::string socket = (session_dir() / "agent").string();
  std::string id = std::to_string(session().value("id", 0));
  // The real agent stops; a program of the student's claims it is fine and the lock shown.
  ASSERT_EQ(as_student({"/bin/kill", "-STOP", std::to_string(agent)}).exit_code, 0);
  auto forged =
      as_student({(bin_dir() / "forge-heartbeats").string(), "ipc://" + socket, id, "4"}, 30s);
  std::cerr << "forger: " << forged.output;
  EXPECT_FALSE(session().value("agent_up", true) && agent_pid() == agent)
      << "the stopped agent still counts as up";
  EXPECT_NE(system->log().find("connection from localhost:"), std::string::npos)
      << "the forger's connection was not refused";
  EXPECT_TRUE(locked()) << lock_share("forged");
  expect_keys_held_until_unblocked();
}

TEST_F(Bypass, ReconnectingUnderAnotherClientNameKeepsTheBlock) {
  connect();
  block();
  client->stop(5s);
  client.reset();
  // The same user, a new computer name: the session moves to a station never seen.
  client = system->start_client({"/nsc", "-gfx"}, "innocent-pc");
  ASSERT_TRUE(eventually([&] { return session().value("station", "") == "rdp:innocent-pc"; }, 20s))
      << system->sessions().dump();
  EXPECT_TRUE(eventually([&] { return locked(); }, 10s)) << lock_share("renamed");
  lock_share("renamed");
  auto policy = system->mpctl({"policy", "show", "--json"});
  EXPECT_NE(policy.output.find("rdp:innocent-pc"), std::string::npos) << policy.output;
  expect_keys_held_until_unblocked();
}

}  // namespace
}  // namespace mp::test
