// Integration: the one logon throttle against a flood. In a network namespace of its own, an nft
// rule gives every RDP connection the next source address of 127.0.0.2 … 127.0.0.50, so the
// real mp-rdp sees 49 hosts; the real mp-session, mp-dashboard and mp-bus run behind it. Counted
// on the bus's tap: how many attempts reached mp-session's password check.
#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "dashboard_system.h"
#include "xvfb.h"

namespace mp::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr const char* kAdminPassword = "the real admin 2468";
constexpr const char* kTeacherPassword = "lesson plan 42";
constexpr int kSources = 49;  // 127.0.0.2 … 127.0.0.50
// The throttle's defaults: 3 free failures per user and source, then 1 s, 2 s, 4 s … between.
constexpr int kFreeFailures = 3;

// How many attempts the throttle can let through for one key in `elapsed`: the free ones, then
// one more each time the doubling delay (1 s, 2 s, 4 s, ...) has passed since the last.
int most_checks_within(Clock::duration elapsed) {
  double seconds = std::chrono::duration<double>(elapsed).count();
  return kFreeFailures + static_cast<int>(std::floor(std::log2(seconds + 1.0)));
}

int count_of(const std::string& text, const std::string& needle) {
  int n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

class LogonFlood : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root: a network namespace and nftables";
    // Our own loopback and nft tables: the rule below touches no other test's traffic.
    ASSERT_EQ(unshare(CLONE_NEWNET), 0) << "unshare(CLONE_NEWNET): " << std::strerror(errno);
    auto up = run("/usr/sbin/ip", {"link", "set", "lo", "up"});
    ASSERT_EQ(up.exit_code, 0) << up.output;
    rdp_port = free_port();
    system = std::make_unique<DashboardSystem>(std::vector<json>{
        {{"name", "rdp"}, {"args", {"--listen", "127.0.0.1:" + std::to_string(rdp_port)}}}});
    ASSERT_TRUE(system->wait_ready()) << system->log();
    ASSERT_TRUE(eventually([&] { return rdp_listening(); }, 20s)) << system->log();
    spread_rdp_sources();
    admin = system->add_user("flood", "admin", kAdminPassword);
    teacher = system->add_user("floodt", "dashboard", kTeacherPassword);
    clients = std::make_unique<Xvfb>(system->dir(), 640, 480);
    start_tap();
  }
  void TearDown() override {
    if (tap) tap->stop(2s);
    if (HasFailure() && system) std::cerr << "--- system log ---\n" << system->log();
  }

  bool rdp_listening() {
    return run("/usr/bin/bash", {"-c", "exec 3<>/dev/tcp/127.0.0.1/" + std::to_string(rdp_port)},
               {}, 5s)
               .exit_code == 0;
  }

  // Connections to mp-rdp leave from 127.0.0.2, .3, … .50 in turn.
  void spread_rdp_sources() {
    std::string map;
    for (int i = 0; i < kSources; ++i) {
      map += (i ? ", " : "") + std::to_string(i) + " : 127.0.0." + std::to_string(i + 2);
    }
    std::string rules =
        "table ip mp_logon_flood {\n"
        "  chain post {\n"
        "    type nat hook postrouting priority srcnat; policy accept;\n"
        "    ip daddr 127.0.0.1 tcp dport " +
        std::to_string(rdp_port) + " snat to numgen inc mod " + std::to_string(kSources) +
        " map { " + map + " }\n  }\n}\n";
    std::ofstream(system->dir() / "flood.nft") << rules;
    auto loaded = run("/usr/sbin/nft", {"-f", (system->dir() / "flood.nft").string()});
    ASSERT_EQ(loaded.exit_code, 0) << loaded.output << rules;
  }

  // Every request to mp-session, as `mpctl tap` prints it (one JSON line each).
  void start_tap() {
    tap = std::make_unique<ChildProcess>(
        bin_dir() / "mpctl",
        std::vector<std::string>{"--runtime-dir", system->runtime_dir().string(), "tap", "--json",
                                 "req.session"},
        ChildProcess::Options{.output_file = system->dir() / "tap.jsonl"});
    // The tap subscribes asynchronously: it is on once it shows a request made after it.
    ASSERT_TRUE(eventually(
        [&] {
          run(bin_dir() / "mpctl",
              {"--runtime-dir", system->runtime_dir().string(), "user", "list"});
          return tapped().find("userListRequest") != std::string::npos;
        },
        10s));
  }
  std::string tapped() const { return read_file(system->dir() / "tap.jsonl"); }
  int tapped_bodies(const std::string& body) const {
    return count_of(tapped(), "\"" + body + "\":");
  }

  std::unique_ptr<ChildProcess> rdp_client(const std::string& user, const std::string& password,
                                           const std::string& log) {
    auto env = clients->env();
    env["HOME"] = system->dir().string();
    // At the lowest priority: the clients stand for hosts on the LAN, whose CPU is not the
    // server's. On this machine 49 of them at normal priority starve the services for seconds
    // (mp-session then misses heartbeats and the bus answers `unavailable`).
    return std::make_unique<ChildProcess>(
        "/usr/bin/nice",
        std::vector<std::string>{
            "-n", "19", "/usr/bin/xfreerdp", "/v:127.0.0.1:" + std::to_string(rdp_port),
            "/u:" + user, "/p:" + password, "/cert:ignore", "+auth-only", "/log-level:ERROR"},
        ChildProcess::Options{.env = env, .output_file = system->dir() / log});
  }

  int rdp_port = 0;
  std::unique_ptr<DashboardSystem> system;
  std::unique_ptr<Xvfb> clients;
  std::unique_ptr<ChildProcess> tap;
  std::string admin, teacher;
};

