// A blocked station's lock is drawn by mp-rdp itself, from mp-policy's effective policy: the
// client sees mp-rdp's lock picture, never the session's screen, and its keys reach nothing —
// whatever runs inside the session. Real mp-bus, mp-policy, mp-rdp, Xvfb and xfreerdp; a stub
// mp-session.
#include <gtest/gtest.h>

#include <thread>

#include "mp/bus/client.h"
#include "mp/bus/endpoints.h"
#include "rdp_system.h"

namespace mp::test {
namespace {

using namespace std::chrono_literals;
using mp::schema::Envelope;

constexpr Colour kLockBackground{0x0F, 0x2A, 0x47};  // lib/lockscreen

class RdpLockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto missing = missing_rdp_prerequisites(); !missing.empty()) GTEST_SKIP() << missing;
    system = std::make_unique<RdpSystem>();
    policy = std::make_unique<ChildProcess>(
        bin_dir() / "mp-policy",
        std::vector<std::string>{"--runtime-dir", system->runtime_dir().string(), "--state-dir",
                                 (system->dir() / "policy").string()},
        ChildProcess::Options{.output_file = system->dir() / "policy.log"});
    caller = std::make_unique<mp::bus::Client>(
        context, reactor, mp::bus::Endpoints::in_directory(system->runtime_dir()),
        mp::bus::ClientOptions{.service = "test"});
    caller->subscribe("transport.screen.", [this](std::string_view, const mp::bus::Incoming& e) {
      auto screen = e.envelope().getStationScreen();
      screens.emplace_back(std::string(screen.getStationKey()), screen.getShows());
    });
    system->start_rdp();
    ASSERT_TRUE(system->rdp_running()) << system->rdp_log();
  }

  void block(const std::string& station, bool blocked, const std::string& message = "") {
    auto reply = caller->call(
        "policy",
        [&](Envelope::Builder e) {
          auto body = e.initSetBlock();
          body.initScope().setStation(station);
          body.setBlocked(blocked);
          body.setMessage(message);
        },
        mp::bus::RequestOptions{.deadline = 10s,
                                .idempotency_key = "block-" + std::to_string(++requests)});
    ASSERT_TRUE(reply.ok()) << reply.error_text();
  }

  // Share of the client window showing the lock's background.
  double lock_share() {
    int w = 0, h = 0;
    auto origin = system->client_display().largest_window_origin(&w, &h);
    if (w == 0) return 0;
    return colour_share(system->client_display().screenshot(), origin, w, h, kLockBackground, 8);
  }

  bool shows(const std::string& station, mp::schema::StationScreen::Shows what) {
    for (const auto& [key, shown] : screens) {
      if (key == station && shown == what) return true;
    }
    return false;
  }

  void type(const std::string& key) {
    int w = 0, h = 0;
    auto origin = system->client_display().largest_window_origin(&w, &h);
    auto result = run("/usr/bin/xdotool",
                      {"mousemove", std::to_string(origin.first + w / 2),
                       std::to_string(origin.second + h / 2), "key", key},
                      ChildProcess::Options{.env = system->client_display().env()}, 10s);
    EXPECT_EQ(result.exit_code, 0) << result.output;
  }

  std::unique_ptr<RdpSystem> system;
  std::unique_ptr<ChildProcess> policy;
  zmq::context_t context;
  mp::bus::Reactor reactor;
  std::unique_ptr<mp::bus::Client> caller;
  std::vector<std::pair<std::string, mp::schema::StationScreen::Shows>> screens;
  int requests = 0;
};

TEST_F(RdpLockTest, ABlockedStationShowsTheTransportsLockAndItsKeysReachNothing) {
  using Shows = mp::schema::StationScreen::Shows;
  auto client = system->start_client({"/nsc", "-gfx", "/client-hostname:lab-lock"}, "client.log");
  ASSERT_EQ(system->wait_for_pattern(15s, 2), 0) << system->rdp_log();
  ASSERT_TRUE(reactor.run_until([&] { return shows("rdp:lab-lock", Shows::DESKTOP); }, 10s));

  block("rdp:lab-lock", true, "Eyes on the board");
  ASSERT_TRUE(reactor.run_until([&] { return shows("rdp:lab-lock", Shows::LOCK); }, 10s))
      << system->rdp_log();
  ASSERT_TRUE(eventually([&] { return lock_share() > 0.8; }, 10s))
      << "the client does not show the lock: " << lock_share();
  system->client_display().screenshot().save_png("/tmp/mp-rdp-locked.png");

  // The session keeps drawing its pattern meanwhile: none of it reaches the client.
  type("q");
  block("rdp:lab-lock", false);
  ASSERT_EQ(system->wait_for_pattern(15s, 2, "/tmp/mp-rdp-unlocked.png"), 0) << system->rdp_log();
  EXPECT_TRUE(reactor.run_until(
      [&] {
        return std::count_if(screens.begin(), screens.end(),
                             [](const auto& s) { return s.second == Shows::DESKTOP; }) >= 2;
      },
      5s));
  // Keys are replayed in order: once 'z' (typed after the unlock) arrived, a forwarded 'q'
  // would have arrived before it.
  type("z");
  ASSERT_TRUE(eventually(
      [&] { return system->workload_log().find("key press z") != std::string::npos; }, 5s))
      << system->workload_log();
  EXPECT_EQ(system->workload_log().find("key press q"), std::string::npos)
      << "a key typed on the lock reached the session";
  client->stop(3s);
}

TEST_F(RdpLockTest, AStationBlockedBeforeItConnectsNeverShowsItsDesktop) {
  using Shows = mp::schema::StationScreen::Shows;
  block("rdp:late", true, "Test in progress");
  // mp-rdp keeps the blocks it knows in its state directory: it has this one.
  ASSERT_TRUE(eventually(
      [&] {
        return read_file(system->state_dir() / "rdp" / "blocked-stations").find("rdp:late") !=
               std::string::npos;
      },
      10s));
  auto client = system->start_client({"/nsc", "-gfx", "/client-hostname:late"}, "client.log");
  ASSERT_TRUE(reactor.run_until([&] { return shows("rdp:late", Shows::LOCK); }, 15s))
      << system->rdp_log();
  ASSERT_TRUE(eventually([&] { return lock_share() > 0.8; }, 10s));
  EXPECT_FALSE(shows("rdp:late", Shows::DESKTOP)) << "its first frame was the lock";
  client->stop(3s);
}

}  // namespace
}  // namespace mp::test
