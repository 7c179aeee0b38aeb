#include <algorithm>
#include <map>
#include <set>

#include "session_fixture.h"
#include "support/process.h"

namespace mp::session {
namespace {

using namespace std::chrono_literals;
using mp::schema::Error;
using mp::schema::Role;
using mp::schema::SessionState;
using mp::schema::StationState;

std::map<std::string, mp::schema::Station::Reader> stations_by_key(
    capnp::List<mp::schema::Station>::Reader list) {
  std::map<std::string, mp::schema::Station::Reader> result;
  for (auto station : list) result.emplace(station.getKey(), station);
  return result;
}

std::uint64_t snapshot_version(const Reply& reply) {
  return reply.envelope().getSessionSnapshot().getInfo().getVersion();
}

TEST_F(SessionFixture, AttachedStationsSurviveRestart) {
  ASSERT_TRUE(call(attach({.key = "rdp:lab-1"})).ok());
  ASSERT_TRUE(call(attach({.key = "usb:1-2.3", .transport = "usbhub"})).ok());
  ASSERT_TRUE(call(attach({.key = "rdp:lab-2"})).ok());
  ASSERT_TRUE(call(add_user("alice", "alice-password")).ok());
  Reply logon = call(credentials("rdp:lab-1", "alice", "alice-password"));
  ASSERT_TRUE(logon.ok()) << logon.error_text();
  ASSERT_TRUE(logon.envelope().getLogonResult().getOk());
  ASSERT_TRUE(call(rename("usb:1-2.3", "Front desk")).ok());
  ASSERT_TRUE(call(detach("rdp:lab-2")).ok());

  Reply before = call(snapshot_request());
  ASSERT_TRUE(before.ok()) << before.error_text();
  auto snapshot = before.envelope().getSessionSnapshot();
  EXPECT_EQ(snapshot.getStations().size(), 3u);
  EXPECT_EQ(snapshot.getUsers().size(), 1u);
  EXPECT_EQ(snapshot.getSessions().size(), 1u);

  restart_service();
  EXPECT_TRUE(store->existed_before());

  Reply after = call(snapshot_request());
  ASSERT_TRUE(after.ok()) << after.error_text();
  EXPECT_EQ(body_text(after), body_text(before));
  EXPECT_EQ(snapshot_version(after), snapshot_version(before));

  // The restarted service goes on from the stored state: alice's session is still hers.
  Reply again = call(credentials("rdp:lab-1", "alice", "alice-password"));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again.envelope().getLogonResult().getSession().getId(),
            logon.envelope().getLogonResult().getSession().getId());
}

TEST_F(SessionFixture, IdempotentRetryAppliedOnce) {
  std::uint64_t start = service->state_version();
  Reply first = call(attach({.key = "rdp:lab-1"}), "attach-1");
  ASSERT_TRUE(first.ok()) << first.error_text();
  EXPECT_EQ(service->state_version(), start + 1);

  // A retry while the service runs (answered from the bus client's memory).
  Reply retry = call(attach({.key = "rdp:lab-1", .client_name = "changed"}), "attach-1");
  EXPECT_EQ(body_text(retry), body_text(first));
  EXPECT_EQ(service->state_version(), start + 1);

  // A retry after a restart: only the database remembers the key.
  restart_service();
  Reply after_restart = call(attach({.key = "rdp:lab-1", .client_name = "changed"}), "attach-1");
  EXPECT_EQ(body_text(after_restart), body_text(first));
  EXPECT_EQ(service->state_version(), start + 1);

  Reply list = call([](Envelope::Builder e) { e.initStationListRequest(); });
  ASSERT_TRUE(list.ok());
  auto stations = list.envelope().getStationList().getStations();
  ASSERT_EQ(stations.size(), 1u);
  EXPECT_EQ(std::string(stations[0].getClientName()), "client") << "the retry was applied again";

  // The same key for another kind of request is a caller bug, answered as such. (Restarted
  // first: the bus client's in-memory reply cache does not compare bodies.)
  restart_service();
  Reply misuse = call(add_user("bob", "bob-password"), "attach-1");
  EXPECT_EQ(misuse.error_kind(), Error::Kind::INVALID);
}

TEST_F(SessionFixture, IdempotentUserAddRetriedAfterRestartIsNotADuplicate) {
  Reply first = call(add_user("alice", "alice-password"), "add-alice");
  ASSERT_TRUE(first.ok()) << first.error_text();
  std::uint64_t version = service->state_version();
  restart_service();
  Reply retry = call(add_user("alice", "alice-password"), "add-alice");
  ASSERT_TRUE(retry.ok()) << "a retry must not answer 'already exists': " << retry.error_text();
  EXPECT_EQ(body_text(retry), body_text(first));
  EXPECT_EQ(service->state_version(), version);
  // Without the key it is a second request, and a duplicate.
  EXPECT_EQ(call(add_user("alice", "alice-password")).error_kind(), Error::Kind::INVALID);
}

TEST_F(SessionFixture, PasswordsNeverStoredPlain) {
  const std::string password = "Tr0ub4dor&3-unmistakable";
  ASSERT_TRUE(call(add_user("alice", password, Role::ADMIN)).ok());
  ASSERT_TRUE(call(add_user("bob", password)).ok());

  auto hash = store->password_hash("alice");
  ASSERT_TRUE(hash);
  EXPECT_TRUE(hash->starts_with("$argon2id$")) << *hash;
  EXPECT_EQ(hash->find(password), std::string::npos);
  EXPECT_NE(*hash, *store->password_hash("bob")) << "every hash has its own salt";

  // Every byte SQLite wrote: the database and its write-ahead log.
  std::string bytes;
  for (const char* suffix : {"", "-wal"}) {
    auto path = database().string() + suffix;
    if (std::filesystem::exists(path)) bytes += mp::test::read_file(path);
  }
  ASSERT_FALSE(bytes.empty());
  EXPECT_EQ(bytes.find(password), std::string::npos);
  EXPECT_NE(bytes.find("$argon2id$"), std::string::npos);

  Reply list = call([](Envelope::Builder e) { e.initUserListRequest(); });
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(body_text(list).find("argon2"), std::string::npos);
  EXPECT_EQ(list.envelope().getUserList().getUsers().size(), 2u);
}

TEST_F(SessionFixture, AuthenticateRejectsWrongPasswordAndUnknownUser) {
  ASSERT_TRUE(call(add_user("alice", "alice-password", Role::DASHBOARD)).ok());

  Reply right = call(authenticate("alice", "alice-password"));
  ASSERT_TRUE(right.ok()) << right.error_text();
  EXPECT_TRUE(right.envelope().getLogonResult().getOk());
  EXPECT_EQ(right.envelope().getLogonResult().getRole(), Role::DASHBOARD);

  Reply wrong = call(authenticate("alice", "not-her-password"));
  Reply unknown = call(authenticate("mallory", "alice-password"));
  Reply malformed = call(authenticate("Robert'); DROP TABLE users;--", "x"));
  for (const Reply* reply : {&wrong, &unknown, &malformed}) {
    ASSERT_TRUE(reply->ok()) << reply->error_text();
    EXPECT_FALSE(reply->envelope().getLogonResult().getOk());
    EXPECT_EQ(reply->envelope().getLogonResult().getRole(), Role::UNKNOWN);
  }
  // The answer must not tell which of name or password was wrong.
  EXPECT_EQ(body_text(wrong), body_text(unknown));
  EXPECT_EQ(body_text(wrong), body_text(malformed));
  EXPECT_TRUE(call(authenticate("alice", "alice-password")).envelope().getLogonResult().getOk());
}

TEST_F(SessionFixture, RepeatedFailedLogonsAreDelayedWithTheTimeToWait) {
  stop_service();
  options.throttle.free_failures = 3;
  start_service();
  ASSERT_TRUE(call(add_user("alice", "alice-password")).ok());
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(call(authenticate("alice", "guess")).envelope().getLogonResult().getOk());
  }
  // Inside the delay even the right password is not checked.
  Reply refused = call(authenticate("alice", "alice-password"));
  EXPECT_FALSE(refused.envelope().getLogonResult().getOk());
  std::string reason = refused.envelope().getLogonResult().getReason().cStr();
  EXPECT_NE(reason.find("too many failed logons"), std::string::npos) << reason;
  EXPECT_NE(reason.find("try again in 1 s"), std::string::npos) << reason;
}

