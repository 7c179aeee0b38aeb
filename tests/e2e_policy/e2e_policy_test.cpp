// End to end, all real processes: mp-supervisor starts bus, session, policy and mp-webfilter (the
// proxy on a private loopback port, allowed to reach a local origin) on a private runtime dir;
// the operator's side is the real mpctl, the browser's side raw HTTP through the proxy.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "mp/bus/client.h"
#include "mp/bus/endpoints.h"
#include "support/process.h"
#include "support/temp_dir.h"
#include "webfilter_support.h"

namespace mp::test {
namespace {

using namespace std::chrono_literals;
using mp::schema::Envelope;
using mp::schema::ServiceState;
using nlohmann::json;
namespace wf = mp::webfilter::test;

// A host the block list names; mp-webfilter resolves it to the local origin (--resolve), so
// once it is allowed again the request really reaches the origin.
constexpr const char* kBlockedHost = "blocked.example";

struct Status {
  pid_t pid = 0;
  ServiceState state = ServiceState::UNKNOWN;
  std::uint32_t restarts = 0;
};

// mp-supervisor with a --config that gives mp-webfilter its test flags.
class WebSystem {
 public:
  explicit WebSystem(bool with_fake_transport = false)
      : runtime_dir_(dir_.path() / "run"), proxy_port_(free_port()) {
    std::filesystem::create_directories(dir_.path() / "state");
    json services = json::array({{{"name", "bus"}}, {{"name", "session"}}, {{"name", "policy"}}});
    services.push_back(
        {{"name", "webfilter"},
         {"args",
          {"--listen", "127.0.0.1:" + std::to_string(proxy_port_), "--transparent-listen", "",
           "--no-nftables", "--allow-loopback-upstream", "--resolve",
           std::string(kBlockedHost) + "=127.0.0.1", "--log-level", "info"}}});
    if (with_fake_transport) services.push_back({{"name", "fake-transport"}});
    json config = {{"services", services}};
    std::ofstream(dir_.path() / "supervisor.json") << config.dump(2);
    supervisor_ = std::make_unique<ChildProcess>(
        bin_dir() / "mp-supervisor",
        std::vector<std::string>{"--runtime-dir", runtime_dir_.string(), "--state-dir",
                                 (dir_.path() / "state").string(), "--config",
                                 (dir_.path() / "supervisor.json").string(), "--log-level", "info"},
        ChildProcess::Options{.output_file = dir_.path() / "system.log"});
    EXPECT_TRUE(eventually([&] { return std::filesystem::exists(runtime_dir_ / "requests"); }, 10s))
        << log();
    client_ = std::make_unique<mp::bus::Client>(context_, reactor_,
                                                mp::bus::Endpoints::in_directory(runtime_dir_),
                                                mp::bus::ClientOptions{.service = "e2etest"});
  }

  ~WebSystem() {
    client_.reset();
    int code = supervisor_->stop(15s);
    EXPECT_EQ(code, 0) << "the supervisor did not stop cleanly\n" << log();
  }

  std::uint16_t proxy_port() const { return proxy_port_; }
  mp::bus::Client& client() { return *client_; }
  std::string log() const { return read_file(dir_.path() / "system.log"); }

  RunResult mpctl(std::vector<std::string> args) {
    args.insert(args.begin(), {"--runtime-dir", runtime_dir_.string(), "--timeout", "5000"});
    return run(bin_dir() / "mpctl", args, {}, 20s);
  }

  std::map<std::string, Status> services() {
    std::map<std::string, Status> out;
    auto reply = client_->call(
        "supervisor", [](Envelope::Builder e) { e.initStatusRequest(); },
        mp::bus::RequestOptions{.deadline = 1s});
    if (!reply.ok() || !reply.envelope().isStatusReport()) return out;
    for (auto s : reply.envelope().getStatusReport().getServices()) {
      out[s.getName()] = Status{static_cast<pid_t>(s.getPid()), s.getState(), s.getRestarts()};
    }
    return out;
  }

