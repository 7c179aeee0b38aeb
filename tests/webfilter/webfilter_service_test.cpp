// Who is under the web rules, in-process with a fake firewall: every multipoint user, every user
// at a station, every uid mp-session admits with webAdmit (answered only once the firewall has
// it), never root or the proxy itself.
#include <gtest/gtest.h>
#include <unistd.h>

#include "webfilter_support.h"

namespace mp::webfilter::test {
namespace {

using mp::schema::WebMode;

constexpr uid_t kProxyUid = 4242;

class WebAdmitTest : public ::testing::Test {
 protected:
  void start(std::vector<std::string> users = {}, StationFirewall* wall = nullptr) {
    WorldOptions w;
    w.proxy.listen = "127.0.0.1:0";
    w.proxy.transparent_listen = {};
    w.users = {{2001, "alice"}, {2002, "bob"}, {2003, "carol"}};
    w.initial_users = std::move(users);
    w.initial_policy = {StationPolicy{"", WebMode::OFF, {}, "all"}};
    w.firewall = wall;
    world = std::make_unique<World>(std::move(w));
  }

  mp::bus::Reply admit(std::uint32_t uid) {
    return world->request("webfilter", [uid](mp::schema::Envelope::Builder e) {
      auto body = e.initWebAdmit();
      body.setUid(uid);
      body.setUser("someone");
    });
  }

  std::set<uid_t> last_applied() {
    std::set<uid_t> last;
    world->call(
        [&] { last = firewall.applied.empty() ? std::set<uid_t>{} : firewall.applied.back(); });
    return last;
  }

  FakeFirewall firewall{kProxyUid};
  std::unique_ptr<World> world;
};

TEST_F(WebAdmitTest, EveryMultipointUserIsUnderTheRulesAtAStationOrNot) {
  start({"alice", "nobody-without-an-account"}, &firewall);
  EXPECT_EQ(last_applied(), (std::set<uid_t>{2001}));
  world->set_user("bob");
  EXPECT_EQ(last_applied(), (std::set<uid_t>{2001, 2002}));
  // A user at a station who is (somehow) not in the user list is in too.
  world->set_session(FakeSessionRecord{.id = 1, .user = "carol", .station = "rdp:lab-1"});
  EXPECT_EQ(last_applied(), (std::set<uid_t>{2001, 2002, 2003}));
  world->set_user("bob", true);
  EXPECT_EQ(last_applied(), (std::set<uid_t>{2001, 2003}));
}

TEST_F(WebAdmitTest, IsAckedOnceTheFirewallHasTheUid) {
  start({}, &firewall);
  auto reply = admit(3001);
  ASSERT_TRUE(reply.ok()) << reply.error_text();
  EXPECT_TRUE(reply.envelope().isAck());
  EXPECT_EQ(last_applied(), (std::set<uid_t>{3001}));
  // Admitted uids stay under the rules as users come and go.
  world->set_user("alice");
  EXPECT_EQ(last_applied(), (std::set<uid_t>{2001, 3001}));
}

TEST_F(WebAdmitTest, AFirewallThatFailsIsAnErrorNotAnAck) {
  start({}, &firewall);
  world->call([&] { firewall.fail_with = "nft: no such file"; });
  auto reply = admit(3001);
  EXPECT_EQ(reply.error_kind(), mp::schema::Error::Kind::FAILED);
  EXPECT_NE(reply.error_text().find("no such file"), std::string::npos) << reply.error_text();
}

TEST_F(WebAdmitTest, RootAndTheProxyItselfAreInvalid) {
  start({}, &firewall);
  std::size_t applies = 0;
  world->call([&] { applies = firewall.applied.size(); });
  for (std::uint32_t uid : {0u, static_cast<std::uint32_t>(kProxyUid), 0xFFFFFFFFu}) {
    auto reply = admit(uid);
    EXPECT_EQ(reply.error_kind(), mp::schema::Error::Kind::INVALID) << uid;
  }
  std::size_t after = 0;
  world->call([&] { after = firewall.applied.size(); });
  EXPECT_EQ(after, applies);
}

TEST_F(WebAdmitTest, WithoutNftablesItIsUnavailable) {
  start({}, nullptr);
  auto reply = admit(3001);
  EXPECT_EQ(reply.error_kind(), mp::schema::Error::Kind::UNAVAILABLE);
  EXPECT_NE(reply.error_text().find("does not manage nftables"), std::string::npos);
}

}  // namespace
}  // namespace mp::webfilter::test
