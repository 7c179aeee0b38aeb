// SessionService's screen requests on a real bus: thumbnail watches and remote input are
// checked and passed to the named sessions' desktops; agents' images come out as events on
// "thumbnail.<station key>".
#include <capnp/message.h>

#include "session_fixture.h"

namespace mp::session {
namespace {

using namespace std::chrono_literals;
using mp::schema::Error;

Build watch(std::vector<std::string> stations, std::uint16_t width = 320,
            std::uint32_t lease_ms = 6000, std::uint8_t stream = 0) {
  return [=](Envelope::Builder e) {
    auto body = e.initThumbnailWatch();
    auto list = body.initStations(static_cast<unsigned>(stations.size()));
    for (unsigned i = 0; i < stations.size(); ++i) list.set(i, stations[i]);
    body.setStream(stream);
    body.setIntervalMs(1000);
    body.setWidth(width);
    body.setMaxBytes(10240);
    body.setLeaseMs(lease_ms);
  };
}

Build input(std::string station, unsigned keys, std::uint8_t button = 1) {
  return [=](Envelope::Builder e) {
    auto body = e.initRemoteInput();
    body.setStationKey(station);
    auto events = body.initEvents(keys + 1);
    for (unsigned i = 0; i < keys; ++i) {
      events[i].initKey().setKeysym('a' + i % 26);
      events[i].getKey().setDown(true);
    }
    events[keys].initButton().setButton(button);
  };
}

class ScreenRelayTest : public SessionFixture {
 protected:
  void SetUp() override {
    SessionFixture::SetUp();
    ASSERT_TRUE(call(add_user("alice", "password-of-alice")).ok());
    ASSERT_TRUE(call(add_user("bob", "password-of-bob")).ok());
    for (const char* key : {"fake:a", "fake:b", "fake:idle"}) {
      ASSERT_TRUE(call(attach({.key = key})).ok());
    }
    ASSERT_TRUE(call(credentials("fake:a", "alice", "password-of-alice")).ok());
    ASSERT_TRUE(call(credentials("fake:b", "bob", "password-of-bob")).ok());
    ASSERT_EQ(desktops.running.size(), 2u);
  }
  std::uint64_t session_on(const std::string& key) { return store->station(key)->session_id; }
};

TEST_F(ScreenRelayTest, WatchReachesEveryOpenSessionOrTheNamedOnes) {
  Reply all = call(watch({}));
  ASSERT_TRUE(all.ok()) << all.error_text();
  ASSERT_EQ(desktops.thumbnail_requests.size(), 2u);
  const auto& [id, request] = desktops.thumbnail_requests[0];
  EXPECT_EQ(request.width, 320);
  EXPECT_EQ(request.interval_ms, 1000u);
  EXPECT_EQ(request.max_bytes, 10240u);
  EXPECT_EQ(request.lease_ms, 6000u);

  desktops.thumbnail_requests.clear();
  ASSERT_TRUE(call(watch({"fake:b", "fake:idle", "fake:nowhere"}, 960, 6000, 1)).ok());
  ASSERT_EQ(desktops.thumbnail_requests.size(), 1u);
  EXPECT_EQ(desktops.thumbnail_requests[0].first, session_on("fake:b"));
  EXPECT_EQ(desktops.thumbnail_requests[0].second.stream, 1);

  desktops.thumbnail_requests.clear();
  ASSERT_TRUE(call(watch({}, 0, 0)).ok()) << "a stop needs no stream parameters";
  EXPECT_EQ(desktops.thumbnail_requests.size(), 2u);
}

TEST_F(ScreenRelayTest, WatchOutOfBoundsIsRefusedAndPassesNothing) {
  for (const auto& [what, body] : std::vector<std::pair<std::string, Build>>{
           {"width", watch({}, 5000)},
           {"tiny width", watch({}, 8)},
           {"lease", watch({}, 320, 3600000)},
           {"stream", watch({}, 320, 6000, 7)},
           {"key", watch({"has space"})},
       }) {
    Reply reply = call(body);
    EXPECT_EQ(reply.error_kind(), Error::Kind::INVALID) << what;
    EXPECT_FALSE(reply.error_text().empty()) << what;
  }
  EXPECT_TRUE(desktops.thumbnail_requests.empty());
}

TEST_F(ScreenRelayTest, RemoteInputGoesToTheStationsSession) {
  Reply ok = call(input("fake:a", 3));
  ASSERT_TRUE(ok.ok()) << ok.error_text();
  ASSERT_EQ(desktops.inputs.size(), 1u);
  EXPECT_EQ(desktops.inputs[0].first, session_on("fake:a"));
  EXPECT_EQ(desktops.inputs[0].second, 4u);

  EXPECT_EQ(call(input("fake:idle", 1)).error_kind(), Error::Kind::UNAVAILABLE);
  EXPECT_EQ(call(input("fake:nowhere", 1)).error_kind(), Error::Kind::INVALID);
  EXPECT_EQ(call(input("fake:a", 300)).error_kind(), Error::Kind::INVALID);
  EXPECT_EQ(call(input("fake:a", 1, 9)).error_kind(), Error::Kind::INVALID);
  EXPECT_EQ(
      call([](Envelope::Builder e) { e.initRemoteInput().setStationKey("fake:a"); }).error_kind(),
      Error::Kind::INVALID);
  EXPECT_EQ(desktops.inputs.size(), 1u);
}

TEST_F(ScreenRelayTest, AgentImagesArePublishedUnderTheStationsTopic) {
  std::vector<std::pair<std::string, std::string>> seen;  // topic, jpeg
  std::uint64_t seen_session = 0;
  caller->subscribe("thumbnail.", [&](std::string_view topic, const mp::bus::Incoming& event) {
    auto t = event.envelope().getThumbnail();
    seen.emplace_back(
        std::string(topic),
        std::string(reinterpret_cast<const char*>(t.getJpeg().begin()), t.getJpeg().size()));
    seen_session = t.getSessionId();
    EXPECT_EQ(t.getStationKey(), "fake:b");
    EXPECT_EQ(t.getWidth(), 320);
    EXPECT_EQ(event.header().getStateVersion(), 0u) << "an event, not state";
  });
  settle();
  capnp::MallocMessageBuilder message;
  auto image = message.initRoot<mp::schema::AgentThumbnail>();
  const std::string jpeg = "\xFF\xD8 not really a picture";
  image.setJpeg(kj::arrayPtr(reinterpret_cast<const kj::byte*>(jpeg.data()), jpeg.size()));
  image.setWidth(320);
  image.setHeight(240);
  desktops.events_.thumbnail(session_on("fake:b"), image.asReader());
  ASSERT_TRUE(reactor.run_until([&] { return !seen.empty(); }, 5s));
  EXPECT_EQ(seen[0].first, "thumbnail.fake:b");
  EXPECT_EQ(seen[0].second, jpeg);
  EXPECT_EQ(seen_session, session_on("fake:b"));

  // An ended session's late image is not published.
  ASSERT_TRUE(call([](Envelope::Builder e) { e.initSessionEnd().setStationKey("fake:a"); }).ok());
  auto ended = desktops.ended.back();
  desktops.events_.thumbnail(ended, image.asReader());
  settle();
  EXPECT_EQ(seen.size(), 1u);
}

}  // namespace
}  // namespace mp::session
