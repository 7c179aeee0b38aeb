// StationCommands inside a real SessionService and store (its one dispatcher serves these
// bodies too), with a fake transport on the bus: what projection, disconnect and applications
// ask of transports and desktops, and what is stored.
#include "session_fixture.h"

namespace mp::session {
namespace {

using namespace std::chrono_literals;

class StationCommandsTest : public SessionFixture {
 protected:
  void SetUp() override {
    options.apps = AppCatalog({{"Shell", {"sh", "-i"}}, {"Missing", {"no-such-program-here"}}});
    SessionFixture::SetUp();
    transport = std::make_unique<mp::bus::Client>(bus.context(), reactor, bus.endpoints(),
                                                  mp::bus::ClientOptions{.service = "fake"});
    transport->serve([this](const mp::bus::Incoming& request, Envelope::Builder reply) {
      auto e = request.envelope();
      if (e.isStationShow()) {
        auto show = e.getStationShow();
        shows.push_back({show.getStationKey(), show.getDisplay(), show.getViewOnly()});
      } else if (e.isStationDisconnectRequest()) {
        disconnects.push_back(e.getStationDisconnectRequest().getStationKey());
      } else {
        return false;
      }
      reply.initAck();
      return true;
    });
    ASSERT_TRUE(reactor.run_until([this] { return transport->counters().registrations > 0; }, 5s));
    ASSERT_TRUE(call(add_user("ann", "ann-password-1"), "u1").ok());
    for (const char* key : {"fake:a", "fake:b", "fake:c"}) {
      ASSERT_TRUE(call(attach({.key = key}), std::string("a-") + key).ok());
    }
    Reply logon = call(credentials("fake:a", "ann", "ann-password-1"), "l1");
    ASSERT_TRUE(logon.ok() && logon.envelope().getLogonResult().getOk()) << body_text(logon);
    source_display = logon.envelope().getLogonResult().getSession().getDisplay();
  }
  struct Show {
    std::string station, display;
    bool view_only;
  };
  std::string showing(const std::string& key) { return store->station(key)->showing; }
  // Results as "key:ok" / "key:why".
  static std::vector<std::string> results(const Reply& reply) {
    std::vector<std::string> out;
    if (!reply.ok() || !reply.envelope().isStationResults()) return {body_text(reply)};
    for (auto r : reply.envelope().getStationResults().getResults()) {
      out.push_back(std::string(r.getStationKey().cStr()) + ":" +
                    (r.getOk() ? "ok" : r.getReason().cStr()));
    }
    return out;
  }
  void pump() {
    reactor.run_until([] { return false; }, 100ms);
  }