  // Running per the supervisor, and registered on the bus (a service's state is `running` as
  // soon as it is started; it answers only once the broker knows it; the broker does not list
  // itself).
  bool all_running(const std::vector<std::string>& names) {
    auto now = services();
    std::set<std::string> registered;
    auto reply = client_->call(
        "bus", [](Envelope::Builder e) { e.initBusStatusRequest(); },
        mp::bus::RequestOptions{.deadline = 1s});
    if (!reply.ok()) return false;
    for (auto s : reply.envelope().getBusStatus().getServices()) registered.insert(s.getName());
    for (const auto& name : names) {
      if (!now.count(name) || now[name].state != ServiceState::RUNNING || now[name].pid <= 0 ||
          (name != "bus" && !registered.count(name)))
        return false;
    }
    return true;
  }

  // Polls on the bus reactor (so the client keeps up with its sockets).
  bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (condition()) return true;
      reactor_.run_until([] { return false; }, 50ms);
    }
    return condition();
  }

 private:
  TempDir dir_{"mpe"};
  std::filesystem::path runtime_dir_;
  std::uint16_t proxy_port_;
  std::unique_ptr<ChildProcess> supervisor_;
  zmq::context_t context_;
  mp::bus::Reactor reactor_;
  std::unique_ptr<mp::bus::Client> client_;
};

std::string origin_host(const wf::Origin& origin) {
  return "127.0.0.1:" + std::to_string(origin.port());
}
std::string blocked_host(const wf::Origin& origin) {
  return std::string(kBlockedHost) + ":" + std::to_string(origin.port());
}

wf::Connection::Response request(std::uint16_t proxy_port, const std::string& host_port,
                                 std::chrono::milliseconds timeout = 3s) {
  return wf::fetch(proxy_port, wf::get(host_port, "/hello"), timeout);
}

std::string describe(const wf::Connection::Response& r) {
  return std::to_string(r.status) + " " + r.head + r.body;
}

// The effective policy of `station` from `mpctl policy show --json`; null if absent.
json effective_of(WebSystem& system, const std::string& station) {
  auto result = system.mpctl({"policy", "show", "--json"});
  if (result.exit_code != 0) return nullptr;
  json report = json::parse(result.output, nullptr, false);
  if (report.is_discarded() || !report.contains("effective")) return nullptr;
  for (const auto& e : report["effective"]) {
    if (e.value("station", "?") == station) return e;
  }
  return nullptr;
}

bool blocks(const json& effective, const std::string& domain) {
  if (effective.is_null() || effective.value("web_mode", "") != "blockOnly") return false;
  for (const auto& d : effective["domains"]) {
    if (d == domain) return true;
  }
  return false;
}

// Waits until the proxy has both snapshots and lets the origin through.
::testing::AssertionResult proxy_serves(WebSystem& system, const wf::Origin& origin,
                                        std::chrono::milliseconds timeout = 15s) {
  wf::Connection::Response last;
  bool ok = system.wait_until(
      [&] {
        last = request(system.proxy_port(), origin_host(origin));
        return last.status == 200;
      },
      timeout);
  if (ok && last.body == "hello from origin") return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "the proxy does not serve the origin: " << describe(last) << "\n"
         << system.log();
}

TEST(E2ePolicy, WebBlockFromMpctlIsEnforcedByTheProxy) {
  wf::Origin origin;
  WebSystem system;
  ASSERT_TRUE(system.wait_until(
      [&] {
        return system.all_running({"bus", "session", "policy", "webfilter"});
      },
      20s))
      << system.log();
  ASSERT_TRUE(proxy_serves(system, origin));
  // Nothing set yet: the blocked-to-be host reaches the origin (resolved to 127.0.0.1).
  auto before = request(system.proxy_port(), blocked_host(origin));
  EXPECT_EQ(before.status, 200) << describe(before);

  auto block = system.mpctl({"web", "block", "--all", kBlockedHost});
  ASSERT_EQ(block.exit_code, 0) << block.output;
  // This process's user has no session: it gets the policy of "" (all stations).
  wf::Connection::Response refused;
  ASSERT_TRUE(system.wait_until(
      [&] {
        refused = request(system.proxy_port(), blocked_host(origin));
        return refused.status == 403;
      },
      10s))
      << describe(refused) << "\n"
      << system.log();
  EXPECT_NE(refused.body.find("blocked by the block list of all: blocked.example"),
            std::string::npos)
      << refused.body;
  auto allowed = request(system.proxy_port(), origin_host(origin));
  EXPECT_EQ(allowed.status, 200) << describe(allowed);
  EXPECT_EQ(allowed.body, "hello from origin");
  // A subdomain is covered by the same rule.
  auto sub = wf::fetch(system.proxy_port(),
                       wf::get("www.blocked.example:" + std::to_string(origin.port()), "/hello"));
  EXPECT_EQ(sub.status, 403) << describe(sub);

  auto off = system.mpctl({"web", "off", "--all"});
  ASSERT_EQ(off.exit_code, 0) << off.output;
  wf::Connection::Response after;
  ASSERT_TRUE(system.wait_until(
      [&] {
        after = request(system.proxy_port(), blocked_host(origin));
        return after.status != 403;
      },
      10s))
      << describe(after);
  EXPECT_EQ(after.status, 200) << describe(after);
  EXPECT_EQ(after.body, "hello from origin");
}

