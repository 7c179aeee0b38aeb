// Unit: the dashboard's parts without a process — login sessions and their guard, bounded
// JSON input, the event fan-out, the station view, and the bridge to the bus thread.
#include <capnp/message.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "account_directory.h"
#include "bus_bridge.h"
#include "event_broadcaster.h"
#include "json_input.h"
#include "login_guard.h"
#include "login_sessions.h"
#include "random_token.h"
#include "station_board.h"

namespace mp::dashboard {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

// Login sessions ---------------------------------------------------------------------------

TEST(LoginSessions, EverySessionGetsItsOwnUnguessableIdAndToken) {
  LoginSessions sessions;
  auto now = Clock::now();
  auto a = sessions.create("ann", "dashboard", "127.0.0.1", now);
  auto b = sessions.create("ann", "dashboard", "127.0.0.1", now);
  EXPECT_EQ(a.id.size(), 64u);  // 256 bits in hex
  EXPECT_EQ(a.csrf_token.size(), 64u);
  EXPECT_NE(a.id, b.id);
  EXPECT_NE(a.csrf_token, b.csrf_token);
  EXPECT_NE(a.id, a.csrf_token);
  ASSERT_TRUE(sessions.use(a.id, now));
  EXPECT_EQ(sessions.use(a.id, now)->user, "ann");
  EXPECT_FALSE(sessions.use("not-a-session", now));
}

TEST(LoginSessions, IdleSessionExpiresButUseKeepsItAlive) {
  LoginSessions sessions(LoginSessions::Options{.idle_timeout = 10min, .lifetime = 12h});
  auto start = Clock::now();
  auto kept = sessions.create("ann", "admin", "a", start);
  auto idle = sessions.create("bob", "admin", "b", start);
  EXPECT_TRUE(sessions.use(kept.id, start + 9min));
  EXPECT_TRUE(sessions.use(kept.id, start + 18min));
  EXPECT_FALSE(sessions.use(idle.id, start + 10min));
  EXPECT_FALSE(sessions.use(idle.id, start));  // gone for good, not only expired
}

TEST(LoginSessions, LifetimeEndsASessionEvenInUse) {
  LoginSessions sessions(LoginSessions::Options{.idle_timeout = 10min, .lifetime = 1h});
  auto start = Clock::now();
  auto s = sessions.create("ann", "admin", "a", start);
  for (auto t = 5min; t < 60min; t += 5min) ASSERT_TRUE(sessions.use(s.id, start + t));
  EXPECT_FALSE(sessions.use(s.id, start + 60min));
}

TEST(LoginSessions, RemoveLogsOut) {
  LoginSessions sessions;
  auto now = Clock::now();
  auto s = sessions.create("ann", "admin", "a", now);
  EXPECT_TRUE(sessions.remove(s.id));
  EXPECT_FALSE(sessions.use(s.id, now));
  EXPECT_FALSE(sessions.remove(s.id));
}

TEST(LoginSessions, AFullStoreDropsTheLeastRecentlyUsed) {
  LoginSessions sessions(LoginSessions::Options{.max_sessions = 2});
  auto now = Clock::now();
  auto first = sessions.create("a", "admin", "a", now);
  auto second = sessions.create("b", "admin", "b", now + 1s);
  ASSERT_TRUE(sessions.use(first.id, now + 2s));  // now `second` is the least recently used
  auto third = sessions.create("c", "admin", "c", now + 3s);
  EXPECT_EQ(sessions.size(), 2u);
  EXPECT_TRUE(sessions.use(first.id, now + 4s));
  EXPECT_FALSE(sessions.use(second.id, now + 4s));
  EXPECT_TRUE(sessions.use(third.id, now + 4s));
}

TEST(RandomToken, ComparesSecretsExactly) {
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "ab"));
  EXPECT_FALSE(constant_time_equal("", "a"));
  EXPECT_EQ(random_hex(16).find_first_not_of("0123456789abcdef"), std::string::npos);
}

// Logins that follow account changes --------------------------------------------------------

LoginSession login_of(const std::string& user, const std::string& role, std::int64_t at_ns) {
  LoginSession login;
  login.id = "id-" + user;
  login.user = user;
  login.role = role;
  login.logged_in_at_ns = at_ns;
  return login;
}

