// Who gets stored as a station: a transport without a logon screen (RDP) names its station in
// the credentials, and mp-session stores it only when the password is right; new stations can
// be kept out until an administrator admits them; a session that moves says where it came
// from.
#include <map>

#include "session_fixture.h"

namespace mp::session {
namespace {

using mp::schema::Error;
using mp::schema::SessionState;
using mp::schema::StationState;

Build credentials_naming(StationSpec spec, std::string user, std::string password) {
  return [spec, user, password](Envelope::Builder e) {
    auto body = e.initCredentials();
    body.setStationKey(spec.key);
    body.setUser(user);
    body.setPassword(password);
    body.setClientAddress(spec.address);
    fill_info(body.initStation(), spec);
  };
}

Build admission(std::vector<std::string> admit, std::optional<bool> allow_new = std::nullopt) {
  return [admit, allow_new](Envelope::Builder e) {
    auto body = e.initStationAdmission();
    if (allow_new) {
      body.setSetAllowNew(true);
      body.setAllowNew(*allow_new);
    }
    auto list = body.initAdmit(static_cast<unsigned>(admit.size()));
    for (unsigned i = 0; i < admit.size(); ++i) list.set(i, admit[i]);
  };
}

class StationAdmission : public SessionFixture {
 protected:
  std::map<std::string, mp::schema::Station::Reader> stations() {
    last_list_ = call([](Envelope::Builder e) { e.initStationListRequest(); });
    std::map<std::string, mp::schema::Station::Reader> out;
    for (auto s : last_list_.envelope().getStationList().getStations()) out[s.getKey()] = s;
    return out;
  }
  Reply last_list_;
};

TEST_F(StationAdmission, AWrongPasswordLeavesNoStationBehind) {
  ASSERT_TRUE(call(add_user("alice", "alice-password")).ok());
  for (int i = 0; i < 50; ++i) {
    StationSpec spec{.key = "rdp:intruder-" + std::to_string(i), .transport = "rdp"};
    Reply refused = call(credentials_naming(spec, "alice", "not-her-password"));
    ASSERT_TRUE(refused.ok()) << refused.error_text();
    EXPECT_FALSE(refused.envelope().getLogonResult().getOk());
  }
  EXPECT_TRUE(stations().empty()) << "50 refused logons stored nothing";

  StationSpec lab{.key = "rdp:lab-1", .transport = "rdp", .address = "192.0.2.50"};
  Reply ok = call(credentials_naming(lab, "alice", "alice-password"));
  ASSERT_TRUE(ok.envelope().getLogonResult().getOk()) << body_text(ok);
  auto now = stations();
  ASSERT_EQ(now.size(), 1u);
  EXPECT_EQ(now.at("rdp:lab-1").getState(), StationState::ATTACHED);
  EXPECT_EQ(std::string(now.at("rdp:lab-1").getAddress()), "192.0.2.50");
  EXPECT_FALSE(now.at("rdp:lab-1").getAdmitted()) << "a new station until admitted";

  // A station named in the credentials must be the one the logon is for.
  StationSpec other{.key = "rdp:lab-2", .transport = "rdp"};
  Reply mismatched = call([other](Envelope::Builder e) {
    auto body = e.initCredentials();
    body.setStationKey("rdp:lab-3");
    body.setUser("alice");
    body.setPassword("alice-password");
    fill_info(body.initStation(), other);
  });
  EXPECT_EQ(mismatched.error_kind(), Error::Kind::INVALID);
}

TEST_F(StationAdmission, ALogonMarksItsStationAndADetachOfANeverStoredStationIsAcknowledged) {
  ASSERT_TRUE(call(add_user("alice", "alice-password")).ok());
  ASSERT_TRUE(call(attach({.key = "fake:seat"})).ok());
  EXPECT_FALSE(stations().at("fake:seat").getAdmitted());
  ASSERT_TRUE(call(credentials("fake:seat", "alice", "alice-password"))
                  .envelope()
                  .getLogonResult()
                  .getOk());
  // A transport lets go of a station whose logon failed: nothing was stored for it.
  EXPECT_TRUE(call(detach("rdp:never-stored")).ok());
  EXPECT_FALSE(stations().contains("rdp:never-stored"));
  // Detached stations are kept, as the transport contract says.
  ASSERT_TRUE(call(detach("fake:seat")).ok());
  EXPECT_EQ(stations().at("fake:seat").getState(), StationState::DETACHED);
}

TEST_F(StationAdmission, NewStationsMayBeKeptOutUntilAdmitted) {
  ASSERT_TRUE(call(add_user("alice", "alice-password")).ok());
  ASSERT_TRUE(call(add_user("bob", "bob-password")).ok());
  StationSpec known{.key = "rdp:known", .transport = "rdp"};
  ASSERT_TRUE(call(credentials_naming(known, "alice", "alice-password"))
                  .envelope()
                  .getLogonResult()
                  .getOk());

  Reply closed = call(admission({}, false), "close-1");
  ASSERT_TRUE(closed.ok()) << closed.error_text();
  EXPECT_FALSE(closed.envelope().getStationAdmissionState().getAllowNew());

  StationSpec renamed{.key = "rdp:my-new-name", .transport = "rdp"};
  Reply refused = call(credentials_naming(renamed, "bob", "bob-password"));
  ASSERT_TRUE(refused.ok());
  EXPECT_FALSE(refused.envelope().getLogonResult().getOk());
  EXPECT_NE(std::string(refused.envelope().getLogonResult().getReason()).find("admit"),
            std::string::npos);
  EXPECT_FALSE(stations().contains("rdp:my-new-name"));

  // A station known before may still be used, by anyone with a password.
  ASSERT_TRUE(call(detach("rdp:known")).ok());
  EXPECT_TRUE(
      call([](Envelope::Builder e) { e.initSessionEnd().setStationKey("rdp:known"); }).ok());
  EXPECT_TRUE(
      call(credentials_naming(known, "bob", "bob-password")).envelope().getLogonResult().getOk());

  // Admitted ahead of time: it may log on, and is no longer a new station.
  Reply admitted = call(admission({"rdp:lab-9"}), "admit-1");
  ASSERT_TRUE(admitted.ok()) << admitted.error_text();
  auto listed = stations();
  ASSERT_TRUE(listed.contains("rdp:lab-9"));
  EXPECT_TRUE(listed.at("rdp:lab-9").getAdmitted());
  EXPECT_EQ(listed.at("rdp:lab-9").getState(), StationState::DETACHED);
  StationSpec lab9{.key = "rdp:lab-9", .transport = "rdp"};
  ASSERT_TRUE(
      call([](Envelope::Builder e) { e.initSessionEnd().setStationKey("rdp:known"); }).ok());
  EXPECT_TRUE(
      call(credentials_naming(lab9, "bob", "bob-password")).envelope().getLogonResult().getOk());

  // The setting survives a restart.
  restart_service();
  Reply state = call(admission({}), "read-1");
  EXPECT_FALSE(state.envelope().getStationAdmissionState().getAllowNew());
  EXPECT_EQ(call(admission({"not a key!"})).error_kind(), Error::Kind::INVALID);
}

TEST_F(StationAdmission, AMovedSessionSaysWhichStationItCameFrom) {
  ASSERT_TRUE(call(add_user("alice", "alice-password")).ok());
  StationSpec a{.key = "rdp:a", .transport = "rdp"}, b{.key = "rdp:b", .transport = "rdp"};
  auto first = call(credentials_naming(a, "alice", "alice-password"));
  ASSERT_TRUE(first.envelope().getLogonResult().getOk());
  EXPECT_EQ(std::string(first.envelope().getLogonResult().getSession().getMovedFrom()), "");
  ASSERT_TRUE(call(detach("rdp:a")).ok());

  auto moved = call(credentials_naming(b, "alice", "alice-password"));
  ASSERT_TRUE(moved.envelope().getLogonResult().getOk());
  auto session = moved.envelope().getLogonResult().getSession();
  EXPECT_EQ(std::string(session.getStationKey()), "rdp:b");
  EXPECT_EQ(std::string(session.getMovedFrom()), "rdp:a");
  EXPECT_GT(session.getMovedAtNs(), 0);

  // Kept across a restart, and in the snapshot mp-policy reads.
  restart_service();
  auto sessions = call([](Envelope::Builder e) { e.initSessionListRequest(); });
  ASSERT_EQ(sessions.envelope().getSessionList().getSessions().size(), 1u);
  EXPECT_EQ(std::string(sessions.envelope().getSessionList().getSessions()[0].getMovedFrom()),
            "rdp:a");
  EXPECT_EQ(sessions.envelope().getSessionList().getSessions()[0].getState(), SessionState::ACTIVE);
}

}  // namespace
}  // namespace mp::session
