// Logons that wait for a desktop: the fake Desktops holds each start pending until the test
// completes or fails it, while the service on a real bus keeps answering.
#include <memory>
#include <optional>

#include "session_fixture.h"

namespace mp::session {
namespace {

using namespace std::chrono_literals;
using mp::schema::Error;

class DesktopStartFixture : public SessionFixture {
 protected:
  void SetUp() override {
    SessionFixture::SetUp();
    for (const char* key : {"rdp:lab-1", "rdp:lab-2"}) ASSERT_TRUE(call(attach({.key = key})).ok());
    for (const char* name : {"alice", "bob"}) {
      ASSERT_TRUE(call(add_user(name, std::string(name) + "-password")).ok());
    }
    desktops.hold_starts = true;
  }

  using Slot = std::shared_ptr<std::optional<Reply>>;
  // Sends without waiting for the answer.
  Slot send(const Build& body, const std::string& key = {}) {
    auto slot = std::make_shared<std::optional<Reply>>();
    caller->request(kServiceName, body,
                    mp::bus::RequestOptions{.deadline = 10s, .idempotency_key = key},
                    [slot](Reply reply) { *slot = std::move(reply); });
    return slot;
  }
  Slot logon(const std::string& station, const std::string& user, const std::string& key = {}) {
    return send(credentials(station, user, user + "-password"), key);
  }
  bool wait_for(const std::function<bool()>& condition) { return reactor.run_until(condition, 5s); }
  bool answered(const Slot& slot) {
    return wait_for([&] { return slot->has_value(); });
  }
  // Lets requests in flight reach the service.
  void let_arrive() { settle(300ms); }