TEST(LoginGuard, ALoginIsGoodWhileItsAccountIsUnchanged) {
  auto login = login_of("ann", "dashboard", 1000);
  EXPECT_EQ(why_login_ended(login, Account{"dashboard", 0}, true), "");
  EXPECT_EQ(why_login_ended(login, Account{"dashboard", 999}, true), "")
      << "a reset before the login";
  EXPECT_EQ(why_login_ended(login, std::nullopt, false), "")
      << "before the first snapshot nothing contradicts it";
}

TEST(LoginGuard, RemovalDemotionAndPasswordResetEndALogin) {
  auto login = login_of("ann", "admin", 1000);
  EXPECT_EQ(why_login_ended(login, std::nullopt, true), "the account 'ann' was removed");
  EXPECT_EQ(why_login_ended(login, Account{"dashboard", 0}, true),
            "the role of 'ann' changed from admin to dashboard");
  EXPECT_EQ(why_login_ended(login, Account{"standard", 0}, true),
            "the role of 'ann' changed from admin to standard");
  EXPECT_EQ(why_login_ended(login, Account{"admin", 1001}, true),
            "the password of 'ann' was reset");
}

TEST(LoginGuard, SweepEndsTheLoginsOfChangedAccountsAndTheirEventStreams) {
  AccountDirectory accounts;
  LoginSessions sessions;
  EventBroadcaster events;
  LoginGuard guard(accounts, sessions, events);
  auto now = Clock::now();
  auto ann = sessions.create("ann", "admin", "a", now, 1000);
  auto bob = sessions.create("bob", "dashboard", "b", now, 1000);
  auto cid = sessions.create("cid", "dashboard", "c", now, 1000);
  auto stream = events.subscribe(ann.id);
  ASSERT_TRUE(stream);
  EXPECT_EQ(guard.sweep(), 0u) << "no snapshot yet";
  accounts.replace({{"ann", Account{"admin", 0}},
                    {"bob", Account{"dashboard", 0}},
                    {"cid", Account{"dashboard", 0}}});
  EXPECT_EQ(guard.sweep(), 0u);

  accounts.set("ann", Account{"dashboard", 0});  // demoted
  accounts.remove("bob");
  EXPECT_EQ(guard.sweep(), 2u);
  EXPECT_FALSE(sessions.use(ann.id, now));
  EXPECT_FALSE(sessions.use(bob.id, now));
  EXPECT_TRUE(sessions.use(cid.id, now));
  EXPECT_TRUE(stream->wait(0ms).closed) << "the demoted login's event stream ended too";

  accounts.set("cid", Account{"dashboard", 2000});  // its password was reset
  EXPECT_EQ(guard.sweep(), 1u);
  EXPECT_FALSE(sessions.use(cid.id, now));
}

TEST(LoginSessions, RemoveIfReturnsWhatItRemovedAndWhy) {
  LoginSessions sessions;
  auto now = Clock::now();
  auto a = sessions.create("ann", "admin", "a", now);
  auto b = sessions.create("bob", "admin", "b", now);
  auto removed = sessions.remove_if(
      [](const LoginSession& s) { return s.user == "bob" ? std::string("gone") : std::string(); });
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_EQ(removed[0].first.id, b.id);
  EXPECT_EQ(removed[0].second, "gone");
  EXPECT_TRUE(sessions.use(a.id, now));
}

// JSON input -------------------------------------------------------------------------------

