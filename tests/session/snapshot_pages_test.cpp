// mp-session's snapshot and lists in pages (snapshot_pages.h), on a real SQLite store: every
// record exactly once, in order, each page within its byte budget, whatever the number of
// stations.
#include "snapshot_pages.h"

#include <gtest/gtest.h>

#include <set>

#include "mp/bus/frame.h"
#include "session_store.h"
#include "support/temp_dir.h"

namespace mp::session {
namespace {

using mp::schema::Envelope;

class SnapshotPages : public ::testing::Test {
 protected:
  void SetUp() override {
    SessionStore::Transaction transaction(store);
    for (int i = 0; i < 300; ++i) {
      char key[32];
      std::snprintf(key, sizeof key, "fake:seat-%03d", i);
      store.put_station(Station{.key = key, .name = key, .transport = "fake-transport"});
    }
    for (int i = 0; i < 40; ++i) {
      store.add_user(User{.name = "user" + std::to_string(i), .role = mp::schema::Role::STANDARD},
                     "hash");
    }
    for (int i = 0; i < 30; ++i) {
      SessionRecord record{.id = store.reserve_session_id(),
                           .station_key = "fake:seat-00" + std::to_string(i % 10),
                           .user = "user" + std::to_string(i),
                           .state = mp::schema::SessionState::ACTIVE};
      store.insert_session(record);
    }
    store.set_state_version(77);
    transaction.commit();
  }

  // One page: the reply, decoded as a requester would get it.
  mp::bus::Incoming page(const std::function<void(Envelope::Builder)>& write) {
    mp::bus::Outgoing out;
    write(out.envelope());
    auto frame = out.to_frame();
    bytes.push_back(frame.size());
    return *mp::bus::Incoming::decode(std::move(frame), mp::bus::Limits{});
  }