// An Authenticate from `address`, sent by `client` (whose service name is the throttle's
// channel).
Reply authenticate_from(mp::bus::Client& client, const std::string& user,
                        const std::string& password, const std::string& address) {
  return client.call(
      kServiceName,
      [&](Envelope::Builder e) {
        auto body = e.initAuthenticate();
        body.setUser(user);
        body.setPassword(password);
        body.setClientAddress(address);
      },
      mp::bus::RequestOptions{.deadline = std::chrono::seconds(5)});
}

TEST_F(SessionFixture, AFloodThroughOneServiceDoesNotDelayLogonsThroughAnother) {
  stop_service();
  options.throttle.free_failures = 2;
  start_service();
  ASSERT_TRUE(call(add_user("admin", "admin-password", Role::ADMIN)).ok());
  mp::bus::Client rdp(bus.context(), reactor, bus.endpoints(),
                      mp::bus::ClientOptions{.service = "rdp"});
  mp::bus::Client dashboard(bus.context(), reactor, bus.endpoints(),
                            mp::bus::ClientOptions{.service = "dashboard"});
  for (const char* address : {"127.0.0.2", "127.0.0.3"}) {
    EXPECT_FALSE(
        authenticate_from(rdp, "admin", "guess", address).envelope().getLogonResult().getOk());
  }
  std::string reason = authenticate_from(rdp, "admin", "admin-password", "127.0.0.50")
                           .envelope()
                           .getLogonResult()
                           .getReason()
                           .cStr();
  EXPECT_NE(reason.find("too many"), std::string::npos)
      << "every loopback address is one source: " << reason;
  EXPECT_TRUE(authenticate_from(dashboard, "admin", "admin-password", "127.0.0.1")
                  .envelope()
                  .getLogonResult()
                  .getOk())
      << "the dashboard's logons are counted apart from RDP's";
}

