#include "mp/bus/replica.h"
#include "bus_fixture.h"

namespace mp::bus {
namespace {

using namespace std::chrono_literals;
using mp::schema::Envelope;

// A tiny authority: a list of station keys, numbered updates, snapshots.
struct Authority {
  std::vector<std::string> keys;
  std::uint64_t version = 0;
  Client& client;

  void add(const std::string& key) {
    keys.push_back(key);
    ++version;
    client.publish(
        "session.station",
        [&](Envelope::Builder e) { e.initStationUpdate().initStation().setKey(key); }, version);
  }
  bool serve(const Incoming& request, Envelope::Builder reply) {
    if (!request.envelope().isSnapshotRequest()) return false;
    auto snapshot = reply.initSessionSnapshot();
    snapshot.initInfo().setVersion(version);
    auto stations = snapshot.initStations(keys.size());
    for (std::size_t i = 0; i < keys.size(); ++i) stations[i].setKey(keys[i]);
    return true;
  }
};

TEST_F(BusFixture, ReplicaConvergesFromSnapshotPlusUpdates) {
  auto server = make_client("session");
  Authority authority{{}, 0, *server};
  serve_and_wait(*server,
                 [&](const Incoming& r, Envelope::Builder b) { return authority.serve(r, b); });
  authority.add("rdp:a");
  authority.add("rdp:b");

  auto consumer = make_client("consumer");
  std::vector<std::string> mirror;
  Replica replica(
      *consumer, "session", "session",
      [](const Incoming& s) { return s.envelope().getSessionSnapshot().getInfo().getVersion(); },
      Replica::Callbacks{.on_snapshot =
                             [&](const Incoming& s, std::uint64_t) {
                               mirror.clear();
                               for (auto st : s.envelope().getSessionSnapshot().getStations()) {
                                 mirror.push_back(st.getKey());
                               }
                             },
                         .on_update =
                             [&](std::string_view, const Incoming& u) {
                               mirror.push_back(
                                   u.envelope().getStationUpdate().getStation().getKey());
                             }});
  replica.start();
  ASSERT_TRUE(reactor.run_until([&] { return replica.synced(); }, 5s));
  settle();
  authority.add("rdp:c");
  authority.add("rdp:d");
  ASSERT_TRUE(reactor.run_until([&] { return replica.version() == 4; }, 5s));
  EXPECT_EQ(mirror, authority.keys);
}

}  // namespace
}  // namespace mp::bus
