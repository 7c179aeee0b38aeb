// At scale, all real processes: 20,000 stations attached through the fake transport leave
// `mpctl stations` and every replica working. mp-session's snapshot of 20,000 stations is
// several MiB: before paging it passed the bus's 1 MiB limit at a few thousand stations, and
// every replica (mp-policy, mp-webfilter, mp-dashboard) failed to sync for good.
//
// The consumers are stopped while the stations attach, so each must learn them from a snapshot
// when it starts again (not from the updates it would otherwise have followed one by one):
// mp-policy publishes an effective policy for every station, mp-webfilter is ready (its proxy
// answers instead of "not loaded yet"), mp-dashboard's /api/stations lists all of them.
#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "mp/bus/client.h"
#include "mp/bus/endpoints.h"
#include "mp/bus/replica.h"
#include "support/process.h"
#include "support/temp_dir.h"
#include "webfilter_support.h"

namespace mp::test {
namespace {

using namespace std::chrono_literals;
using mp::schema::Envelope;
using nlohmann::json;
namespace wf = mp::webfilter::test;

constexpr int kStations = 20000;
// One simulateStations per batch, the next once mp-session has them all: the fake transport sends
// one request per station, and its bus connection holds about a thousand waiting messages.
constexpr int kBatch = 250;

std::string station_key(int i) { return "fake:scale-" + std::to_string(i); }

class ScaleSystem {
 public:
  ScaleSystem() : runtime_dir_(dir_.path() / "run"), proxy_port_(free_port()), port_(free_port()) {
    // As root mp-dashboard runs as its own system user: it must pass through here to the bus.
    std::filesystem::permissions(dir_.path(), std::filesystem::perms(0711));
    std::filesystem::create_directories(dir_.path() / "state");
    json services = json::array(
        {{{"name", "bus"}},
         {{"name", "session"}},
         {{"name", "policy"}},
         {{"name", "webfilter"},
          {"args",
           {"--listen", "127.0.0.1:" + std::to_string(proxy_port_), "--transparent-listen", "",
            "--no-nftables", "--allow-loopback-upstream", "--log-level", "info"}}},
         {{"name", "fake-transport"}},
         {{"name", "dashboard"}, {"args", {"--listen", "127.0.0.1:" + std::to_string(port_)}}}});
    std::ofstream(dir_.path() / "supervisor.json") << json{{"services", services}}.dump(2);
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
                                                mp::bus::ClientOptions{.service = "scaletest"});
  }

  ~ScaleSystem() {
    client_.reset();
    int code = supervisor_->stop(30s);
    EXPECT_EQ(code, 0) << "the supervisor did not stop cleanly\n" << log().substr(0, 20000);
    for (const auto& name : accounts_) remove_linux_account(name);
  }

  mp::bus::Client& client() { return *client_; }
  std::uint16_t proxy_port() const { return proxy_port_; }
  std::string log() const { return read_file(dir_.path() / "system.log"); }
  std::string log_tail() const {
    std::string all = log();
    return all.size() > 8000 ? all.substr(all.size() - 8000) : all;
  }

  RunResult mpctl(std::vector<std::string> args, ChildProcess::Options options = {}) {
    args.insert(args.begin(), {"--runtime-dir", runtime_dir_.string(), "--timeout", "10000"});
    return run(bin_dir() / "mpctl", args, std::move(options), 120s);
  }

  // Runs the bus reactor meanwhile (the test's replicas follow from it).
  bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                  std::chrono::milliseconds every = 100ms) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (condition()) return true;
      reactor_.run_until([] { return false; }, every);
    }
    return condition();
  }

  bool registered(const std::string& service) {
    auto reply = client_->call(
        "bus", [](Envelope::Builder e) { e.initBusStatusRequest(); },
        mp::bus::RequestOptions{.deadline = 2s});
    if (!reply.ok()) return false;
    for (auto s : reply.envelope().getBusStatus().getServices()) {
      if (s.getName() == service) return true;
    }
    return false;
  }

  std::string add_dashboard_user(const std::string& password) {
    std::string name = "scale" + std::to_string(getpid());
    accounts_.push_back(name);
    ChildProcess::Options options;
    options.stdin_text = password + "\n";
    RunResult result =
        mpctl({"user", "add", name, "--role", "dashboard", "--password-stdin"}, options);
    EXPECT_EQ(result.exit_code, 0) << result.output;
    return name;
  }

  // /api/stations after a login; null when the dashboard does not answer (yet).
  json dashboard_stations(const std::string& user, const std::string& password) {
    httplib::Client http("127.0.0.1", port_);
    http.set_connection_timeout(5, 0);
    http.set_read_timeout(60, 0);
    auto login = http.Post("/api/login", json{{"user", user}, {"password", password}}.dump(),
                           "application/json");
    if (!login || login->status != 200) return nullptr;
    std::string cookie = login->get_header_value("Set-Cookie");
    cookie = cookie.substr(0, cookie.find(';'));
    auto stations = http.Get("/api/stations", {{"Cookie", cookie}});
    if (!stations || stations->status != 200) return nullptr;
    return json::parse(stations->body, nullptr, false);
  }

 private:
  TempDir dir_{"mpscale"};
  std::filesystem::path runtime_dir_;
  std::uint16_t proxy_port_;
  std::uint16_t port_;
  std::unique_ptr<ChildProcess> supervisor_;
  zmq::context_t context_;
  mp::bus::Reactor reactor_;
  std::unique_ptr<mp::bus::Client> client_;
  std::vector<std::string> accounts_;
};