  std::unique_ptr<mp::bus::Client> transport;
  std::vector<Show> shows;
  std::vector<std::string> disconnects;
  std::string source_display;
};

Build project(std::string source, std::vector<std::string> targets = {}) {
  return [=](Envelope::Builder e) {
    auto body = e.initProjectStart();
    body.setSource(source);
    auto list = body.initTargets(static_cast<unsigned>(targets.size()));
    for (unsigned i = 0; i < targets.size(); ++i) list.set(i, targets[i]);
  };
}

Build stop(std::vector<std::string> targets = {}) {
  return [=](Envelope::Builder e) {
    auto list = e.initProjectStop().initTargets(static_cast<unsigned>(targets.size()));
    for (unsigned i = 0; i < targets.size(); ++i) list.set(i, targets[i]);
  };
}

TEST_F(StationCommandsTest, ProjectionTellsEachTransportAndIsStoredUntilStopped) {
  Reply started = call(project("fake:a"), "p1");
  EXPECT_EQ(results(started), (std::vector<std::string>{"fake:b:ok", "fake:c:ok"}));
  ASSERT_EQ(shows.size(), 2u);
  for (const auto& show : shows) {
    EXPECT_EQ(show.display, source_display);
    EXPECT_TRUE(show.view_only);
  }
  EXPECT_EQ(showing("fake:b"), "fake:a");
  EXPECT_EQ(showing("fake:a"), "") << "the source shows its own";

  // A station that comes back is told again; one that was told and did not move is not.
  ASSERT_TRUE(call(detach("fake:c"), "d1").ok());
  ASSERT_TRUE(call(attach({.key = "fake:c"}), "a2").ok());
  pump();
  ASSERT_EQ(shows.size(), 3u);
  EXPECT_EQ(shows.back().station, "fake:c");
  EXPECT_EQ(shows.back().display, source_display);

  shows.clear();
  EXPECT_EQ(results(call(stop(), "s1")), (std::vector<std::string>{"fake:b:ok", "fake:c:ok"}));
  ASSERT_EQ(shows.size(), 2u);
  EXPECT_EQ(shows[0].display, "");
  EXPECT_EQ(showing("fake:b"), "");
}

TEST_F(StationCommandsTest, ProjectionNeedsASourceWithADesktopAndKnownTargets) {
  Reply nobody = call(project("fake:b"), "p1");
  ASSERT_FALSE(nobody.ok());
  EXPECT_NE(nobody.error_text().find("nobody is logged on"), std::string::npos);
  EXPECT_FALSE(call(project("fake:zz"), "p2").ok());
  EXPECT_EQ(results(call(project("fake:a", {"fake:a", "fake:zz", "fake:b"}), "p3")),
            (std::vector<std::string>{"fake:a:it is the station being shown",
                                      "fake:zz:no such station", "fake:b:ok"}));
}

TEST_F(StationCommandsTest, WhenTheSourceSessionEndsTheOthersShowTheirOwnAgain) {
  ASSERT_EQ(results(call(project("fake:a", {"fake:b"}), "p1")).size(), 1u);
  shows.clear();
  auto end = [](Envelope::Builder e) { e.initSessionEnd().setStationKey("fake:a"); };
  ASSERT_TRUE(call(end, "e1").ok());
  pump();
  ASSERT_EQ(shows.size(), 1u);
  EXPECT_EQ(shows[0].station, "fake:b");
  EXPECT_EQ(shows[0].display, "");
  EXPECT_EQ(showing("fake:b"), "");
}

TEST_F(StationCommandsTest, DisconnectAsksTheTransport) {
  auto body = [](Envelope::Builder e) {
    e.initStationDisconnect().initStations(1).set(0, "fake:b");
  };
  EXPECT_EQ(results(call(body, "d1")), (std::vector<std::string>{"fake:b:ok"}));
  EXPECT_EQ(disconnects, (std::vector<std::string>{"fake:b"}));
}

TEST_F(StationCommandsTest, ApplicationsByNameFromTheListOnly) {
  auto launch = [](std::string app, std::vector<std::string> stations) -> Build {
    return [=](Envelope::Builder e) {
      auto body = e.initAppLaunch();
      body.setApp(app);
      auto list = body.initStations(static_cast<unsigned>(stations.size()));
      for (unsigned i = 0; i < stations.size(); ++i) list.set(i, stations[i]);
    };
  };
  EXPECT_EQ(results(call(launch("Shell", {"fake:a", "fake:b"}), "x1")),
            (std::vector<std::string>{"fake:a:ok", "fake:b:nobody is logged on"}));
  ASSERT_EQ(desktops.launched.size(), 1u);
  EXPECT_EQ(desktops.launched[0].second, (std::vector<std::string>{"/usr/bin/sh", "-i"}));

  Reply unknown = call(launch("rm -rf /", {}), "x2");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error_text().find("no application"), std::string::npos);
  Reply missing = call(launch("Missing", {}), "x3");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error_text().find("not installed"), std::string::npos);

  auto close = [](Envelope::Builder e) { e.initAppClose().setApp("Shell"); };
  EXPECT_EQ(results(call(close, "c1")), (std::vector<std::string>{"fake:a:ok"}));
  ASSERT_EQ(desktops.closed.size(), 1u);
  EXPECT_EQ(desktops.closed[0].second, "sh");

  Reply list = call([](Envelope::Builder e) { e.initAppListRequest(); });
  ASSERT_TRUE(list.ok() && list.envelope().isAppList());
  EXPECT_EQ(list.envelope().getAppList().getApps().size(), 2u);
}

}  // namespace
}  // namespace mp::session