// What the load thread saw, per host.
struct Tally {
  std::mutex mutex;
  std::map<int, int> blocked;  // status → count (0: no response: proxy down)
  std::map<int, int> allowed;
  std::string first_leak;  // the first response that let the blocked host through

  std::string text() {
    std::lock_guard lock(mutex);
    std::string out = "blocked host:";
    for (auto [status, n] : blocked) out += " " + std::to_string(status) + "×" + std::to_string(n);
    out += "; allowed host:";
    for (auto [status, n] : allowed) out += " " + std::to_string(status) + "×" + std::to_string(n);
    return out;
  }
};

TEST(E2ePolicy, PolicyAndWebfilterKilledUnderLoadLoseNothing) {
  wf::Origin origin;
  WebSystem system;
  ASSERT_TRUE(system.wait_until(
      [&] {
        return system.all_running({"bus", "session", "policy", "webfilter"});
      },
      20s))
      << system.log();
  ASSERT_TRUE(proxy_serves(system, origin));
  auto block = system.mpctl({"web", "block", "--all", kBlockedHost});
  ASSERT_EQ(block.exit_code, 0) << block.output;
  ASSERT_TRUE(system.wait_until(
      [&] { return request(system.proxy_port(), blocked_host(origin)).status == 403; }, 10s))
      << system.log();

  // Load: alternate blocked and allowed requests, each on a new connection, until told to stop
  // (20 s at most).
  Tally tally;
  std::atomic<bool> stop{false};
  std::atomic<int> sent{0};
  std::uint16_t port = system.proxy_port();
  std::thread load([&] {
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (!stop && std::chrono::steady_clock::now() < deadline && sent < 20000) {
      auto b = request(port, blocked_host(origin), 2s);
      auto a = request(port, origin_host(origin), 2s);
      sent += 2;
      std::lock_guard lock(tally.mutex);
      ++tally.blocked[b.status];
      ++tally.allowed[a.status];
      if (b.status != 403 && b.status != 503 && b.status != 0 && tally.first_leak.empty())
        tally.first_leak = describe(b);
      if (b.status == 0 || a.status == 0)
        std::this_thread::sleep_for(20ms);  // proxy down
      else
        std::this_thread::sleep_for(2ms);
    }
  });

  auto after_restart = [&](const std::string& service) -> ::testing::AssertionResult {
    auto before = system.services();
    if (!before.count(service) || before[service].pid <= 0)
      return ::testing::AssertionFailure() << "no pid for " << service;
    pid_t old_pid = before[service].pid;
    if (::kill(old_pid, SIGKILL) != 0) return ::testing::AssertionFailure() << "kill failed";
    bool restarted = system.wait_until(
        [&] {
          auto now = system.services();
          return now.count(service) && now[service].state == ServiceState::RUNNING &&
                 now[service].pid > 0 && now[service].pid != old_pid &&
                 now[service].restarts >= before[service].restarts + 1;
        },
        20s);
    if (!restarted)
      return ::testing::AssertionFailure() << service << " was not restarted\n" << system.log();
    // Allowed requests succeed again; the block holds.
    auto served = proxy_serves(system, origin);
    if (!served) return served;
    auto refused = request(system.proxy_port(), blocked_host(origin));
    if (refused.status != 403)
      return ::testing::AssertionFailure()
             << "after " << service << " restarted: " << describe(refused);
    json all = effective_of(system, "");
    if (!blocks(all, kBlockedHost))
      return ::testing::AssertionFailure()
             << "after " << service << " restarted the block is gone: " << all.dump();
    // And a change made now reaches the proxy (its replica follows the new incarnation).
    std::string added = service + ".example";
    auto more = system.mpctl({"web", "block", "--all", added});
    if (more.exit_code != 0) return ::testing::AssertionFailure() << more.output;
    wf::Connection::Response last;
    if (!system.wait_until(
            [&] {
              last = request(system.proxy_port(), added);
              return last.status == 403;
            },
            10s))
      return ::testing::AssertionFailure() << "after " << service << " restarted, a new block of "
                                           << added << " is not enforced: " << describe(last);
    return ::testing::AssertionSuccess();
  };

  system.wait_until([] { return false; }, 1500ms);
  EXPECT_TRUE(after_restart("policy"));
  system.wait_until([] { return false; }, 1500ms);
  EXPECT_TRUE(after_restart("webfilter"));
  system.wait_until([] { return false; }, 1500ms);
  stop = true;
  load.join();

  std::string seen = tally.text();
  std::lock_guard lock(tally.mutex);
  EXPECT_EQ(tally.blocked[200], 0) << seen;
  EXPECT_TRUE(tally.first_leak.empty()) << tally.first_leak << "\n" << seen;
  EXPECT_GT(tally.blocked[403], 100) << seen;
  EXPECT_GT(tally.allowed[200], 100) << seen;
  // Nothing else than "up and allowed", "down", or "not ready yet" for the allowed host.
  for (auto [status, n] : tally.allowed) {
    EXPECT_TRUE(status == 200 || status == 0 || status == 503) << seen;
  }
  std::printf("%d requests: %s\n", sent.load(), seen.c_str());
}

