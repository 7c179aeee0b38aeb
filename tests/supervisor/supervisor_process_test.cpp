// mp-supervisor as a real process with the real mp-bus and mp-session, driven through mpctl.
#include <signal.h>

#include <cerrno>
#include <iostream>
#include <thread>

#include "supervised_host.h"

namespace mp::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

class SupervisorProcess : public ::testing::Test {
 protected:
  void SetUp() override {
    // They are built with the tests: missing ones are a build bug, not a reason to skip.
    if (!binaries_present({"mp-supervisor", "mpctl", "mp-bus", "mp-session", "mp-policy",
                           "mp-webfilter", "mp-rdp", "mp-dashboard"})) {
      FAIL() << "needs mp-supervisor, mpctl and the default services in " << bin_dir();
    }
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << "--- supervisor log ---\n" << host.log();
  }
  static bool gone(pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

  SupervisedHost host;
};

TEST_F(SupervisorProcess, SupervisorStartsTheEmbeddedDefaults) {
  host.start({}, /*embedded_defaults=*/true);
  ASSERT_TRUE(host.wait_until_up({"bus", "session", "policy", "webfilter", "rdp", "dashboard"}));
  json status = host.status();
  ASSERT_EQ(status.size(), 6u);
  EXPECT_EQ(status[0]["service"], "bus");  // in start order
  EXPECT_EQ(status[1]["service"], "session");
  EXPECT_EQ(status[2]["service"], "policy");
  EXPECT_EQ(status[3]["service"], "webfilter");
  EXPECT_EQ(status[4]["service"], "rdp");
  EXPECT_EQ(status[5]["service"], "dashboard");
  for (const auto& entry : status) {
    EXPECT_EQ(entry["restarts"], 0);
    EXPECT_EQ(entry["incarnation"].get<std::string>().size(), 16u);
    EXPECT_TRUE(entry["uptime_s"].is_number());
  }
  RunResult table = host.mpctl({"status"});
  EXPECT_EQ(table.exit_code, 0);
  EXPECT_NE(table.output.find("SERVICE"), std::string::npos) << table.output;
  EXPECT_NE(table.output.find("RESTARTS"), std::string::npos) << table.output;
  EXPECT_NE(table.output.find("session"), std::string::npos) << table.output;
}

TEST_F(SupervisorProcess, CrashedServiceIsRestarted) {
  host.start();
  ASSERT_TRUE(host.wait_until_up({"bus", "session"}));
  json before = host.service("session");
  pid_t pid = before["pid"].get<pid_t>();
  ASSERT_EQ(::kill(pid, SIGKILL), 0);

  json after;
  ASSERT_TRUE(eventually(
      [&] {
        after = host.service("session");
        return SupervisedHost::is_up(after) && after["pid"] != pid &&
               after["incarnation"] != before["incarnation"];
      },
      15s))
      << after.dump();
  EXPECT_EQ(after["restarts"], 1);
  EXPECT_EQ(after["last_exit"], "killed by signal 9");
  EXPECT_TRUE(eventually([&] { return gone(pid); }, 5s));
}

TEST_F(SupervisorProcess, OperatorRestartStopStart) {
  host.start();
  ASSERT_TRUE(host.wait_until_up({"bus", "session"}));
  pid_t first = host.service("session")["pid"].get<pid_t>();

  RunResult restart = host.mpctl({"restart", "session"});
  ASSERT_EQ(restart.exit_code, 0) << restart.output;
  json entry;
  ASSERT_TRUE(eventually(
      [&] {
        entry = host.service("session");
        return SupervisedHost::is_up(entry) && entry["pid"] != first;
      },
      15s))
      << entry.dump();
  EXPECT_EQ(entry["restarts"], 0) << "an operator's restart is not a crash";
  pid_t second = entry["pid"].get<pid_t>();

  RunResult stop = host.mpctl({"stop", "mp-session"});
  ASSERT_EQ(stop.exit_code, 0) << stop.output;
  ASSERT_TRUE(eventually(
      [&] {
        entry = host.service("session");
        return entry.is_object() && entry["state"] == "stopped" && entry["pid"].is_null();
      },
      15s))
      << entry.dump();
  EXPECT_TRUE(gone(second));
  // Stopped stays stopped: no restart behind the operator's back.
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(host.service("session")["state"], "stopped");

  RunResult start = host.mpctl({"start", "session"});
  ASSERT_EQ(start.exit_code, 0) << start.output;
  EXPECT_TRUE(host.wait_until_up({"session"}));

  RunResult unknown = host.mpctl({"restart", "nosuch"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.output.find("invalid"), std::string::npos) << unknown.output;
  EXPECT_NE(unknown.output.find("nosuch"), std::string::npos) << unknown.output;
}

TEST_F(SupervisorProcess, CrashLoopRaisesAlarm) {
  auto config = host.write_file("crashloop.json", R"({
    "services": [{"name": "bus"}, {"name": "flaky", "binary": "/bin/false"}],
    "restart": {"initial_backoff_ms": 500, "max_backoff_ms": 5000, "max_restarts": 3,
                "window_ms": 60000}
  })");
  host.start({"--config", config.string()});
  ASSERT_TRUE(
      eventually([&] { return std::filesystem::exists(host.runtime_dir() / "requests"); }, 10s));
  ChildProcess::Options tap_options;
  tap_options.output_file = host.dir() / "tap.out";
  ChildProcess tap(bin_dir() / "mpctl",
                   {"--runtime-dir", host.runtime_dir().string(), "tap", "--json", "--count", "1",
                    "supervisor.alarm"},
                   tap_options);

  // 500 + 1000 + 2000 ms of backoff, then the fourth crash is one too many.
  ASSERT_EQ(tap.wait(20s), std::optional<int>(0)) << read_file(host.dir() / "tap.out");
  json line = json::parse(read_file(host.dir() / "tap.out"));
  EXPECT_EQ(line["topic"], "supervisor.alarm");
  EXPECT_EQ(line["message"]["alarm"]["service"], "flaky");
  EXPECT_NE(line["message"]["alarm"]["message"].get<std::string>().find("more than 3"),
            std::string::npos);

  json flaky = host.service("flaky");
  EXPECT_EQ(flaky["state"], "failed") << flaky.dump();
  EXPECT_EQ(flaky["restarts"], 3);
  EXPECT_EQ(flaky["last_exit"], "exited 1");
  EXPECT_TRUE(SupervisedHost::is_up(host.service("bus"))) << "the others keep running";
  EXPECT_NE(host.log().find("not restarting"), std::string::npos);

  // An operator may try again once the cause is fixed.
  RunResult start = host.mpctl({"start", "flaky"});
  EXPECT_EQ(start.exit_code, 0) << start.output;
}

// Restart / shut down the server: the configured command runs (here a harmless one that leaves
// a mark), only with --yes, and an unconfigured one is refused with the reason.
TEST_F(SupervisorProcess, ServerRestartRunsTheConfiguredCommandOnlyWhenConfirmed) {
  auto mark = host.dir() / "restarted";
  auto config = host.write_file("power.json", R"({
    "services": [{"name": "bus"}],
    "restart_command": ["/bin/sh", "-c", "echo restart > )" +
                                                  mark.string() + R"("],
    "shutdown_command": []
  })");
  host.start({"--config", config.string()});
  ASSERT_TRUE(host.wait_until_up({"bus"}));