TEST_F(SessionFixture, TransportSyncDetachesMissingStations) {
  ASSERT_TRUE(call(add_user("alice", "alice-password")).ok());
  for (const char* key : {"fake:a", "fake:b", "fake:c"})
    ASSERT_TRUE(call(attach({.key = key})).ok());
  ASSERT_TRUE(call(attach({.key = "rdp:other", .transport = "rdp"})).ok());
  Reply logon = call(credentials("fake:b", "alice", "alice-password"));
  ASSERT_TRUE(logon.envelope().getLogonResult().getOk());
  std::uint64_t session_id = logon.envelope().getLogonResult().getSession().getId();

  Reply synced = call(sync(
      "fake",
      {{.key = "fake:a"}, {.key = "fake:c", .client_name = "renamed-client"}, {.key = "fake:d"}}));
  ASSERT_TRUE(synced.ok()) << synced.error_text();

  Reply list = call([](Envelope::Builder e) { e.initStationListRequest(); });
  auto stations = stations_by_key(list.envelope().getStationList().getStations());
  ASSERT_EQ(stations.size(), 5u);
  EXPECT_EQ(stations.at("fake:a").getState(), StationState::ATTACHED);
  EXPECT_EQ(stations.at("fake:b").getState(), StationState::DETACHED);
  EXPECT_EQ(stations.at("fake:c").getState(), StationState::ATTACHED);
  EXPECT_EQ(std::string(stations.at("fake:c").getClientName()), "renamed-client");
  EXPECT_EQ(stations.at("fake:d").getState(), StationState::ATTACHED);
  EXPECT_EQ(stations.at("rdp:other").getState(), StationState::ATTACHED) << "another transport's";

  // The detached station's session is kept, disconnected.
  EXPECT_EQ(stations.at("fake:b").getSessionId(), session_id);
  Reply sessions = call([](Envelope::Builder e) { e.initSessionListRequest(); });
  ASSERT_EQ(sessions.envelope().getSessionList().getSessions().size(), 1u);
  EXPECT_EQ(sessions.envelope().getSessionList().getSessions()[0].getState(),
            SessionState::DISCONNECTED);

  // A sync whose stations name another transport is refused as a whole.
  Reply mixed = call(sync("fake", {{.key = "fake:a"}, {.key = "rdp:x", .transport = "rdp"}}));
  EXPECT_EQ(mixed.error_kind(), Error::Kind::INVALID);
}

