// StateJournal alone, on a real SQLite file: what commits is versioned and published in order
// after the commit; a retry is answered from the first attempt and changes nothing; a refusal
// leaves nothing behind and undoes what the mutation began.
#include "state_journal.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/temp_dir.h"

namespace mp::session {
namespace {

using mp::schema::Envelope;
using mp::schema::Error;

struct Published {
  std::string topic;
  std::uint64_t version;
};

class RecordingObserver : public ChangeObserver {
 public:
  void committed(const std::vector<Change>& changes) override { seen.push_back(changes.size()); }
  std::vector<std::size_t> seen;
};

class StateJournalTest : public ::testing::Test {
 protected:
  StateJournal journal() {
    return StateJournal(
        store,
        [this](std::string_view topic, const mp::bus::Build&, std::uint64_t version) {
          published.push_back({std::string(topic), version});
        },
        observer, [] { return std::int64_t{1'700'000'000'000'000'000}; });
  }
  static Station station(const std::string& key) {
    return Station{.key = key, .name = key, .transport = "rdp"};
  }

  mp::test::TempDir dir{"mp-journal"};
  SessionStore store{dir / "session.db"};
  RecordingObserver observer;
  std::vector<Published> published;
};

TEST_F(StateJournalTest, ChangesArePublishedInOrderWithConsecutiveVersionsAfterTheCommit) {
  auto j = journal();
  capnp::MallocMessageBuilder message;
  auto reply = message.initRoot<Envelope>();
  bool after_commit_ran = false;
  j.run("k1", "stationRename", reply, [&](Mutation& m, Envelope::Builder r) {
    for (const char* key : {"rdp:a", "rdp:b"}) {
      store.put_station(station(key));
      m.changes.emplace_back(station(key));
    }
    m.after_commit.push_back([&] {
      // Runs once durable and published: what it sees is the committed state.
      after_commit_ran = store.station("rdp:b").has_value() && published.size() == 2;
    });
    r.initAck();
  });
  ASSERT_EQ(published.size(), 2u);
  EXPECT_EQ(published[0].topic, kStationTopic);
  EXPECT_EQ(published[0].version, 1u);
  EXPECT_EQ(published[1].version, 2u);
  EXPECT_EQ(store.state_version(), 2u);
  EXPECT_EQ(observer.seen, std::vector<std::size_t>{2});
  EXPECT_TRUE(after_commit_ran);
  EXPECT_TRUE(store.applied_request("k1").has_value());
}

TEST_F(StateJournalTest, ARetryIsAnsweredFromTheFirstAttemptAndChangesNothing) {
  auto j = journal();
  int applied = 0;
  auto apply = [&](Mutation& m, Envelope::Builder r) {
    ++applied;
    store.put_station(station("rdp:a"));
    m.changes.emplace_back(station("rdp:a"));
    r.initAck();
  };
  capnp::MallocMessageBuilder first;
  j.run("same-key", "stationRename", first.initRoot<Envelope>(), apply);
  capnp::MallocMessageBuilder second;
  auto retry = second.initRoot<Envelope>();
  j.run("same-key", "stationRename", retry, apply);
  EXPECT_EQ(applied, 1);
  EXPECT_TRUE(retry.isAck());
  EXPECT_EQ(published.size(), 1u);
  EXPECT_EQ(store.state_version(), 1u);
}

TEST_F(StateJournalTest, ARefusalLeavesNothingAndUndoesWhatTheMutationBegan) {
  auto j = journal();
  capnp::MallocMessageBuilder message;
  auto reply = message.initRoot<Envelope>();
  bool undone = false, after_commit_ran = false;
  j.run("k2", "stationRename", reply, [&](Mutation& m, Envelope::Builder r) {
    store.put_station(station("rdp:half"));
    m.changes.emplace_back(station("rdp:half"));
    m.if_rolled_back.push_back([&] { undone = true; });
    m.after_commit.push_back([&] { after_commit_ran = true; });
    mp::bus::set_error(r, Error::Kind::INVALID, "no");
  });
  EXPECT_TRUE(reply.isError());
  EXPECT_TRUE(undone);
  EXPECT_FALSE(after_commit_ran);
  EXPECT_FALSE(store.station("rdp:half").has_value()) << "the transaction was rolled back";
  EXPECT_TRUE(published.empty());
  EXPECT_EQ(store.state_version(), 0u);
  EXPECT_FALSE(store.applied_request("k2").has_value()) << "a refusal is not remembered";
}

TEST_F(StateJournalTest, InternalChangesAreVersionedLikeRequests) {
  auto j = journal();
  j.run_internal([&](Mutation& m) {
    store.put_station(station("rdp:a"));
    m.changes.emplace_back(station("rdp:a"));
  });
  j.run_internal([](Mutation&) {});  // nothing changed: no version, nothing published
  ASSERT_EQ(published.size(), 1u);
  EXPECT_EQ(published[0].version, 1u);
  EXPECT_EQ(store.state_version(), 1u);
}

}  // namespace
}  // namespace mp::session