TEST_F(LogonFlood,
       ParallelRdpGuessesFromManyLoopbackAddressesAreThrottledWhileAdminLogsOnToTheDashboard) {
  auto started = Clock::now();
  std::vector<std::unique_ptr<ChildProcess>> flood;
  for (int i = 0; i < kSources; ++i) {
    flood.push_back(rdp_client(admin, "guess-" + std::to_string(i), "flood" + std::to_string(i)));
  }
  // During the flood, the administrator logs on to the dashboard from 127.0.0.1. mp-session
  // checks passwords one at a time on its loop, so while it hashes the few guesses that got
  // through (on a machine saturated by 49 RDP clients) an answer may come too late (503/504):
  // the administrator tries again. What must never happen is a refusal (401) or "too many" (429).
  auto running = [&] {
    int n = 0;
    for (auto& client : flood) n += client->running() ? 1 : 0;
    return n;
  };
  // Once the flood has the administrator's RDP key delayed:
  EXPECT_TRUE(eventually(
      [&] { return system->log().find("refused: too many failed logons (") != std::string::npos; },
      60s));
  DashboardLogin login;
  int running_at_login = 0;
  std::vector<int> statuses;
  while (running() > 0) {
    login = system->login(admin, kAdminPassword);
    statuses.push_back(login.status);
    if (login.status == 200) {
      running_at_login = running();
      break;
    }
    EXPECT_TRUE(login.status == 503 || login.status == 504) << login.body.dump();
    std::cerr << "dashboard login during the flood: " << login.status << " " << login.body.dump()
              << "\n";
    std::this_thread::sleep_for(500ms);
  }
  EXPECT_EQ(login.status, 200) << "tries: " << json(statuses).dump() << " " << login.body.dump();
  EXPECT_GT(running_at_login, 0) << "the login was meant to happen during the flood";
  std::cerr << "dashboard logins tried during the flood: " << json(statuses).dump() << ", "
            << running_at_login << " RDP clients still running at the success\n";

  for (auto& client : flood) EXPECT_TRUE(client->wait(120s).has_value());
  auto elapsed = Clock::now() - started;

  std::string log = system->log();
  // A password check is mp-session verifying a hash: each ends in one of these lines.
  int checked = count_of(log, "logon failed for " + admin + " from ");
  int asked = tapped_bodies("credentials");
  // Refused unchecked: by mp-rdp's throttle, or (when mp-session answered late and mp-rdp gave
  // the attempt back) by mp-session's own.
  int throttled = count_of(log, "refused: too many failed logons (") +
                  count_of(log, "via rdp refused: too many failures");
  std::set<std::string> sources;
  for (int i = 2; i <= kSources + 1; ++i) {
    if (log.find("from 127.0.0." + std::to_string(i) + " ") != std::string::npos) {
      sources.insert("127.0.0." + std::to_string(i));
    }
  }
  std::cerr << kSources << " parallel guesses in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()
            << " ms: " << asked << " passed mp-rdp's throttle, " << checked
            << " reached mp-session's password check, from " << sources.size()
            << " source addresses\n";
  EXPECT_GE(sources.size(), 10u) << "the nft rule spread the sources";
  EXPECT_GE(checked, 1);
  EXPECT_LE(checked, most_checks_within(elapsed))
      << "every loopback address is one source: a few checks, not one per address";
  EXPECT_GE(throttled + checked, kSources - 3)
      << "every guess was checked or refused unchecked (a client or two may fail earlier)";
}