TEST_F(SessionFixture, LogonOpensSessionThatOutlivesTheTransport) {
  ASSERT_TRUE(call(add_user("alice", "alice-password")).ok());
  Reply attached = call(attach({.key = "rdp:lab-1"}));
  ASSERT_TRUE(attached.ok());
  EXPECT_EQ(std::string(attached.envelope().getDisplayAssignment().getDisplay()), "");
  EXPECT_EQ(attached.envelope().getDisplayAssignment().getSessionId(), 0u);

  Reply logon = call(credentials("rdp:lab-1", "alice", "alice-password"));
  auto session = logon.envelope().getLogonResult().getSession();
  EXPECT_EQ(session.getState(), SessionState::ACTIVE);
  EXPECT_EQ(std::string(session.getDisplay()), ":10");
  std::uint64_t id = session.getId();

  Reply reattached = call(attach({.key = "rdp:lab-1"}));
  EXPECT_EQ(reattached.envelope().getDisplayAssignment().getSessionId(), id);
  EXPECT_EQ(std::string(reattached.envelope().getDisplayAssignment().getDisplay()), ":10");

  ASSERT_TRUE(call(detach("rdp:lab-1")).ok());
  Reply back = call(attach({.key = "rdp:lab-1"}));
  EXPECT_EQ(back.envelope().getDisplayAssignment().getSessionId(), 0u)
      << "a disconnected session waits for its user's logon";
  Reply relogon = call(credentials("rdp:lab-1", "alice", "alice-password"));
  EXPECT_EQ(relogon.envelope().getLogonResult().getSession().getId(), id);
  EXPECT_EQ(relogon.envelope().getLogonResult().getSession().getState(), SessionState::ACTIVE);

  // Another user cannot take over the station while alice's session lives.
  ASSERT_TRUE(call(add_user("bob", "bob-password")).ok());
  Reply bob = call(credentials("rdp:lab-1", "bob", "bob-password"));
  EXPECT_FALSE(bob.envelope().getLogonResult().getOk());

  // After log off the station is free again.
  ASSERT_TRUE(call([id](Envelope::Builder e) { e.initSessionEnd().setSessionId(id); }).ok());
  Reply bob_again = call(credentials("rdp:lab-1", "bob", "bob-password"));
  ASSERT_TRUE(bob_again.envelope().getLogonResult().getOk());
  EXPECT_NE(bob_again.envelope().getLogonResult().getSession().getId(), id);
}

TEST_F(SessionFixture, SessionStartAndEndByOperator) {
  ASSERT_TRUE(call(add_user("alice", "alice-password")).ok());
  ASSERT_TRUE(call(attach({.key = "video:card0-HDMI-A-1", .transport = "video"})).ok());
  auto start = [](Envelope::Builder e) {
    auto body = e.initSessionStart();
    body.setStationKey("video:card0-HDMI-A-1");
    body.setUser("alice");
  };
  Reply started = call(start);
  ASSERT_TRUE(started.ok()) << started.error_text();
  std::uint64_t id = started.envelope().getSessionRecord().getId();
  EXPECT_EQ(call(start).envelope().getSessionRecord().getId(), id) << "returns the existing one";

  ASSERT_TRUE(call([id](Envelope::Builder e) { e.initSessionEnd().setSessionId(id); }).ok());
  Reply sessions = call([](Envelope::Builder e) { e.initSessionListRequest(); });
  EXPECT_EQ(sessions.envelope().getSessionList().getSessions().size(), 0u);
  Reply list = call([](Envelope::Builder e) { e.initStationListRequest(); });
  EXPECT_EQ(list.envelope().getStationList().getStations()[0].getSessionId(), 0u);

  // Removing a user ends their sessions.
  Reply again = call(start);
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE(call([](Envelope::Builder e) { e.initUserRemove().setName("alice"); }).ok());
  sessions = call([](Envelope::Builder e) { e.initSessionListRequest(); });
  EXPECT_EQ(sessions.envelope().getSessionList().getSessions().size(), 0u);
  EXPECT_EQ(call(start).error_kind(), Error::Kind::INVALID) << "alice is gone";
}