  mp::test::TempDir dir{"mp-pages"};
  SessionStore store{dir.path() / "session.db"};
  std::vector<std::size_t> bytes;  // of every page
};

TEST_F(SnapshotPages, SnapshotPagesHoldEveryRecordOnceInOrder) {
  constexpr std::size_t kBudget = 4096;
  std::vector<std::string> stations, users;
  std::vector<std::uint64_t> sessions;
  std::string cursor;
  std::size_t pages = 0;
  do {
    auto reply = page(
        [&](Envelope::Builder e) { write_snapshot_page(store, "session", cursor, e, kBudget); });
    ASSERT_TRUE(reply.envelope().isSessionSnapshot()) << reply.error_text();
    auto snapshot = reply.envelope().getSessionSnapshot();
    EXPECT_EQ(snapshot.getInfo().getVersion(), 77u);
    EXPECT_EQ(std::string(snapshot.getInfo().getTopic()), "session");
    EXPECT_GT(
        snapshot.getStations().size() + snapshot.getUsers().size() + snapshot.getSessions().size(),
        0u)
        << "every page moves on";
    for (auto s : snapshot.getStations()) stations.emplace_back(s.getKey());
    for (auto u : snapshot.getUsers()) users.emplace_back(u.getName());
    for (auto s : snapshot.getSessions()) sessions.push_back(s.getId());
    cursor = snapshot.getInfo().getNextCursor();
    ASSERT_LT(++pages, 1000u);
  } while (!cursor.empty());
  EXPECT_GT(pages, 10u);
  ASSERT_EQ(stations.size(), 300u);
  ASSERT_EQ(users.size(), 40u);
  ASSERT_EQ(sessions.size(), 30u);
  EXPECT_TRUE(std::is_sorted(stations.begin(), stations.end()));
  EXPECT_EQ(std::set<std::string>(stations.begin(), stations.end()).size(), 300u);
  EXPECT_TRUE(std::is_sorted(users.begin(), users.end()));
  EXPECT_TRUE(std::is_sorted(sessions.begin(), sessions.end()));
  // Records within the budget; the envelope and list headers come on top.
  for (std::size_t b : bytes) EXPECT_LT(b, kBudget + 1024);
}

TEST_F(SnapshotPages, DefaultBudgetKeepsTwentyThousandStationsUnderTheBusLimit) {
  {
    SessionStore::Transaction transaction(store);
    for (int i = 0; i < 20000; ++i) {
      std::string key = "fake:scale-" + std::to_string(i);
      store.put_station(Station{.key = key,
                                .name = key,
                                .transport = "fake-transport",
                                .client_name = "a-client-name-of-some-length-" + std::to_string(i),
                                .address = "192.0.2." + std::to_string(i % 250)});
    }
    transaction.commit();
  }
  std::size_t records = 0, pages = 0;
  std::string cursor;
  do {
    auto reply =
        page([&](Envelope::Builder e) { write_snapshot_page(store, "session", cursor, e); });
    auto snapshot = reply.envelope().getSessionSnapshot();
    records += snapshot.getStations().size();
    cursor = snapshot.getInfo().getNextCursor();
    ++pages;
  } while (!cursor.empty());
  EXPECT_EQ(records, 20300u);
  EXPECT_GT(pages, 4u);
  for (std::size_t b : bytes) EXPECT_LT(b, mp::bus::Limits{}.max_message_bytes / 2);
}

TEST_F(SnapshotPages, ListsArePagedByTheirOwnKind) {
  constexpr std::size_t kBudget = 2048;
  std::size_t stations = 0, users = 0, sessions = 0;
  std::string cursor;
  do {
    auto reply = page([&](Envelope::Builder e) { write_station_page(store, cursor, e, kBudget); });
    stations += reply.envelope().getStationList().getStations().size();
    cursor = reply.envelope().getStationList().getNextCursor();
  } while (!cursor.empty());
  do {
    auto reply = page([&](Envelope::Builder e) { write_user_page(store, cursor, e, kBudget); });
    users += reply.envelope().getUserList().getUsers().size();
    cursor = reply.envelope().getUserList().getNextCursor();
  } while (!cursor.empty());
  do {
    auto reply = page([&](Envelope::Builder e) { write_session_page(store, cursor, e, kBudget); });
    sessions += reply.envelope().getSessionList().getSessions().size();
    cursor = reply.envelope().getSessionList().getNextCursor();
  } while (!cursor.empty());
  EXPECT_EQ(stations, 300u);
  EXPECT_EQ(users, 40u);
  EXPECT_EQ(sessions, 30u);
  // Everything fits in one page by default.
  auto whole = page([&](Envelope::Builder e) { write_station_page(store, "", e); });
  EXPECT_EQ(whole.envelope().getStationList().getStations().size(), 300u);
  EXPECT_EQ(std::string(whole.envelope().getStationList().getNextCursor()), "");
}

TEST_F(SnapshotPages, UnknownCursorsAreRefused) {
  for (std::string bad : {std::string("nonsense"), std::string("session:12x"),
                          std::string("session:"), std::string("\x01\x02", 2)}) {
    auto reply = page([&](Envelope::Builder e) { write_snapshot_page(store, "session", bad, e); });
    EXPECT_EQ(reply.error_kind(), mp::schema::Error::Kind::INVALID) << bad;
    EXPECT_NE(reply.error_text().find("unknown cursor"), std::string::npos);
  }
  // A list takes cursors of its own kind only.
  auto reply = page([&](Envelope::Builder e) { write_user_page(store, "station:fake:x", e); });
  EXPECT_EQ(reply.error_kind(), mp::schema::Error::Kind::INVALID);
  // A cursor past the end (its record was removed meanwhile): the rest, which may be nothing.
  auto after = page([&](Envelope::Builder e) { write_station_page(store, "station:zzz", e); });
  EXPECT_EQ(after.envelope().getStationList().getStations().size(), 0u);
}

}  // namespace
}  // namespace mp::session