// A replica in this process of one authority's state: the keys it holds, page by page.
struct KeyMirror {
  std::set<std::string> keys, building;
  std::unique_ptr<mp::bus::Replica> replica;

  KeyMirror(mp::bus::Client& client, const std::string& authority, bool policy) {
    auto info_of =
        [policy](
            const mp::bus::Incoming& page) -> std::optional<mp::schema::SnapshotResponse::Reader> {
      auto e = page.envelope();
      if (policy && e.isPolicySnapshot()) return e.getPolicySnapshot().getInfo();
      if (!policy && e.isSessionSnapshot()) return e.getSessionSnapshot().getInfo();
      return std::nullopt;
    };
    replica = std::make_unique<mp::bus::Replica>(
        client, authority, authority, info_of,
        mp::bus::Replica::Callbacks{.on_begin = [this] { building.clear(); },
                                    .on_page =
                                        [this, policy](const mp::bus::Incoming& page) {
                                          auto e = page.envelope();
                                          if (policy) {
                                            for (auto p : e.getPolicySnapshot().getEffective())
                                              building.insert(p.getStationKey());
                                          } else {
                                            for (auto s : e.getSessionSnapshot().getStations())
                                              building.insert(s.getKey());
                                          }
                                        },
                                    .on_end = [this](std::uint64_t) { keys.swap(building); },
                                    .on_update =
                                        [this](std::string_view, const mp::bus::Incoming& update) {
                                          auto e = update.envelope();
                                          if (e.isEffectivePolicy())
                                            keys.insert(e.getEffectivePolicy().getStationKey());
                                          if (e.isStationUpdate()) {
                                            std::string key =
                                                e.getStationUpdate().getStation().getKey();
                                            if (e.getStationUpdate().getRemoved()) {
                                              keys.erase(key);
                                            } else {
                                              keys.insert(key);
                                            }
                                          }
                                        }});
    replica->start();
  }
  std::size_t scale_stations() const {
    std::size_t n = 0;
    for (const auto& key : keys) n += key.rfind("fake:scale-", 0) == 0;
    return n;
  }
};