TEST_F(SessionFixture, SnapshotVersionMatchesUpdates) {
  struct Seen {
    std::string topic;
    std::uint64_t version;
  };
  std::vector<Seen> seen;
  bool password_leaked = false;
  caller->subscribe("session.", [&](std::string_view topic, const mp::bus::Incoming& update) {
    seen.push_back({std::string(topic), update.header().getStateVersion()});
    if (update.envelope().isUserUpdate()) {
      auto text = kj::str(update.envelope().getUserUpdate());
      // When a password changed is published; the password or its hash never are.
      password_leaked |= std::string(text.cStr()).find("password-of-alice") != std::string::npos ||
                         std::string(text.cStr()).find("argon2") != std::string::npos;
    }
  });
  settle();
  std::uint64_t start = snapshot_version(call(snapshot_request()));

  ASSERT_TRUE(call(add_user("alice", "password-of-alice")).ok());
  ASSERT_TRUE(call(attach({.key = "fake:a"})).ok());
  ASSERT_TRUE(call(attach({.key = "fake:b"})).ok());
  ASSERT_TRUE(call(credentials("fake:a", "alice", "password-of-alice")).ok());  // session+station
  ASSERT_TRUE(call(rename("fake:b", "Window seat")).ok());
  ASSERT_TRUE(call(sync("fake", {})).ok());  // detaches both, disconnects the session
  ASSERT_TRUE(call(rename("fake:b", "Window seat")).ok());  // no change, no update
  ASSERT_TRUE(call([](Envelope::Builder e) { e.initUserRemove().setName("alice"); }).ok());

  Reply last = call(snapshot_request());
  std::uint64_t end = snapshot_version(last);
  ASSERT_GT(end, start);
  ASSERT_TRUE(reactor.run_until([&] { return seen.size() >= end - start; }, 5s))
      << seen.size() << " of " << end - start << " updates";
  settle(100ms);
  ASSERT_EQ(seen.size(), end - start);
  for (std::size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i].version, start + i + 1) << "update " << i << " on " << seen[i].topic;
  }
  std::set<std::string> topics;
  for (const auto& s : seen) topics.insert(s.topic);
  EXPECT_EQ(topics, (std::set<std::string>{"session.station", "session.user", "session.session"}));
  EXPECT_FALSE(password_leaked);
  EXPECT_EQ(std::string(last.envelope().getSessionSnapshot().getInfo().getTopic()), "session");
}

TEST_F(SessionFixture, RenameValidates) {
  ASSERT_TRUE(call(attach({.key = "rdp:lab-1"})).ok());
  for (const std::string& bad :
       {std::string(), std::string(65, 'x'), std::string("tab\there"), std::string("bell\a"),
        std::string(" padded"), std::string("\xff\xfe"), std::string("nul\0byte", 8)}) {
    Reply reply = call(rename("rdp:lab-1", bad));
    EXPECT_EQ(reply.error_kind(), Error::Kind::INVALID) << "accepted '" << bad << "'";
  }
  EXPECT_EQ(call(rename("rdp:nowhere", "Desk")).error_kind(), Error::Kind::INVALID);
  EXPECT_EQ(call(rename("bad key!", "Desk")).error_kind(), Error::Kind::INVALID);

  std::string umlauts;
  for (int i = 0; i < 64; ++i) umlauts += "\xc3\xa4";  // 64 characters, 128 bytes
  for (const std::string& good : {std::string("Front row 3"), umlauts, std::string(64, 'y')}) {
    Reply reply = call(rename("rdp:lab-1", good));
    ASSERT_TRUE(reply.ok()) << good << ": " << reply.error_text();
    Reply list = call([](Envelope::Builder e) { e.initStationListRequest(); });
    EXPECT_EQ(std::string(list.envelope().getStationList().getStations()[0].getName()), good);
  }
}

TEST_F(SessionFixture, BadInputAnswersInvalid) {
  ASSERT_TRUE(call(add_user("alice", "alice-password")).ok());
  std::vector<std::pair<std::string, Build>> requests = {
      {"key with a space", attach({.key = "rdp:lab 1"})},
      {"empty key", attach({.key = ""})},
      {"key of 129 bytes", attach({.key = std::string(129, 'k')})},
      {"control character in the client name",
       attach({.key = "rdp:x", .client_name = "evil\x1b[2J"})},
      {"huge address", attach({.key = "rdp:x", .address = std::string(10000, 'a')})},
      {"bad transport name", attach({.key = "rdp:x", .transport = "RDP Server"})},
      {"user name with upper case", add_user("Alice", "long-enough")},
      {"user name too long", add_user(std::string(33, 'a'), "long-enough")},
      {"user name starting with a digit", add_user("1abc", "long-enough")},
      {"short password", add_user("bob", "short")},
      {"password over 1024 bytes", add_user("bob", std::string(1025, 'p'))},
      {"unknown role", add_user("bob", "long-enough", Role::UNKNOWN)},
      {"duplicate user", add_user("alice", "another-password")},
      {"remove unknown user", [](Envelope::Builder e) { e.initUserRemove().setName("nobody"); }},
      {"snapshot of another topic", snapshot_request("policy")},
      {"end of an unknown session",
       [](Envelope::Builder e) { e.initSessionEnd().setSessionId(424242); }},
      {"credentials for an unknown station", credentials("rdp:ghost", "alice", "alice-password")},
      {"station listed twice in a sync", sync("fake", {{.key = "fake:a"}, {.key = "fake:a"}})},
  };
  std::uint64_t version = service->state_version();
  for (const auto& [what, body] : requests) {
    Reply reply = call(body);
    ASSERT_TRUE(reply.message) << what << ": no answer";
    EXPECT_EQ(reply.error_kind(), Error::Kind::INVALID) << what << ": " << body_text(reply);
    EXPECT_FALSE(reply.error_text().empty()) << what;
  }
  EXPECT_EQ(service->state_version(), version) << "refused requests changed nothing";
  EXPECT_EQ(server->counters().handler_failures, 0u);
  // The service is still fine.
  EXPECT_TRUE(call(authenticate("alice", "alice-password")).envelope().getLogonResult().getOk());
}

