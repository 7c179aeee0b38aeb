#include "mp/bus/replica.h"

#include <map>
#include <memory>

#include "bus_fixture.h"
#include "mp/bus/joined_pages.h"

namespace mp::bus {
namespace {

using namespace std::chrono_literals;
using mp::schema::Envelope;

// A tiny authority: station key -> name, numbered whole-record updates, and snapshots in pages
// of `page_size` stations (cursor: the last key sent). `before_page` runs when a page after the
// first is asked for, before it is answered: the test changes the state between two pages.
struct Authority {
  std::map<std::string, std::string> stations;
  std::uint64_t version = 0;
  std::size_t page_size = 1000;
  Client* client = nullptr;
  std::function<void(const std::string& cursor)> before_page;
  std::size_t pages_served = 0;

  void set(const std::string& key, const std::string& name) {
    stations[key] = name;
    publish(key, name, false);
  }
  void remove(const std::string& key) {
    stations.erase(key);
    publish(key, "", true);
  }
  void publish(const std::string& key, const std::string& name, bool removed) {
    ++version;
    client->publish(
        "session.station",
        [&](Envelope::Builder e) {
          auto update = e.initStationUpdate();
          update.initStation().setKey(key);
          update.getStation().setName(name);
          update.setRemoved(removed);
        },
        version);
  }
  bool serve(const Incoming& request, Envelope::Builder reply) {
    if (!request.envelope().isSnapshotRequest()) return false;
    std::string cursor = request.envelope().getSnapshotRequest().getCursor();
    if (!cursor.empty() && before_page) before_page(cursor);
    ++pages_served;
    auto it = cursor.empty() ? stations.begin() : stations.upper_bound(cursor);
    std::vector<std::pair<std::string, std::string>> page;
    for (; it != stations.end() && page.size() < page_size; ++it) page.emplace_back(*it);
    auto snapshot = reply.initSessionSnapshot();
    auto info = snapshot.initInfo();
    info.setVersion(version);
    if (it != stations.end() && !page.empty()) info.setNextCursor(page.back().first);
    auto list = snapshot.initStations(static_cast<unsigned>(page.size()));
    for (unsigned i = 0; i < page.size(); ++i) {
      list[i].setKey(page[i].first);
      list[i].setName(page[i].second);
    }
    return true;
  }
};

std::optional<mp::schema::SnapshotResponse::Reader> session_info(const Incoming& page) {
  if (!page.envelope().isSessionSnapshot()) return std::nullopt;
  return page.envelope().getSessionSnapshot().getInfo();
}

// A consumer that takes pages one by one into a new state and swaps it in at the end.
struct PagedMirror {
  std::map<std::string, std::string> stations, building;
  int begins = 0, ends = 0;
  std::size_t pages = 0;