TEST_F(LogonFlood, ParallelDashboardGuessesCountWhenTheyStart) {
  std::vector<std::thread> guesses;
  std::atomic<int> too_many = 0, refused = 0;
  std::mutex others_mutex;
  std::string others;  // any other answer, for the failure message
  for (int i = 0; i < 20; ++i) {
    guesses.emplace_back([&, i] {
      auto result = system->login(teacher, "guess " + std::to_string(i));
      if (result.status == 429) {
        ++too_many;
      } else if (result.status == 401) {
        ++refused;
      } else {
        std::lock_guard lock(others_mutex);
        others += " " + std::to_string(result.status) + " " + result.body.dump();
      }
    });
  }
  for (auto& guess : guesses) guess.join();
  int checked = tapped_bodies("authenticate");
  std::cerr << "20 parallel dashboard guesses: " << checked << " checked, " << too_many
            << " answered 429\n";
  // The dashboard's first wait is 60 s here (DashboardSystem): exactly the free ones.
  EXPECT_EQ(checked, kFreeFailures) << "twenty at once: only the free ones reach mp-session";
  EXPECT_EQ(refused.load(), checked);
  EXPECT_EQ(too_many.load() + refused.load(), 20) << "other answers:" << others;

  auto wait = system->login(teacher, kTeacherPassword);
  EXPECT_EQ(wait.status, 429);
  EXPECT_GT(wait.body.value("retry_after_s", 0), 50) << "the answer says how long to wait";
}

TEST_F(LogonFlood, FailedLogonsNeverLogANameThatIsNoAccount) {
  const std::string typed = "Tr0ub4dor-and-3";  // a password typed into the name field
  EXPECT_EQ(system->login(typed, "whatever").status, 401);
  auto client = rdp_client(typed, "whatever", "typed.log");
  EXPECT_TRUE(client->wait(60s).has_value());
  EXPECT_TRUE(eventually([&] { return tapped_bodies("credentials") >= 1; }, 10s));
  EXPECT_TRUE(
      eventually([&] { return count_of(system->log(), "logon failed for unknown#") >= 2; }, 10s))
      << "mp-session and mp-rdp log a hash instead";
  std::string log = system->log();
  EXPECT_EQ(log.find(typed), std::string::npos) << "a typed name that is no account is not logged";
  EXPECT_NE(log.find("dashboard logon refused for unknown#"), std::string::npos);

  // An account's name is logged as it is.
  EXPECT_EQ(system->login(admin, "wrong").status, 401);
  EXPECT_TRUE(eventually(
      [&] {
        return system->log().find("dashboard logon refused for " + admin) != std::string::npos;
      },
      10s));
}

}  // namespace
}  // namespace mp::test