TEST(JsonInput, DepthIgnoresBracketsInStrings) {
  EXPECT_EQ(json_nesting_depth(R"({"a": "[[[[{{{{\"]]"})"), 1u);
  EXPECT_EQ(json_nesting_depth(R"([[1], {"b": [2]}])"), 3u);
  EXPECT_EQ(json_nesting_depth("3"), 0u);
}

TEST(JsonInput, RefusesDeepUnknownAndMalformedBodies) {
  InputLimits limits;
  std::string error;
  EXPECT_FALSE(parse_object(std::string(100, '[') + std::string(100, ']'), {"a"}, limits, &error));
  EXPECT_NE(error.find("nested deeper"), std::string::npos) << error;
  EXPECT_FALSE(parse_object(R"({"stations": "all", "mesage": "x"})", {"stations", "message"},
                            limits, &error));
  EXPECT_EQ(error, "unknown field 'mesage'");
  EXPECT_FALSE(parse_object("{", {"a"}, limits, &error));
  EXPECT_EQ(error, "the body is not valid JSON");
  EXPECT_FALSE(parse_object("[1]", {"a"}, limits, &error));
  EXPECT_EQ(error, "the body must be a JSON object");
  EXPECT_TRUE(parse_object(R"({"a": [1]})", {"a"}, limits, &error));
}

TEST(JsonInput, SelectionIsAllOrValidDistinctKeys) {
  InputLimits limits{.max_stations = 3};
  Selection all, some, none;
  EXPECT_EQ(read_selection(json{{"stations", "all"}}, "stations", limits, &all), "");
  EXPECT_TRUE(all.all);
  EXPECT_EQ(read_selection(json{{"stations", {"rdp:a", "usb:1-2.3", "rdp:a"}}}, "stations", limits,
                           &some),
            "");
  EXPECT_FALSE(some.all);
  EXPECT_EQ(some.stations, (std::vector<std::string>{"rdp:a", "usb:1-2.3"}));
  EXPECT_NE(read_selection(json{{"stations", "everyone"}}, "stations", limits, &none), "");
  EXPECT_NE(read_selection(json{{"stations", json::array()}}, "stations", limits, &none), "");
  EXPECT_NE(read_selection(json{{"stations", {"a b"}}}, "stations", limits, &none), "");
  EXPECT_NE(read_selection(json{{"stations", {1}}}, "stations", limits, &none), "");
  EXPECT_NE(read_selection(json{{"stations", {"a", "b", "c", "d"}}}, "stations", limits, &none),
            "");
  EXPECT_NE(read_selection(json::object(), "stations", limits, &none), "");
}

TEST(JsonInput, TextIsBoundedInCharactersAndPrintable) {
  std::string out;
  std::string e_acute = "\xc3\xa9";
  std::string fits, too_long;
  for (int i = 0; i < 10; ++i) fits += e_acute;
  too_long = fits + e_acute;
  EXPECT_EQ(read_text(json{{"t", fits}}, "t", 10, true, &out), "");
  EXPECT_EQ(out, fits);
  EXPECT_NE(read_text(json{{"t", too_long}}, "t", 10, true, &out), "");
  EXPECT_NE(read_text(json{{"t", "line\nbreak"}}, "t", 100, true, &out), "");
  EXPECT_NE(read_text(json{{"t", 5}}, "t", 100, true, &out), "");
  EXPECT_NE(read_text(json{{"t", ""}}, "t", 100, true, &out), "");
  EXPECT_NE(read_text(json::object(), "t", 100, true, &out), "");
  EXPECT_EQ(read_text(json::object(), "t", 100, false, &out), "");
  EXPECT_EQ(out, "");
}

// Event fan-out ----------------------------------------------------------------------------

TEST(EventBroadcaster, EveryStreamGetsEveryEventInOrder) {
  EventBroadcaster events;
  auto a = events.subscribe("s1");
  auto b = events.subscribe("s2");
  events.publish({"station", "1"});
  events.publish({"station", "2"});
  for (const auto& subscription : {a, b}) {
    auto batch = subscription->wait(1s);
    ASSERT_EQ(batch.events.size(), 2u);
    EXPECT_EQ(batch.events[0].data, "1");
    EXPECT_EQ(batch.events[1].data, "2");
    EXPECT_FALSE(batch.lagged);
    EXPECT_FALSE(batch.closed);
  }
  EXPECT_TRUE(a->wait(10ms).events.empty());
  EXPECT_EQ(format_server_event({"station", "{}"}), "event: station\ndata: {}\n\n");
  EXPECT_EQ(format_server_event({"", "keep-alive"}), ": keep-alive\n\n");
}

TEST(EventBroadcaster, AStreamThatFallsBehindIsToldToResync) {
  EventBroadcaster events(EventBroadcaster::Options{.max_subscribers = 4, .max_queued = 3});
  auto slow = events.subscribe("s");
  for (int i = 0; i < 10; ++i) events.publish({"station", std::to_string(i)});
  auto batch = slow->wait(1s);
  EXPECT_TRUE(batch.lagged);
  EXPECT_TRUE(batch.events.empty());
  events.publish({"station", "after"});
  batch = slow->wait(1s);
  EXPECT_FALSE(batch.lagged);
  ASSERT_EQ(batch.events.size(), 1u);
  EXPECT_EQ(batch.events[0].data, "after");
}

TEST(EventBroadcaster, LogoutEndsOnlyThatSessionsStreamsAndShutdownEndsAll) {
  EventBroadcaster events(EventBroadcaster::Options{.max_subscribers = 2, .max_queued = 8});
  auto mine = events.subscribe("me");
  auto other = events.subscribe("you");
  EXPECT_EQ(events.subscribe("third"), nullptr) << "at most max_subscribers streams";
  // A waiting stream wakes at once.
  std::thread waiter([&] { EXPECT_TRUE(mine->wait(10s).closed); });
  events.close_owner("me");
  waiter.join();
  EXPECT_FALSE(other->wait(10ms).closed);
  events.unsubscribe(mine);
  EXPECT_EQ(events.subscribers(), 1u);
  events.close();
  EXPECT_TRUE(other->wait(10s).closed);
  EXPECT_EQ(events.subscribe("late"), nullptr);
}

// Station view -----------------------------------------------------------------------------

class StationBoardTest : public ::testing::Test {
 protected:
  StationBoardTest() : board([this](const ServerEvent& event) { published.push_back(event); }) {}

  void snapshot(mp::schema::StationState state, bool with_session) {
    capnp::MallocMessageBuilder message;
    auto s = message.initRoot<mp::schema::Snapshot>();
    auto stations = s.initStations(2);
    stations[0].setKey("rdp:a");
    stations[0].setName("Desk A");
    stations[0].setTransport("rdp");
    stations[0].setState(state);
    stations[0].setSessionId(with_session ? 7 : 0);
    stations[1].setKey("rdp:b");
    stations[1].setTransport("rdp");
    stations[1].setState(mp::schema::StationState::ATTACHED);
    if (with_session) {
      auto session = s.initSessions(1)[0];
      session.setId(7);
      session.setStationKey("rdp:a");
      session.setUser("student1");
      session.setState(mp::schema::SessionState::ACTIVE);
    }
    auto user = s.initUsers(1)[0];
    user.setName("teacher");
    user.setRole(mp::schema::Role::DASHBOARD);
    board.session_snapshot(s.asReader());
  }

  void policy(const std::string& key, bool blocked, const std::string& message) {
    capnp::MallocMessageBuilder builder;
    auto e = builder.initRoot<mp::schema::EffectivePolicy>();
    e.setStationKey(key);
    e.setBlocked(blocked);
    e.setBlockMessage(message);
    board.effective_update(e.asReader());
  }

  json station(const std::string& key) { return board.station_json(key); }

  std::vector<ServerEvent> published;
  StationBoard board;
};

TEST_F(StationBoardTest, StateCombinesStationSessionAndPolicy) {
  snapshot(mp::schema::StationState::ATTACHED, /*with_session=*/true);
  EXPECT_EQ(station("rdp:a")["state"], "in_use");
  EXPECT_EQ(station("rdp:a")["user"], "student1");
  EXPECT_EQ(station("rdp:a")["name"], "Desk A");
  EXPECT_EQ(station("rdp:b")["state"], "free");
  EXPECT_EQ(station("rdp:b")["name"], "rdp:b") << "an unnamed station shows its key";
  policy("rdp:a", true, "Eyes front");
  EXPECT_EQ(station("rdp:a")["state"], "blocked");
  EXPECT_EQ(station("rdp:a")["block_message"], "Eyes front");
  EXPECT_EQ(station("rdp:a")["user"], "student1");
  snapshot(mp::schema::StationState::DETACHED, /*with_session=*/true);
  EXPECT_EQ(station("rdp:a")["state"], "disconnected");
  EXPECT_EQ(station("rdp:a")["blocked"], true);
  EXPECT_EQ(board.users_json()["users"][0]["role"], "dashboard");
}

TEST_F(StationBoardTest, TheAllStationsPolicyCoversStationsNotYetPublished) {
  snapshot(mp::schema::StationState::ATTACHED, /*with_session=*/false);
  published.clear();
  policy("", true, "Break");
  EXPECT_EQ(station("rdp:a")["state"], "blocked");
  EXPECT_EQ(station("rdp:b")["state"], "blocked");
  EXPECT_EQ(published.size(), 2u) << "each affected station is announced";
  policy("rdp:b", false, "");
  EXPECT_EQ(station("rdp:b")["state"], "free") << "a station's own policy wins";
}

TEST_F(StationBoardTest, ChangesBecomeStationEventsAndSnapshotsResyncEvents) {
  snapshot(mp::schema::StationState::ATTACHED, /*with_session=*/false);
  ASSERT_FALSE(published.empty());
  EXPECT_EQ(published.back().name, "resync");
  published.clear();
  policy("rdp:a", true, "Stop");
  ASSERT_EQ(published.size(), 1u);
  EXPECT_EQ(published[0].name, "station");
  json data = json::parse(published[0].data);
  EXPECT_EQ(data["key"], "rdp:a");
  EXPECT_EQ(data["state"], "blocked");
  policy("rdp:a", true, "Stop");
  EXPECT_EQ(published.size(), 1u) << "an unchanged block is not news";

  capnp::MallocMessageBuilder builder;
  auto update = builder.initRoot<mp::schema::StationUpdate>();
  update.initStation().setKey("rdp:b");
  update.setRemoved(true);
  board.station_update(update.asReader());
  ASSERT_EQ(published.size(), 2u);
  EXPECT_EQ(published[1].name, "station_removed");
  EXPECT_TRUE(station("rdp:b").is_null());
}

// The bridge to the bus thread -------------------------------------------------------------

class BusThread {
 public:
  BusThread() : bridge(reactor) {
    thread_ = std::thread([this] {
      bus_thread_id = std::this_thread::get_id();
      reactor.run();
    });
  }
  // A test that closed the bridge stopped the reactor itself.
  ~BusThread() {
    bridge.post([this] { reactor.stop(); });
    thread_.join();
  }
  mp::bus::Reactor reactor;
  BusBridge bridge;
  std::atomic<std::thread::id> bus_thread_id;

 private:
  std::thread thread_;
};

TEST(BusBridge, CallsRunOnTheBusThreadAndReturnTheirAnswer) {
  BusThread bus;
  std::thread::id ran_on;
  auto result = bus.bridge.call<int>(
      [&](std::function<void(int)> done) {
        ran_on = std::this_thread::get_id();
        // Answered later, from a timer, as a bus reply would be.
        bus.reactor.after(10ms, [done] {
          done(42);
          done(43);  // a second answer is ignored
        });
      },
      5s);
  ASSERT_TRUE(result.value);
  EXPECT_EQ(*result.value, 42);
  EXPECT_EQ(ran_on, bus.bus_thread_id.load());
}

TEST(BusBridge, AnUnansweredCallTimesOutAndAThrowingOneFails) {
  BusThread bus;
  auto start = Clock::now();
  auto silent = bus.bridge.call<int>([](std::function<void(int)>) {}, 200ms);
  EXPECT_FALSE(silent.value);
  EXPECT_EQ(silent.error, BridgeError::timed_out);
  EXPECT_GE(Clock::now() - start, 200ms);
  auto throwing =
      bus.bridge.call<int>([](std::function<void(int)>) { throw std::runtime_error("boom"); }, 5s);
  EXPECT_EQ(throwing.error, BridgeError::failed);
}

TEST(BusBridge, CloseReleasesWaitersAndRefusesNewWork) {
  BusThread bus;
  std::atomic<bool> waiting{false};
  std::thread caller([&] {
    auto result = bus.bridge.call<int>([&](std::function<void(int)>) { waiting = true; }, 30s);
    EXPECT_EQ(result.error, BridgeError::closed);
  });
  while (!waiting) std::this_thread::sleep_for(1ms);
  auto start = Clock::now();
  bus.bridge.post([&] {
    bus.bridge.close();
    bus.reactor.stop();
  });
  caller.join();
  EXPECT_LT(Clock::now() - start, 5s);
  EXPECT_FALSE(bus.bridge.post([] {}));
}

}  // namespace
}  // namespace mp::dashboard
