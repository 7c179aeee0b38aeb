// mp-policy as a real process on a real mp-bus, following a stand-in for mp-session (its
// snapshot in pages of two records, its numbered updates): a session that moves to another
// station takes the block of the first along; what was carried survives kill -9; a move made
// while mp-policy was down still carries; a station not admitted is under "new stations".
#include <gtest/gtest.h>
#include <signal.h>

#include <map>

#include "policy_fixture.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace mp::policy {
namespace {

using namespace std::chrono_literals;
using mp::test::bin_dir;
using mp::test::ChildProcess;

// mp-session's state as far as mp-policy reads it, served like mp-session serves it.
struct SessionAuthority {
  struct Session {
    std::string station, moved_from;
    std::int64_t moved_at_ns = 0;
  };
  std::map<std::string, bool> stations;  // key -> admitted
  std::map<std::uint64_t, Session> sessions;
  std::uint64_t version = 1;
  std::size_t pages_served = 0;
  mp::bus::Client* client = nullptr;

  bool serve(const mp::bus::Incoming& request, Envelope::Builder reply) {
    if (!request.envelope().isSnapshotRequest()) return false;
    // Records in order: stations, then sessions; cursor = the index of the next record.
    std::string cursor = request.envelope().getSnapshotRequest().getCursor();
    std::size_t from = cursor.empty() ? 0 : std::stoul(cursor);
    std::size_t total = stations.size() + sessions.size(), to = std::min(total, from + 2);
    auto out = reply.initSessionSnapshot();
    out.initInfo().setTopic("session");
    out.getInfo().setVersion(version);
    if (to < total) out.getInfo().setNextCursor(std::to_string(to));
    std::size_t station_count = 0, session_count = 0;
    for (std::size_t i = from; i < to; ++i) (i < stations.size() ? station_count : session_count)++;
    auto station_list = out.initStations(static_cast<unsigned>(station_count));
    auto session_list = out.initSessions(static_cast<unsigned>(session_count));
    std::size_t i = 0;
    unsigned s = 0, r = 0;
    for (const auto& [key, admitted] : stations) {
      if (i >= from && i < to) {
        station_list[s].setKey(key);
        station_list[s++].setAdmitted(admitted);
      }
      ++i;
    }
    for (const auto& [id, session] : sessions) {
      if (i >= from && i < to) fill(session_list[r++], id, session);
      ++i;
    }
    ++pages_served;
    return true;
  }
  static void fill(mp::schema::SessionRecord::Builder out, std::uint64_t id,
                   const Session& session) {
    out.setId(id);
    out.setStationKey(session.station);
    out.setState(mp::schema::SessionState::ACTIVE);
    out.setMovedFrom(session.moved_from);
    out.setMovedAtNs(session.moved_at_ns);
  }
  // A move as mp-session publishes it (the record, whole).
  void move(std::uint64_t id, const std::string& to, std::int64_t at_ns, bool publish) {
    Session& session = sessions[id];
    session.moved_from = session.station;
    session.station = to;
    session.moved_at_ns = at_ns;
    ++version;
    if (!publish) return;
    client->publish(
        "session.session",
        [&](Envelope::Builder e) { fill(e.initSessionUpdate().initSession(), id, session); },
        version);
  }
};

class PolicyMovesProcess : public ::testing::Test {
 protected:
  void SetUp() override {
    bus_process = std::make_unique<ChildProcess>(
        bin_dir() / "mp-bus", std::vector<std::string>{"--runtime-dir", runtime.string()},
        ChildProcess::Options{.output_file = dir / "bus.log"});
    ASSERT_TRUE(
        mp::test::eventually([&] { return std::filesystem::exists(runtime / "requests"); }, 10s));
    auto endpoints = mp::bus::Endpoints::in_directory(runtime);
    session = std::make_unique<mp::bus::Client>(context, reactor, endpoints,
                                                mp::bus::ClientOptions{.service = "session"});
    authority.client = session.get();
    authority.stations = {{"rdp:a", true}, {"rdp:b", true}, {"rdp:c", true}, {"rdp:new", false}};
    authority.sessions[1] = {"rdp:a", "", 0};
    authority.sessions[2] = {"rdp:new", "", 0};
    session->serve([this](const mp::bus::Incoming& request, Envelope::Builder reply) {
      return authority.serve(request, reply);
    });
    caller = std::make_unique<mp::bus::Client>(
        context, reactor, endpoints,
        mp::bus::ClientOptions{.service = "test", .operator_name = "teacher"});
    start_policy();
    ASSERT_TRUE(wait_for([&] { return effective("rdp:new").has_value(); }, 15s)) << logs();
  }

