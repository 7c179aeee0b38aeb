// The rules of one session per user and per station, alone on a real store: which session a
// logon gets, and how one ends. No desktop, no bus.
#include "session_rules.h"

#include <gtest/gtest.h>

#include "privacy_notice.h"
#include "recorded_desktops.h"
#include "support/temp_dir.h"

namespace mp::session {
namespace {

using mp::schema::SessionState;

class SessionRulesTest : public ::testing::Test {
 protected:
  Station attached(const std::string& key) {
    Station s{.key = key, .name = key, .transport = "rdp"};
    s.state = mp::schema::StationState::ATTACHED;
    store.put_station(s);
    return s;
  }
  SessionRecord session_on(Station& station, const std::string& user, SessionState state) {
    SessionRecord r;
    r.id = store.reserve_session_id();
    r.station_key = station.key;
    r.user = user;
    r.display = ":" + std::to_string(10 + r.id);
    r.state = state;
    store.insert_session(r);
    station.session_id = r.id;
    store.put_station(station);
    return r;
  }
  Mutation mutation() {
    Mutation m;
    m.now_ns = 42;
    return m;
  }

  mp::test::TempDir dir{"mp-rules"};
  SessionStore store{dir / "session.db"};
};

TEST_F(SessionRulesTest, AUserWithoutASessionNeedsANewOne) {
  auto m = mutation();
  auto got = open_session(store, m, attached("rdp:a"), "alice");
  EXPECT_TRUE(std::holds_alternative<NewSession>(got));
  EXPECT_TRUE(m.changes.empty());
}

TEST_F(SessionRulesTest, TheStationsOwnDisconnectedSessionIsReactivated) {
  auto a = attached("rdp:a");
  auto record = session_on(a, "alice", SessionState::DISCONNECTED);
  auto m = mutation();
  auto got = open_session(store, m, a, "alice");
  ASSERT_TRUE(std::holds_alternative<SessionRecord>(got));
  EXPECT_EQ(std::get<SessionRecord>(got).id, record.id);
  EXPECT_EQ(store.session(record.id)->state, SessionState::ACTIVE);
  EXPECT_EQ(std::get<SessionRecord>(got).moved_from, "") << "it did not move";
}

TEST_F(SessionRulesTest, ADisconnectedSessionFollowsItsUserAndRecordsWhereItCameFrom) {
  auto a = attached("rdp:a");
  auto b = attached("rdp:renamed-client");
  auto record = session_on(a, "alice", SessionState::DISCONNECTED);
  auto m = mutation();
  auto got = open_session(store, m, b, "alice");
  ASSERT_TRUE(std::holds_alternative<SessionRecord>(got));
  auto moved = *store.session(record.id);
  EXPECT_EQ(moved.station_key, "rdp:renamed-client");
  EXPECT_EQ(moved.moved_from, "rdp:a") << "mp-policy carries rdp:a's restrictions with it";
  EXPECT_EQ(moved.moved_at_ns, 42);
  EXPECT_EQ(store.station("rdp:a")->session_id, 0u);
  EXPECT_EQ(store.station("rdp:renamed-client")->session_id, record.id);
  EXPECT_EQ(m.changes.size(), 3u) << "old station, session, new station";
}

TEST_F(SessionRulesTest, AnotherUsersActiveSessionOnTheStationRefuses) {
  auto a = attached("rdp:a");
  session_on(a, "bob", SessionState::ACTIVE);
  auto m = mutation();
  auto got = open_session(store, m, a, "alice");
  ASSERT_TRUE(std::holds_alternative<std::string>(got));
  EXPECT_NE(std::get<std::string>(got).find("another user's session"), std::string::npos);
}

TEST_F(SessionRulesTest, AUserActiveElsewhereIsRefused) {
  auto a = attached("rdp:a");
  session_on(a, "alice", SessionState::ACTIVE);
  auto m = mutation();
  auto got = open_session(store, m, attached("rdp:b"), "alice");
  ASSERT_TRUE(std::holds_alternative<std::string>(got));
  EXPECT_NE(std::get<std::string>(got).find("logged on at station 'rdp:a'"), std::string::npos);
}

TEST_F(SessionRulesTest, AnotherUsersDisconnectedSessionStaysWhileANewOneIsNeeded) {
  auto a = attached("rdp:a");
  auto bobs = session_on(a, "bob", SessionState::DISCONNECTED);
  auto m = mutation();
  EXPECT_TRUE(std::holds_alternative<NewSession>(open_session(store, m, a, "alice")));
  EXPECT_EQ(store.session(bobs.id)->state, SessionState::DISCONNECTED);
}

TEST_F(SessionRulesTest, ClosingEndsTheSessionAndFreesItsStation) {
  auto a = attached("rdp:a");
  auto record = session_on(a, "alice", SessionState::ACTIVE);
  auto m = mutation();
  close_session(store, m, record);
  EXPECT_EQ(store.session(record.id)->state, SessionState::ENDED);
  EXPECT_EQ(store.session(record.id)->ended_at_ns, 42);
  EXPECT_EQ(store.station("rdp:a")->session_id, 0u);
  EXPECT_TRUE(store.open_sessions().empty());
}

// The privacy notice, alone: shown until its user acknowledged it once, in any session; then
// gone from every open session of that user, and never shown again.
TEST_F(SessionRulesTest, ThePrivacyNoticeIsShownUntilItsUserAcknowledgedItOnce) {
  RecordedDesktops desktops;
  PrivacyNotice notice(store, desktops, "This computer is monitored.");
  store.add_user(User{.name = "alice", .role = mp::schema::Role::STANDARD}, "hash");
  store.add_user(User{.name = "bob", .role = mp::schema::Role::STANDARD}, "hash");
  EXPECT_EQ(notice.for_user("alice"), "This computer is monitored.");
  auto a = attached("rdp:a");
  auto b = attached("rdp:b");
  auto first = session_on(a, "alice", SessionState::DISCONNECTED);
  auto second = session_on(b, "alice", SessionState::ACTIVE);
  desktops.notices[first.id] = desktops.notices[second.id] = notice.for_user("alice");

  notice.acknowledged(second.id);
  EXPECT_EQ(notice.for_user("alice"), "");
  EXPECT_EQ(desktops.notices[first.id], "") << "gone from every open session of alice";
  EXPECT_EQ(desktops.notices[second.id], "");
  EXPECT_EQ(notice.for_user("bob"), "This computer is monitored.") << "per user";
  notice.acknowledged(9999);  // no such session: nothing happens
  EXPECT_EQ(PrivacyNotice(store, desktops, "").for_user("bob"), "") << "empty text: no notice";
}

}  // namespace
}  // namespace mp::session
