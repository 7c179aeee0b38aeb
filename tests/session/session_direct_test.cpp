// SessionService and its parts driven directly, without a bus.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <map>
#include <memory>

#include "mp/bus/frame.h"
#include "password.h"
#include "recorded_desktops.h"
#include "session_service.h"
#include "session_store.h"
#include "support/temp_dir.h"
#include "validation.h"

namespace mp::session {
namespace {

using namespace std::chrono_literals;
using mp::schema::Envelope;

mp::bus::Incoming make_request(const mp::bus::Build& body, const std::string& key) {
  mp::bus::Outgoing out;
  out.envelope().initHeader().setIdempotencyKey(key);
  body(out.envelope());
  auto incoming = mp::bus::Incoming::decode(out.to_frame(), mp::bus::Limits{});
  if (!incoming) throw std::runtime_error("cannot decode a request the test built");
  return std::move(*incoming);
}

class DirectService : public ::testing::Test {
 protected:
  void SetUp() override {
    options.clock = [this] { return now_ns; };
    store = std::make_unique<SessionStore>(dir / "session.db");
    service = std::make_unique<SessionService>(
        *store, hasher, desktops,
        BusAccess{
            .publish = [this](std::string_view, const mp::bus::Build&,
                              std::uint64_t version) { published.push_back(version); },
            .answer_later = [this] { return answer_later(); },
            .defer = [this](std::function<void()> later) { deferred.push_back(std::move(later)); }},
        options);
  }
  // What a Client does for a request answered later: the answer is kept for the test.
  mp::bus::Responder answer_later() {
    return mp::bus::Responder([this](const mp::bus::Build& body) {
      auto& message = *later.emplace_back(std::make_unique<capnp::MallocMessageBuilder>());
      body(message.initRoot<Envelope>());
    });
  }
  bool handle(const mp::bus::Build& body, const std::string& key = {}) {
    capnp::MallocMessageBuilder reply_message;
    auto reply = reply_message.initRoot<Envelope>();
    bool served = service->handle(make_request(body, key), reply);
    return served && !reply.isError() && !reply.isNone();
  }
  static mp::bus::Build rename_to(std::string name) {
    return [name](Envelope::Builder e) {
      auto body = e.initStationRename();
      body.setKey("fake:a");
      body.setName(name);
    };
  }

  mp::test::TempDir dir{"mp-session"};
  PasswordHasher hasher{PasswordCost::minimum()};
  RecordedDesktops desktops;
  SessionServiceOptions options{.max_applied_requests = 5, .prune_every = 10};
  std::int64_t now_ns = 1'700'000'000'000'000'000;
  // Answers given later; outlives the service, which answers what still waits when it goes.
  std::vector<std::unique_ptr<capnp::MallocMessageBuilder>> later;
  std::unique_ptr<SessionStore> store;
  std::unique_ptr<SessionService> service;
  std::vector<std::uint64_t> published;
  std::vector<std::function<void()>> deferred;  // never run: no loop here
};

TEST_F(DirectService, AppliedRequestKeysStayBounded) {
  ASSERT_TRUE(handle([](Envelope::Builder e) {
    auto info = e.initStationAttach().initStation();
    info.setKey("fake:a");
    info.setTransport("fake");
  }));
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE(handle(rename_to("name " + std::to_string(i)), "key-" + std::to_string(i)));
    EXPECT_LE(store->applied_request_count(), options.max_applied_requests + options.prune_every);
  }
  EXPECT_TRUE(store->applied_request("key-39"));
  EXPECT_FALSE(store->applied_request("key-0"));