  Replica::Callbacks callbacks() {
    return Replica::Callbacks{
        .on_begin =
            [this] {
              ++begins;
              building.clear();
            },
        .on_page =
            [this](const Incoming& page) {
              ++pages;
              for (auto s : page.envelope().getSessionSnapshot().getStations()) {
                building[s.getKey()] = s.getName();
              }
            },
        .on_end =
            [this](std::uint64_t) {
              ++ends;
              stations.swap(building);
            },
        .on_update = [this](std::string_view, const Incoming& u) { apply(u); }};
  }
  void apply(const Incoming& u) {
    auto update = u.envelope().getStationUpdate();
    std::string key = update.getStation().getKey();
    if (update.getRemoved()) {
      stations.erase(key);
    } else {
      stations[key] = update.getStation().getName();
    }
  }
};

class ReplicaTest : public BusFixture {
 protected:
  void start_authority(std::size_t stations, std::size_t page_size) {
    server = make_client("session");
    authority.client = server.get();
    authority.page_size = page_size;
    for (std::size_t i = 0; i < stations; ++i) {
      char key[32];
      std::snprintf(key, sizeof key, "fake:%05zu", i);
      authority.set(key, "station " + std::to_string(i));
    }
    serve_and_wait(
        *server, [this](const Incoming& r, Envelope::Builder b) { return authority.serve(r, b); });
  }
  // Waits until the replica is synced at the authority's version.
  ::testing::AssertionResult caught_up(const Replica& replica) {
    if (reactor.run_until(
            [&] { return replica.synced() && replica.version() == authority.version; }, 10s)) {
      return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure()
           << "synced " << replica.synced() << " at version " << replica.version()
           << ", authority at " << authority.version;
  }

  Authority authority;
  std::unique_ptr<Client> server;
  std::unique_ptr<Client> consumer = make_client("consumer");
};

TEST_F(ReplicaTest, ReplicaConvergesFromSnapshotPlusUpdates) {
  start_authority(2, 1000);
  std::map<std::string, std::string> mirror;
  Replica replica(
      *consumer, "session", "session", session_info,
      Replica::Callbacks{.on_snapshot =
                             [&](const Incoming& s, std::uint64_t) {
                               mirror.clear();
                               for (auto st : s.envelope().getSessionSnapshot().getStations()) {
                                 mirror[st.getKey()] = st.getName();
                               }
                             },
                         .on_update =
                             [&](std::string_view, const Incoming& u) {
                               auto st = u.envelope().getStationUpdate().getStation();
                               mirror[st.getKey()] = st.getName();
                             }});
  replica.start();
  ASSERT_TRUE(reactor.run_until([&] { return replica.synced(); }, 5s));
  settle();
  authority.set("rdp:c", "c");
  authority.set("rdp:d", "d");
  ASSERT_TRUE(caught_up(replica));
  EXPECT_EQ(mirror, authority.stations);
}

TEST_F(ReplicaTest, EveryPageIsHandedOverInOrderUntilTheCursorIsEmpty) {
  start_authority(2500, 100);
  PagedMirror mirror;
  Replica replica(*consumer, "session", "session", session_info, mirror.callbacks());
  replica.start();
  ASSERT_TRUE(caught_up(replica));
  EXPECT_EQ(mirror.stations, authority.stations);
  EXPECT_EQ(mirror.pages, 25u);
  EXPECT_EQ(replica.pages(), 25u);
  EXPECT_EQ(mirror.begins, 1);
  EXPECT_EQ(mirror.ends, 1);
  EXPECT_EQ(replica.resyncs(), 1u);
}

TEST_F(ReplicaTest, WholeSnapshotConsumerGetsThePagesJoined) {
  start_authority(350, 100);
  std::map<std::string, std::string> mirror;
  std::uint64_t snapshot_version = 0;
  std::string joined_cursor = "unset";
  Replica replica(
      *consumer, "session", "session", session_info,
      Replica::Callbacks{.on_snapshot =
                             [&](const Incoming& s, std::uint64_t version) {
                               snapshot_version = version;
                               joined_cursor =
                                   s.envelope().getSessionSnapshot().getInfo().getNextCursor();
                               for (auto st : s.envelope().getSessionSnapshot().getStations()) {
                                 mirror[st.getKey()] = st.getName();
                               }
                             },
                         .on_update = [](std::string_view, const Incoming&) {}});
  replica.start();
  ASSERT_TRUE(caught_up(replica));
  EXPECT_EQ(mirror, authority.stations);
  EXPECT_EQ(snapshot_version, 350u);
  EXPECT_EQ(joined_cursor, "");  // the last page's
  EXPECT_EQ(replica.pages(), 4u);
}

// Pages are taken at different versions; the updates published between them are replayed over
// all pages, whichever side of the cursor their record is on.
TEST_F(ReplicaTest, UpdateBetweenTwoPagesIsReplayedOverThePages) {
  start_authority(300, 100);
  bool changed = false;
  authority.before_page = [&](const std::string& cursor) {
    if (changed || cursor != "fake:00099") return;
    changed = true;
    authority.set("fake:00010", "renamed, already paged");  // in page 1, sent
    authority.set("fake:00150", "renamed, not yet paged");  // in page 2, about to be sent
    authority.set("fake:00250", "renamed, later page");     // in page 3
    authority.set("fake:00000-new", "added behind the cursor");
    authority.set("fake:00299-new", "added ahead of the cursor");
    // The second change to one record: the replay must end at the newest.
    authority.set("fake:00150", "renamed twice");
  };
  PagedMirror mirror;
  Replica replica(*consumer, "session", "session", session_info, mirror.callbacks());
  settle();  // the authority publishes while the consumer's subscription is known
  replica.start();
  ASSERT_TRUE(caught_up(replica));
  ASSERT_TRUE(changed);
  EXPECT_EQ(mirror.stations, authority.stations);
  EXPECT_EQ(mirror.stations["fake:00150"], "renamed twice");
  EXPECT_EQ(mirror.stations["fake:00000-new"], "added behind the cursor");
  EXPECT_EQ(replica.resyncs(), 1u) << "no resync was needed";
}

TEST_F(ReplicaTest, RemovalBetweenTwoPagesIsReplayedOverThePages) {
  start_authority(300, 100);
  bool changed = false;
  authority.before_page = [&](const std::string& cursor) {
    if (changed || cursor != "fake:00099") return;
    changed = true;
    authority.remove("fake:00010");  // already paged
    authority.remove("fake:00150");  // not yet paged: page 2 no longer has it
    authority.remove("fake:00100");  // the first of page 2
  };
  PagedMirror mirror;
  Replica replica(*consumer, "session", "session", session_info, mirror.callbacks());
  settle();
  replica.start();
  ASSERT_TRUE(caught_up(replica));
  ASSERT_TRUE(changed);
  EXPECT_EQ(mirror.stations, authority.stations);
  EXPECT_FALSE(mirror.stations.contains("fake:00010"));
  EXPECT_EQ(mirror.stations.size(), 297u);
}

TEST_F(ReplicaTest, AuthorityRestartBetweenTwoPagesStartsAFreshResync) {
  start_authority(300, 100);
  // The second page is never answered by this incarnation: it restarts meanwhile.
  std::optional<Responder> held;
  authority.before_page = [&](const std::string&) {
    if (!held && authority.pages_served == 1) held.emplace(server->answer_later());
  };
  PagedMirror mirror;
  Replica replica(*consumer, "session", "session", session_info, mirror.callbacks());
  replica.start();
  ASSERT_TRUE(reactor.run_until([&] { return held.has_value(); }, 5s));
  EXPECT_EQ(mirror.begins, 1);
  EXPECT_EQ(mirror.pages, 1u);

  // The restart: the old incarnation goes (its held request is answered `unavailable`), a new
  // one comes up with a state that changed while it was down, without publishing the changes.
  server.reset();
  held.reset();
  authority.stations.erase("fake:00005");
  authority.stations["fake:00200"] = "changed while down";
  authority.version += 10;
  authority.before_page = nullptr;
  server = make_client("session");
  authority.client = server.get();
  serve_and_wait(*server,
                 [this](const Incoming& r, Envelope::Builder b) { return authority.serve(r, b); });

  ASSERT_TRUE(caught_up(replica));
  EXPECT_GE(replica.resyncs(), 2u);
  EXPECT_GE(mirror.begins, 2);
  EXPECT_EQ(mirror.ends, 1) << "the broken resync never completed";
  EXPECT_EQ(mirror.stations, authority.stations);
  EXPECT_EQ(mirror.stations["fake:00200"], "changed while down");
}

TEST_F(ReplicaTest, VersionGapStartsAFreshResync) {
  start_authority(50, 20);
  PagedMirror mirror;
  Replica replica(*consumer, "session", "session", session_info, mirror.callbacks());
  replica.start();
  ASSERT_TRUE(caught_up(replica));
  settle();  // the subscription reaches the broker asynchronously
  // An update the replica never sees (as if lost), then one it does: a gap.
  authority.stations["fake:00001"] = "lost";
  ++authority.version;
  authority.set("fake:00002", "seen");
  ASSERT_TRUE(caught_up(replica));
  EXPECT_EQ(replica.resyncs(), 2u);
  EXPECT_EQ(mirror.stations, authority.stations);
}

TEST_F(ReplicaTest, CallbacksMustChooseOneWayToTakeTheSnapshot) {
  auto none = [] {
    return Replica::Callbacks{.on_update = [](std::string_view, const Incoming&) {}};
  };
  EXPECT_THROW(Replica(*consumer, "session", "session", session_info, none()),
               std::invalid_argument);
  auto both = none();
  both.on_page = [](const Incoming&) {};
  both.on_end = [](std::uint64_t) {};
  both.on_snapshot = [](const Incoming&, std::uint64_t) {};
  EXPECT_THROW(Replica(*consumer, "session", "session", session_info, both), std::invalid_argument);
}

TEST(JoinedPages, ListsAreConcatenatedInPageOrderAndOtherFieldsComeFromTheLastPage) {
  std::vector<Incoming> pages;
  for (int page = 0; page < 3; ++page) {
    Outgoing out;
    out.envelope().initHeader().setSource("session");
    auto list = out.envelope().initStationList();
    auto stations = list.initStations(2);
    stations[0].setKey("k" + std::to_string(page * 2));
    stations[1].setKey("k" + std::to_string(page * 2 + 1));
    if (page < 2) list.setNextCursor("after " + std::to_string(page));
    auto frame = out.to_frame();
    pages.push_back(*Incoming::decode(std::move(frame), Limits{}));
  }
  Incoming joined = join_pages(pages);
  auto list = joined.envelope().getStationList();
  ASSERT_EQ(list.getStations().size(), 6u);
  for (unsigned i = 0; i < 6; ++i) {
    EXPECT_EQ(std::string(list.getStations()[i].getKey()), "k" + std::to_string(i));
  }
  EXPECT_EQ(std::string(list.getNextCursor()), "");
  EXPECT_EQ(std::string(joined.header().getSource()), "session");
}

TEST(JoinedPages, PagesOfDifferentKindsAreRefused) {
  std::vector<Incoming> pages;
  Outgoing a, b;
  a.envelope().initStationList();
  b.envelope().initUserList();
  pages.push_back(*Incoming::decode(a.to_frame(), Limits{}));
  pages.push_back(*Incoming::decode(b.to_frame(), Limits{}));
  EXPECT_THROW(join_pages(pages), std::invalid_argument);
  EXPECT_THROW(join_pages({}), std::invalid_argument);
}

}  // namespace
}  // namespace mp::bus