  void start_policy() {
    policy_process = std::make_unique<ChildProcess>(
        bin_dir() / "mp-policy",
        std::vector<std::string>{"--runtime-dir", runtime.string(), "--state-dir",
                                 (dir / "state").string()},
        ChildProcess::Options{.output_file = dir / "policy.log"});
  }

  std::string logs() { return "--- policy ---\n" + mp::test::read_file(dir / "policy.log"); }

  // Runs the reactor meanwhile: the stand-in for mp-session answers mp-policy from it.
  bool wait_for(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (condition()) return true;
      reactor.run_until([] { return false; }, 50ms);
    }
    return condition();
  }

  Reply call(const Build& body, const std::string& key = {}) {
    return caller->call(kServiceName, body,
                        mp::bus::RequestOptions{.deadline = 3s, .idempotency_key = key});
  }

  // A station's effective policy from mp-policy's paged snapshot.
  std::optional<Effective> effective(const std::string& station) {
    std::string cursor;
    for (;;) {
      Reply reply = call(snapshot_request("policy", cursor));
      if (!reply.ok() || !reply.envelope().isPolicySnapshot()) return std::nullopt;
      auto snap = reply.envelope().getPolicySnapshot();
      for (auto e : snap.getEffective()) {
        if (std::string(e.getStationKey()) == station) return from_wire(e);
      }
      cursor = snap.getInfo().getNextCursor();
      if (cursor.empty()) return std::nullopt;
    }
  }
  bool blocked(const std::string& station, const std::string& source) {
    auto e = effective(station);
    return e && e->blocked && e->block_source == source;
  }

  mp::test::TempDir dir{"mp-pm"};
  std::filesystem::path runtime = dir / "run";
  std::unique_ptr<ChildProcess> bus_process;
  std::unique_ptr<ChildProcess> policy_process;
  zmq::context_t context;
  mp::bus::Reactor reactor;
  SessionAuthority authority;
  std::unique_ptr<mp::bus::Client> session;
  std::unique_ptr<mp::bus::Client> caller;
};

TEST_F(PolicyMovesProcess, BlockFollowsAMovedSessionAcrossAPolicyRestart) {
  EXPECT_GT(authority.pages_served, 2u) << "mp-session's snapshot was read page by page";
  ASSERT_TRUE(call(set_block(new_stations(), true, "Ask to be admitted"), "k1").ok());
  ASSERT_TRUE(call(set_block(station("rdp:a"), true, "Eyes on me"), "k2").ok());
  EXPECT_TRUE(blocked("rdp:new", "new-stations"));
  EXPECT_FALSE(effective("rdp:b")->blocked);

  // Session 1 reconnects under another client name: it lands on rdp:b.
  authority.move(1, "rdp:b", 1000, /*publish=*/true);
  ASSERT_TRUE(wait_for([&] { return blocked("rdp:b", "carried from station:rdp:a"); }, 10s))
      << logs();

  // mp-policy dies; meanwhile session 2 leaves the new station for rdp:c.
  policy_process->signal(SIGKILL);
  ASSERT_TRUE(policy_process->wait(5s));
  authority.move(2, "rdp:c", 2000, /*publish=*/true);  // nobody hears it
  start_policy();
  ASSERT_TRUE(wait_for([&] { return blocked("rdp:c", "carried from station:rdp:new"); }, 15s))
      << "a move made while mp-policy was down carries what the origin has in force\n"
      << logs();
  EXPECT_TRUE(blocked("rdp:b", "carried from station:rdp:a")) << "kept across kill -9";

  // The teacher unblocks rdp:a: lifted; blocking it again does not follow the session.
  ASSERT_TRUE(call(set_block(station("rdp:a"), false), "k3").ok());
  EXPECT_FALSE(effective("rdp:b")->blocked);
  ASSERT_TRUE(call(set_block(station("rdp:a"), true, "again"), "k4").ok());
  EXPECT_FALSE(effective("rdp:b")->blocked);
  EXPECT_TRUE(effective("rdp:c")->blocked);
  EXPECT_EQ(policy_process->stop(), 0);
}

}  // namespace
}  // namespace mp::policy