  RunResult unconfirmed = host.mpctl({"server", "restart"});
  EXPECT_EQ(unconfirmed.exit_code, 2) << unconfirmed.output;
  EXPECT_NE(unconfirmed.output.find("--yes"), std::string::npos) << unconfirmed.output;
  std::this_thread::sleep_for(300ms);
  EXPECT_FALSE(std::filesystem::exists(mark));

  RunResult restart = host.mpctl({"server", "restart", "--yes"});
  ASSERT_EQ(restart.exit_code, 0) << restart.output;
  ASSERT_TRUE(eventually([&] { return std::filesystem::exists(mark); }, 5s));
  EXPECT_EQ(read_file(mark), "restart\n");
  EXPECT_TRUE(SupervisedHost::is_up(host.service("bus"))) << "the supervisor goes on";

  RunResult shutdown = host.mpctl({"server", "shutdown", "--yes"});
  EXPECT_EQ(shutdown.exit_code, 1) << shutdown.output;
  EXPECT_NE(shutdown.output.find("no shutdown_command"), std::string::npos) << shutdown.output;
}

TEST_F(SupervisorProcess, SigtermStopsEverything) {
  host.start();
  ASSERT_TRUE(host.wait_until_up({"bus", "session"}));
  json status = host.status();
  pid_t bus = status[0]["pid"].get<pid_t>();
  pid_t session = status[1]["pid"].get<pid_t>();

  host.supervisor().signal(SIGTERM);
  EXPECT_EQ(host.supervisor().wait(20s), std::optional<int>(0));
  EXPECT_TRUE(gone(bus));
  EXPECT_TRUE(gone(session));
  // In reverse order: the session went before the bus.
  std::string log = host.log();
  auto session_stopped = log.find("session (pid " + std::to_string(session) + ") stopped");
  auto bus_stopped = log.find("bus (pid " + std::to_string(bus) + ") stopped");
  ASSERT_NE(session_stopped, std::string::npos) << log;
  ASSERT_NE(bus_stopped, std::string::npos) << log;
  EXPECT_LT(session_stopped, bus_stopped);
}

TEST_F(SupervisorProcess, BadConfigExitsTwoWithReason) {
  auto config = host.write_file("bad.json", R"({"services": [{"name": "bus"}], "restrat": {}})");
  RunResult result =
      run(bin_dir() / "mp-supervisor", {"--runtime-dir", host.runtime_dir().string(), "--state-dir",
                                        host.state_dir().string(), "--config", config.string()});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.output.find("unknown key \"restrat\""), std::string::npos) << result.output;

  RunResult missing =
      run(bin_dir() / "mp-supervisor",
          {"--runtime-dir", host.runtime_dir().string(), "--services", "bus,nosuchservice"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.output.find("mp-nosuchservice"), std::string::npos) << missing.output;
}

}  // namespace
}  // namespace mp::test
