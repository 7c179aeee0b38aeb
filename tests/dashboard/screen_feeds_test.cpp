// Unit: the screens part of mp-dashboard on a real in-process bus — the grid's lease follows
// the open event streams, images are checked before they are kept and announced, and the store
// forgets a session's pictures when it ends. A test Client plays mp-session.
#include <capnp/message.h>
#include <gtest/gtest.h>

#include "event_broadcaster.h"
#include "mp/bus/client.h"
#include "mp/bus/testing.h"
#include "screen_feeds.h"
#include "station_board.h"
#include "thumbnail_store.h"

namespace mp::dashboard {
namespace {

using namespace std::chrono_literals;
using mp::schema::Envelope;

TEST(ThumbnailStore, KeepsTheNewestPerStationAndStreamAndForgetsEndedSessions) {
  ThumbnailStore store;
  auto first = store.put("rdp:a", 0, {.jpeg = "one", .session_id = 7});
  auto second = store.put("rdp:a", 0, {.jpeg = "two", .session_id = 7});
  store.put("rdp:a", 1, {.jpeg = "large", .session_id = 7});
  store.put("rdp:b", 0, {.jpeg = "bee", .session_id = 8});
  EXPECT_GT(second, first);
  EXPECT_EQ(store.get("rdp:a", 0)->jpeg, "two");
  EXPECT_EQ(store.get("rdp:a", 0)->seq, second);
  EXPECT_EQ(store.get("rdp:a", 1)->jpeg, "large");
  EXPECT_FALSE(store.get("rdp:c", 0));
  store.keep_only(
      [](const std::string& key, std::uint64_t session) { return key == "rdp:b" && session == 8; });
  EXPECT_FALSE(store.get("rdp:a", 0));
  EXPECT_FALSE(store.get("rdp:a", 1));
  EXPECT_EQ(store.size(), 1u);
}

struct SeenWatch {
  std::size_t stations;
  std::uint8_t stream;
  std::uint32_t lease_ms;
};

class ScreenFeedsTest : public ::testing::Test {
 protected:
  ScreenFeedsTest()
      : dashboard(bus.context(), reactor, bus.endpoints(),
                  mp::bus::ClientOptions{.service = "dashboard"}),
        session(bus.context(), reactor, bus.endpoints(),
                mp::bus::ClientOptions{.service = "session"}),
        board([this](const ServerEvent& e) { published.push_back(e); }),
        feeds(
            dashboard, reactor, board, store, streams,
            [this](const ServerEvent& e) { published.push_back(e); }, 2000ms) {
    session.serve([this](const mp::bus::Incoming& request, Envelope::Builder reply) {
      if (!request.envelope().isThumbnailWatch()) return false;
      auto w = request.envelope().getThumbnailWatch();
      watches.push_back({w.getStations().size(), w.getStream(), w.getLeaseMs()});
      reply.initAck();
      return true;
    });
    // Station rdp:a shows session 7; rdp:b has none.
    capnp::MallocMessageBuilder message;
    auto s = message.initRoot<mp::schema::Snapshot>();
    auto stations = s.initStations(2);
    stations[0].setKey("rdp:a");
    stations[0].setState(mp::schema::StationState::ATTACHED);
    stations[0].setSessionId(7);
    stations[1].setKey("rdp:b");
    stations[1].setState(mp::schema::StationState::ATTACHED);
    auto record = s.initSessions(1)[0];
    record.setId(7);
    record.setStationKey("rdp:a");
    record.setUser("student1");
    record.setState(mp::schema::SessionState::ACTIVE);
    board.session_snapshot(s.asReader());
    feeds.start();
    reactor.run_until([this] { return session.counters().registrations > 0; }, 5s);
    reactor.run_until([] { return false; }, 200ms);  // subscriptions reach the broker
  }

  // An image as mp-session publishes it.
  void image(const std::string& key, std::uint64_t session_id, std::string jpeg,
             std::uint16_t width = 320) {
    session.publish("thumbnail." + key, [&](Envelope::Builder e) {
      auto t = e.initThumbnail();
      t.setStationKey(key);
      t.setSessionId(session_id);
      t.setJpeg(kj::arrayPtr(reinterpret_cast<const kj::byte*>(jpeg.data()), jpeg.size()));
      t.setWidth(width);
      t.setHeight(240);
    });
  }

  std::size_t announced() const {
    std::size_t n = 0;
    for (const auto& e : published) n += e.name == "thumbnail";
    return n;
  }

  mp::bus::InProcessBus bus;
  mp::bus::Reactor reactor;
  mp::bus::Client dashboard;
  mp::bus::Client session;
  std::vector<ServerEvent> published;
  StationBoard board;
  ThumbnailStore store;
  EventBroadcaster streams;
  ScreenFeeds feeds;
  std::vector<SeenWatch> watches;
};

TEST_F(ScreenFeedsTest, TheGridIsWatchedOnlyWhileAPageListens) {
  reactor.run_until([] { return false; }, 600ms);
  EXPECT_TRUE(watches.empty()) << "asked for pictures with nobody watching";

  auto page = streams.subscribe("login-1");
  ASSERT_TRUE(reactor.run_until([&] { return !watches.empty(); }, 2s));
  EXPECT_EQ(watches[0].stations, 0u) << "every station";
  EXPECT_EQ(watches[0].stream, 0);
  EXPECT_EQ(watches[0].lease_ms, static_cast<std::uint32_t>(kLease.count()));
  // Renewed before the lease ends.
  ASSERT_TRUE(reactor.run_until([&] { return watches.size() >= 2; }, kRenewEvery + 1s));
  EXPECT_EQ(watches[1].lease_ms, static_cast<std::uint32_t>(kLease.count()));

  streams.unsubscribe(page);
  ASSERT_TRUE(reactor.run_until([&] { return watches.back().lease_ms == 0; }, 2s))
      << "the last page went: the agents stop at once";
  auto count = watches.size();
  reactor.run_until([] { return false; }, kRenewEvery + 500ms);
  EXPECT_EQ(watches.size(), count);
}

TEST_F(ScreenFeedsTest, ImagesAreCheckedKeptAndAnnounced) {
  const std::string jpeg = "\xFF\xD8 picture";
  image("rdp:a", 7, jpeg);
  ASSERT_TRUE(reactor.run_until([&] { return feeds.images_taken() == 1; }, 2s));
  ASSERT_TRUE(store.get("rdp:a", 0));
  EXPECT_EQ(store.get("rdp:a", 0)->jpeg, jpeg);
  EXPECT_EQ(announced(), 1u);
  auto data = nlohmann::json::parse(published.back().data);
  EXPECT_EQ(data["station"], "rdp:a");
  EXPECT_EQ(data["seq"], store.get("rdp:a", 0)->seq);

  image("rdp:a", 6, jpeg);                                       // an older session's
  image("rdp:b", 7, jpeg);                                       // a station without that session
  image("rdp:z", 7, jpeg);                                       // an unknown station
  image("rdp:a", 7, "GIF89a not a jpeg");                        // not a JPEG
  image("rdp:a", 7, jpeg, 0);                                    // no size
  image("rdp:a", 7, "\xFF\xD8" + std::string(300 * 1024, 'x'));  // too large
  ASSERT_TRUE(reactor.run_until([&] { return feeds.images_refused() == 6; }, 2s))
      << feeds.images_refused() << " refused";
  EXPECT_EQ(feeds.images_taken(), 1u);
  EXPECT_EQ(announced(), 1u);
  EXPECT_EQ(store.size(), 1u);
}

}  // namespace
}  // namespace mp::dashboard