  // Keys older than the TTL go at the next pruning.
  now_ns += std::chrono::nanoseconds(25h).count();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(handle(rename_to("later " + std::to_string(i))));
  EXPECT_EQ(store->applied_request_count(), 0u);
}

TEST_F(DirectService, EachPublishedUpdateBumpsTheVersionByOne) {
  ASSERT_TRUE(handle([](Envelope::Builder e) {
    auto sync = e.initTransportSync();
    sync.setTransport("fake");
    auto list = sync.initStations(3);
    for (unsigned i = 0; i < 3; ++i) {
      list[i].setKey("fake:" + std::to_string(i));
      list[i].setTransport("fake");
    }
  }));
  ASSERT_TRUE(handle([](Envelope::Builder e) { e.initTransportSync().setTransport("fake"); }));
  ASSERT_EQ(published.size(), 6u);
  for (std::size_t i = 0; i < published.size(); ++i) EXPECT_EQ(published[i], i + 1);
  EXPECT_EQ(service->state_version(), 6u);
}

TEST_F(DirectService, StoreRefusesADatabaseFromANewerSchema) {
  store.reset();
  service.reset();
  { SessionStore newer(dir / "newer.db"); }
  // What a future mp-session would leave behind.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir / "newer.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  EXPECT_THROW(SessionStore(dir / "newer.db"), std::runtime_error);
}

TEST_F(DirectService, TheUpgradeDropsStationsTheOldRdpStoredWithoutALogon) {
  store.reset();
  service.reset();
  { SessionStore fresh(dir / "old.db"); }
  // What schema 3 left behind: mp-rdp stored a station for every connection, before any
  // password was checked.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir / "old.db").c_str(), &db), SQLITE_OK);
  const char* to_version_3 = R"sql(
    ALTER TABLE stations DROP COLUMN admitted;
    ALTER TABLE stations DROP COLUMN logged_on;
    ALTER TABLE sessions DROP COLUMN moved_from;
    ALTER TABLE sessions DROP COLUMN moved_at_ns;
    ALTER TABLE users DROP COLUMN password_changed_at_ns;
    DELETE FROM meta WHERE key = 'allow_new_stations';
    INSERT INTO stations (key, name, transport, state, client_name, address, video, keyboard,
      mouse, audio, usb_storage, width, height, attached_at_ns, session_id, showing) VALUES
      ('rdp:junk-1', 'rdp:junk-1', 'rdp', 2, 'junk-1', '192.0.2.7', 1, 1, 1, 0, 0, 800, 600, 1, 0, ''),
      ('rdp:junk-2', 'rdp:junk-2', 'rdp', 2, 'junk-2', '192.0.2.7', 1, 1, 1, 0, 0, 800, 600, 1, 0, ''),
      ('rdp:used', 'rdp:used', 'rdp', 2, 'used', '192.0.2.8', 1, 1, 1, 0, 0, 800, 600, 1, 0, ''),
      ('rdp:named', 'Front row', 'rdp', 2, 'named', '192.0.2.9', 1, 1, 1, 0, 0, 800, 600, 1, 0, ''),
      ('fake:idle', 'fake:idle', 'fake', 2, 'idle', '', 1, 1, 1, 0, 0, 800, 600, 1, 0, '');
    INSERT INTO sessions (station_key, user_name, display, state, started_at_ns, ended_at_ns,
      unix_user) VALUES ('rdp:used', 'alice', ':10', 3, 1, 2, 'alice');
    PRAGMA user_version = 3;
  )sql";
  char* error = nullptr;
  ASSERT_EQ(sqlite3_exec(db, to_version_3, nullptr, nullptr, &error), SQLITE_OK) << error;
  sqlite3_close(db);

  SessionStore upgraded(dir / "old.db");
  std::map<std::string, Station> stations;
  for (auto& station : upgraded.stations()) stations[station.key] = station;
  EXPECT_FALSE(stations.contains("rdp:junk-1"));
  EXPECT_FALSE(stations.contains("rdp:junk-2"));
  ASSERT_TRUE(stations.contains("rdp:used"));
  EXPECT_TRUE(stations.at("rdp:used").logged_on);
  EXPECT_TRUE(stations.at("rdp:used").admitted);
  ASSERT_TRUE(stations.contains("rdp:named")) << "an operator named it";
  EXPECT_TRUE(stations.at("rdp:named").admitted);
  ASSERT_TRUE(stations.contains("fake:idle")) << "a station of hardware, not of a connection";
  EXPECT_FALSE(stations.at("fake:idle").admitted);
  EXPECT_TRUE(upgraded.allow_new_stations());
}

TEST(PasswordHasher, VerifiesOnlyTheRightPassword) {
  PasswordHasher hasher(PasswordCost::minimum());
  std::string hash = hasher.hash("correct horse");
  EXPECT_TRUE(hash.starts_with("$argon2id$"));
  EXPECT_TRUE(hasher.verify(hash, "correct horse"));
  EXPECT_FALSE(hasher.verify(hash, "correct horse "));
  EXPECT_FALSE(hasher.verify("not a hash", "correct horse"));
  EXPECT_FALSE(hasher.verify(std::string(1000, '$'), "correct horse"));
  EXPECT_FALSE(hasher.verify_decoy("correct horse"));
}

TEST(Validation, StationKeysUserNamesAndNames) {
  EXPECT_EQ(check_station_key("video:card0-HDMI-A-1"), "");
  EXPECT_EQ(check_station_key("rdp:user@host/x_y.z"), "");
  EXPECT_NE(check_station_key(""), "");
  EXPECT_NE(check_station_key(std::string(129, 'a')), "");
  EXPECT_NE(check_station_key("a b"), "");
  EXPECT_NE(check_station_key("a\xc3\xa4"), "");

  EXPECT_EQ(check_user_name("_svc-1"), "");
  EXPECT_EQ(check_user_name(std::string(32, 'a')), "");
  EXPECT_NE(check_user_name(std::string(33, 'a')), "");
  EXPECT_NE(check_user_name("-a"), "");
  EXPECT_NE(check_user_name(""), "");
  EXPECT_NE(check_user_name("a.b"), "");

  EXPECT_EQ(check_station_name("\xe6\x95\x99\xe5\xae\xa4 1"), "");  // CJK
  EXPECT_NE(check_station_name("\xc0\xaf"), "");                    // overlong '/'
  EXPECT_NE(check_station_name("\xed\xa0\x80"), "");                // a surrogate
  EXPECT_NE(check_station_name("\xc2\x85"), "");                    // C1 control NEL
  EXPECT_NE(check_station_name("x\x7f"), "");

  EXPECT_EQ(check_new_password(std::string(8, 'p')), "");
  EXPECT_EQ(check_new_password(std::string(1024, 'p')), "");
  EXPECT_NE(check_new_password(std::string(7, 'p')), "");
  EXPECT_NE(check_new_password(std::string(1025, 'p')), "");
}

}  // namespace
}  // namespace mp::session