TEST(E2eScale, TwentyThousandStationsLeaveMpctlAndEveryReplicaWorking) {
  wf::Origin origin;
  ScaleSystem system;
  ASSERT_TRUE(system.wait_until(
      [&] {
        for (const char* s : {"session", "policy", "webfilter", "fake-transport", "dashboard"}) {
          if (!system.registered(s)) return false;
        }
        return true;
      },
      30s))
      << system.log_tail();
  const std::string password = "a long scale test passphrase";
  std::string user = system.add_dashboard_user(password);

  // The consumers are away while the stations come.
  for (const char* service : {"policy", "webfilter", "dashboard"}) {
    auto stop = system.mpctl({"stop", service});
    ASSERT_EQ(stop.exit_code, 0) << stop.output;
  }
  KeyMirror sessions(system.client(), "session", /*policy=*/false);
  ASSERT_TRUE(system.wait_until([&] { return sessions.replica->synced(); }, 10s));

  auto started = std::chrono::steady_clock::now();
  for (int first = 0; first < kStations; first += kBatch) {
    auto reply = system.client().call(
        "fake-transport",
        [&](Envelope::Builder e) {
          auto attach = e.initSimulateStations().initAttach(kBatch);
          for (int i = 0; i < kBatch; ++i) {
            attach[i].setKey(station_key(first + i));
            attach[i].setClientName("scale-" + std::to_string(first + i));
            attach[i].setAddress("10.0." + std::to_string((first + i) / 250) + "." +
                                 std::to_string((first + i) % 250 + 1));
          }
        },
        mp::bus::RequestOptions{.deadline = 10s});
    ASSERT_TRUE(reply.ok()) << reply.error_text();
    // mp-session takes them one request at a time; the next batch once this one is in.
    ASSERT_TRUE(system.wait_until(
        [&] { return sessions.scale_stations() >= static_cast<std::size_t>(first + kBatch); },
        120s))
        << sessions.scale_stations() << " stations after batch " << first / kBatch << "\n"
        << system.log_tail();
  }
  std::printf("%d stations attached in %.1f s\n", kStations,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());

  // mpctl reads every page.
  RunResult listed = system.mpctl({"stations", "--json"});
  ASSERT_EQ(listed.exit_code, 0) << listed.output.substr(0, 2000);
  json stations = json::parse(listed.output, nullptr, false);
  ASSERT_TRUE(stations.is_array()) << listed.output.substr(0, 2000);
  std::set<std::string> keys;
  for (const auto& s : stations) keys.insert(s.value("key", ""));
  for (int i = 0; i < kStations; i += 997) EXPECT_TRUE(keys.contains(station_key(i))) << i;
  EXPECT_EQ(keys.size(), static_cast<std::size_t>(kStations));
  RunResult table = system.mpctl({"stations"});
  EXPECT_EQ(table.exit_code, 0) << table.output.substr(0, 2000);
  EXPECT_NE(table.output.find(station_key(kStations - 1)), std::string::npos);

  // mp-policy starts, learns the stations from mp-session's snapshot, publishes for each.
  ASSERT_EQ(system.mpctl({"start", "policy"}).exit_code, 0);
  KeyMirror policy(system.client(), "policy", /*policy=*/true);
  ASSERT_TRUE(system.wait_until(
      [&] {
        return policy.replica->synced() &&
               policy.scale_stations() == static_cast<std::size_t>(kStations);
      },
      180s, 500ms))
      << policy.scale_stations() << " effective policies\n"
      << system.log_tail();
  // mp-policy read mp-session's snapshot (not only updates: it was stopped meanwhile).
  EXPECT_TRUE(system.wait_until(
      [&] {
        std::string log = system.log();
        auto synced = log.find("mp-session synced at version ");
        return synced != std::string::npos &&
               log.find(": " + std::to_string(kStations) + " stations", synced) !=
                   std::string::npos;
      },
      10s))
      << system.log_tail();
  // A consumer that starts now gets the 20,000 effective policies in pages.
  KeyMirror late_policy(system.client(), "policy", /*policy=*/true);
  ASSERT_TRUE(system.wait_until([&] { return late_policy.replica->synced(); }, 60s));
  EXPECT_EQ(late_policy.scale_stations(), static_cast<std::size_t>(kStations));
  EXPECT_GT(late_policy.replica->pages(), 1u);

  // mp-webfilter and mp-dashboard start and sync both replicas.
  ASSERT_EQ(system.mpctl({"start", "webfilter"}).exit_code, 0);
  ASSERT_EQ(system.mpctl({"start", "dashboard"}).exit_code, 0);
  wf::Connection::Response last;
  ASSERT_TRUE(system.wait_until(
      [&] {
        last = wf::fetch(system.proxy_port(),
                         wf::get("127.0.0.1:" + std::to_string(origin.port()), "/hello"), 3s);
        return last.status == 200;
      },
      120s, 500ms))
      << "mp-webfilter is not ready: " << last.status << " " << last.body << "\n"
      << system.log_tail();
  EXPECT_EQ(last.body, "hello from origin");

  json board;
  ASSERT_TRUE(system.wait_until(
      [&] {
        board = system.dashboard_stations(user, password);
        return board.is_object() && board["synced"].value("session", false) &&
               board["synced"].value("policy", false) &&
               board["stations"].size() >= static_cast<std::size_t>(kStations);
      },
      120s, 1000ms))
      << (board.is_object() ? board["synced"].dump() : "no answer") << "\n"
      << system.log_tail();
  EXPECT_EQ(board["stations"].size(), static_cast<std::size_t>(kStations));

  // No oversized message was ever attempted by the services (each would have been logged).
  std::string all = system.log();
  auto oversized = all.find("over the bus's limit");
  EXPECT_EQ(oversized, std::string::npos) << all.substr(oversized > 300 ? oversized - 300 : 0, 600);
}

}  // namespace
}  // namespace mp::test