  std::size_t open_sessions() {
    Reply list = call([](Envelope::Builder e) { e.initSessionListRequest(); });
    EXPECT_TRUE(list.ok()) << list.error_text();
    return list.ok() ? list.envelope().getSessionList().getSessions().size() : 0;
  }
};

bool logged_on(const Reply& reply) {
  return reply.ok() && reply.envelope().isLogonResult() &&
         reply.envelope().getLogonResult().getOk();
}
std::uint64_t session_id(const Reply& reply) {
  return logged_on(reply) ? reply.envelope().getLogonResult().getSession().getId() : 0;
}
std::string refusal(const Reply& reply) {
  if (!reply.ok()) return "<error: " + reply.error_text() + ">";
  if (!reply.envelope().isLogonResult()) return "<not a logon result>";
  return reply.envelope().getLogonResult().getReason();
}

TEST_F(DesktopStartFixture, ServiceAnswersOtherRequestsWhileADesktopStarts) {
  Slot alice = logon("rdp:lab-1", "alice");
  ASSERT_TRUE(wait_for([&] { return desktops.held.size() == 1; }));
  std::uint64_t version = service->state_version();

  // Reads, another user's logon and an operator's change are served meanwhile.
  EXPECT_EQ(open_sessions(), 0u) << "a session is listed only once its desktop is up";
  EXPECT_TRUE(call(authenticate("bob", "bob-password")).envelope().getLogonResult().getOk());
  EXPECT_TRUE(call(rename("rdp:lab-2", "Back row")).ok());
  Slot bob = logon("rdp:lab-2", "bob");
  ASSERT_TRUE(wait_for([&] { return desktops.held.size() == 2; })) << "bob's start is not queued";
  Reply snapshot = call(snapshot_request());
  ASSERT_TRUE(snapshot.ok());
  // The rename, and bob's logon marking rdp:lab-2 as a station someone logged on to.
  EXPECT_EQ(snapshot.envelope().getSessionSnapshot().getInfo().getVersion(), version + 2);
  EXPECT_FALSE(alice->has_value());

  std::uint64_t alice_id = desktops.starts.at(0);
  desktops.complete_start(alice_id);
  ASSERT_TRUE(answered(alice));
  ASSERT_TRUE(logged_on(**alice)) << body_text(**alice);
  auto record = (*alice)->envelope().getLogonResult().getSession();
  EXPECT_EQ(record.getId(), alice_id);
  EXPECT_EQ(std::string(record.getDisplay()), ":10");
  EXPECT_EQ(open_sessions(), 1u);
  EXPECT_FALSE(bob->has_value());

  desktops.complete_start(desktops.only_held());
  ASSERT_TRUE(answered(bob));
  EXPECT_TRUE(logged_on(**bob)) << body_text(**bob);
  EXPECT_EQ(std::string((*bob)->envelope().getLogonResult().getSession().getDisplay()), ":11");
  EXPECT_EQ(open_sessions(), 2u);
}

TEST_F(DesktopStartFixture, ConcurrentLogonsOfOneUserStartOneDesktop) {
  Slot first = logon("rdp:lab-1", "alice", "logon-1");
  ASSERT_TRUE(wait_for([&] { return desktops.held.size() == 1; }));
  Slot second = logon("rdp:lab-1", "alice", "logon-2");
  Slot retry = logon("rdp:lab-1", "alice", "logon-1");  // the transport's retry of the first
  Slot by_operator = send([](Envelope::Builder e) {
    auto body = e.initSessionStart();
    body.setStationKey("rdp:lab-1");
    body.setUser("alice");
  });
  // Touching her or the station: they wait, then get what they would have got after it.
  Slot elsewhere = logon("rdp:lab-2", "alice");
  Slot other_user = logon("rdp:lab-1", "bob");
  let_arrive();
  EXPECT_EQ(desktops.starts.size(), 1u);
  std::uint64_t version = service->state_version();

  desktops.complete_start(desktops.only_held());
  for (const Slot& slot : {first, second, retry, by_operator, elsewhere, other_user}) {
    ASSERT_TRUE(answered(slot));
  }
  EXPECT_EQ(desktops.starts.size(), 1u) << "one desktop for one user on one station";
  std::uint64_t id = session_id(**first);
  ASSERT_NE(id, 0u) << body_text(**first);
  EXPECT_EQ(session_id(**second), id);
  EXPECT_EQ(body_text(**retry), body_text(**first));
  ASSERT_TRUE((*by_operator)->ok()) << body_text(**by_operator);
  EXPECT_EQ((*by_operator)->envelope().getSessionRecord().getId(), id);
  EXPECT_NE(refusal(**elsewhere).find("is logged on at station 'rdp:lab-1'"), std::string::npos)
      << body_text(**elsewhere);
  EXPECT_NE(refusal(**other_user).find("holds another user's session"), std::string::npos)
      << body_text(**other_user);
  EXPECT_EQ(service->state_version(), version + 2) << "the session and its station, once";
  EXPECT_EQ(open_sessions(), 1u);

  // The first logon's key is remembered with its answer, also after a restart.
  restart_service();
  Reply after_restart = call(credentials("rdp:lab-1", "alice", "alice-password"), "logon-1");
  EXPECT_EQ(body_text(after_restart), body_text(**first));
}

TEST_F(DesktopStartFixture, FailedStartAnswersEveryWaitingLogonAndStoresNothing) {
  Slot first = logon("rdp:lab-1", "alice");
  ASSERT_TRUE(wait_for([&] { return desktops.held.size() == 1; }));
  Slot joined = logon("rdp:lab-1", "alice");
  Slot queued = logon("rdp:lab-1", "bob");
  let_arrive();
  std::uint64_t version = service->state_version();
  std::uint64_t failed_id = desktops.only_held();

  desktops.fail_start(failed_id, "Xvfb on :10 did not come up");
  ASSERT_TRUE(answered(first));
  ASSERT_TRUE(answered(joined));
  for (const Slot& slot : {first, joined}) {
    EXPECT_FALSE(logged_on(**slot));
    EXPECT_EQ(refusal(**slot), "cannot start the desktop: Xvfb on :10 did not come up");
  }
  EXPECT_EQ(service->state_version(), version) << "nothing stored, nothing published";
  EXPECT_EQ(open_sessions(), 0u);
  Reply stations = call([](Envelope::Builder e) { e.initStationListRequest(); });
  for (auto station : stations.envelope().getStationList().getStations()) {
    EXPECT_EQ(station.getSessionId(), 0u) << station.getKey().cStr();
  }

  // The logon that waited behind it goes ahead with a desktop of its own, under a new id.
  ASSERT_TRUE(wait_for([&] { return desktops.held.size() == 1; }));
  std::uint64_t bob_id = desktops.only_held();
  EXPECT_GT(bob_id, failed_id) << "ids are never reused";
  desktops.complete_start(bob_id);
  ASSERT_TRUE(answered(queued));
  EXPECT_EQ(session_id(**queued), bob_id) << body_text(**queued);
}

TEST_F(DesktopStartFixture, DetachLogoffOrUserRemovalAbandonsAStartingDesktop) {
  struct Case {
    const char* what;
    Build abandon;
    const char* reason;
  };
  const Case cases[] = {
      {"detach", detach("rdp:lab-1"), "station 'rdp:lab-1' went away"},
      {"log off", [](Envelope::Builder e) { e.initSessionEnd().setStationKey("rdp:lab-1"); },
       "logged off while its desktop started"},
      {"user removal", [](Envelope::Builder e) { e.initUserRemove().setName("alice"); },
       "user 'alice' was removed"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    ASSERT_TRUE(call(attach({.key = "rdp:lab-1"})).ok());
    Slot pending = logon("rdp:lab-1", "alice");
    ASSERT_TRUE(wait_for([&] { return desktops.held.size() == 1; }));
    std::uint64_t id = desktops.only_held();
    Reply abandoned = call(c.abandon);
    ASSERT_TRUE(abandoned.ok()) << body_text(abandoned);
    ASSERT_TRUE(answered(pending));
    EXPECT_EQ(refusal(**pending), c.reason);
    EXPECT_TRUE(desktops.held.empty());
    ASSERT_FALSE(desktops.cancelled.empty());
    EXPECT_EQ(desktops.cancelled.back(), id);
    EXPECT_EQ(open_sessions(), 0u);
  }
}

TEST_F(DesktopStartFixture, StoppingWhileADesktopStartsAnswersUnavailableAndAbandonsIt) {
  Slot pending = logon("rdp:lab-1", "alice", "logon-before-stop");
  ASSERT_TRUE(wait_for([&] { return desktops.held.size() == 1; }));
  std::uint64_t id = desktops.only_held();

  stop_service();
  ASSERT_TRUE(answered(pending));
  ASSERT_TRUE((*pending)->message) << "answered by the service, not left to the deadline";
  EXPECT_EQ((*pending)->error_kind(), Error::Kind::UNAVAILABLE) << body_text(**pending);
  ASSERT_EQ(desktops.cancelled, std::vector<std::uint64_t>{id});
  EXPECT_TRUE(desktops.held.empty());

  // The next incarnation knows nothing of it; the retry is applied, with a new id.
  desktops.hold_starts = false;
  start_service();
  EXPECT_EQ(open_sessions(), 0u);
  Reply retry = call(credentials("rdp:lab-1", "alice", "alice-password"), "logon-before-stop");
  EXPECT_GT(session_id(retry), id) << body_text(retry);
}

}  // namespace
}  // namespace mp::session