TEST(E2ePolicy, BlockedStationShowsInEffectivePolicy) {
  WebSystem system(/*with_fake_transport=*/true);
  ASSERT_TRUE(system.wait_until(
      [&] {
        return system.all_running({"bus", "session", "policy", "webfilter", "fake-transport"});
      },
      20s))
      << system.log();
  const std::string station = "fake:seat-1";
  auto reply = system.client().call(
      "fake-transport",
      [&](Envelope::Builder e) {
        auto attach = e.initSimulateStations().initAttach(1);
        attach[0].setKey(station);
        attach[0].setClientName("seat-1");
        attach[0].setAddress("10.0.0.1");
      },
      mp::bus::RequestOptions{.deadline = 5s});
  ASSERT_TRUE(reply.ok()) << reply.error_text();
  // mp-policy learns the station from mp-session and publishes a policy for it.
  ASSERT_TRUE(system.wait_until([&] { return !effective_of(system, station).is_null(); }, 15s))
      << system.mpctl({"policy", "show", "--json"}).output << "\n"
      << system.log();

  auto block = system.mpctl({"block", "--all", "--message", "Eyes on me"});
  ASSERT_EQ(block.exit_code, 0) << block.output;
  for (const std::string& key : {std::string(), station}) {
    json e = effective_of(system, key);
    ASSERT_FALSE(e.is_null()) << "no effective policy for '" << key << "'";
    EXPECT_EQ(e.value("blocked", false), true) << e.dump();
    EXPECT_EQ(e.value("block_message", ""), "Eyes on me") << e.dump();
    EXPECT_EQ(e.value("block_source", ""), "all") << e.dump();
  }

  auto unblock = system.mpctl({"unblock", "--all"});
  ASSERT_EQ(unblock.exit_code, 0) << unblock.output;
  for (const std::string& key : {std::string(), station}) {
    json e = effective_of(system, key);
    ASSERT_FALSE(e.is_null()) << "no effective policy for '" << key << "'";
    EXPECT_EQ(e.value("blocked", true), false) << e.dump();
  }
}

}  // namespace
}  // namespace mp::test