TEST_F(SessionFixture, UnknownBodyAnswersUnimplemented) {
  Reply reply = call([](Envelope::Builder e) { e.initSetBlock(); });
  ASSERT_TRUE(reply.message);
  EXPECT_EQ(reply.error_kind(), Error::Kind::UNIMPLEMENTED);
  Reply status = call([](Envelope::Builder e) { e.initStatusRequest(); });
  EXPECT_EQ(status.error_kind(), Error::Kind::UNIMPLEMENTED);
  EXPECT_TRUE(call(snapshot_request()).ok());
}

}  // namespace
}  // namespace mp::session

namespace mp::session {
namespace {

Build modify(std::string name, Role role, std::string password) {
  return [=](Envelope::Builder e) {
    auto body = e.initUserModify();
    body.setName(name);
    body.setRole(role);
    body.setPassword(password);
  };
}

TEST_F(SessionFixture, UserModifySetsTheRoleAndResetsThePassword) {
  ASSERT_TRUE(call(add_user("alice", "password-of-alice")).ok());
  std::vector<Role> published;
  std::vector<std::int64_t> reset_at;
  caller->subscribe("session.user", [&](std::string_view, const mp::bus::Incoming& update) {
    published.push_back(update.envelope().getUserUpdate().getUser().getRole());
    reset_at.push_back(update.envelope().getUserUpdate().getUser().getPasswordChangedAtNs());
  });
  settle();

  Reply promoted = call(modify("alice", Role::DASHBOARD, ""), "promote-1");
  ASSERT_TRUE(promoted.ok()) << promoted.error_text();
  auto logon = call(authenticate("alice", "password-of-alice"));
  EXPECT_EQ(logon.envelope().getLogonResult().getRole(), Role::DASHBOARD);

  ASSERT_TRUE(call(modify("alice", Role::UNKNOWN, "a-new-password"), "reset-1").ok());
  EXPECT_FALSE(
      call(authenticate("alice", "password-of-alice")).envelope().getLogonResult().getOk());
  EXPECT_TRUE(call(authenticate("alice", "a-new-password")).envelope().getLogonResult().getOk());

  ASSERT_TRUE(reactor.run_until([&] { return published.size() >= 2; }, std::chrono::seconds(5)));
  settle();
  // The reset is published as when, never what: logins made before it can be ended.
  EXPECT_EQ(published, (std::vector<Role>{Role::DASHBOARD, Role::DASHBOARD}));
  ASSERT_EQ(reset_at.size(), 2u);
  EXPECT_EQ(reset_at[0], 0);
  EXPECT_GT(reset_at[1], 0);
  auto users = call([](Envelope::Builder e) { e.initUserListRequest(); });
  EXPECT_EQ(users.envelope().getUserList().getUsers()[0].getPasswordChangedAtNs(), reset_at[1]);

  for (const auto& [what, body] : std::vector<std::pair<std::string, Build>>{
           {"unknown user", modify("nobody", Role::ADMIN, "")},
           {"nothing to change", modify("alice", Role::UNKNOWN, "")},
           {"weak password", modify("alice", Role::UNKNOWN, "short")},
           {"bad role", modify("alice", static_cast<Role>(42), "")},
           {"bad name", modify("Alice!", Role::ADMIN, "")},
       }) {
    EXPECT_EQ(call(body).error_kind(), Error::Kind::INVALID) << what;
  }
}

}  // namespace
}  // namespace mp::session
