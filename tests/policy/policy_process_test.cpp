// mp-policy as a real process with real mp-bus and mp-session: kill -9 loses nothing, versions
// continue, and stations attached in mp-session get the all-stations policy.
#include <gtest/gtest.h>
#include <signal.h>

#include "policy_fixture.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace mp::policy {
namespace {

using namespace std::chrono_literals;
using mp::test::bin_dir;
using mp::test::ChildProcess;

Build attach(std::string key) {
  return [key](Envelope::Builder e) {
    auto info = e.initStationAttach().initStation();
    info.setKey(key);
    info.setTransport("fake");
    info.setClientName("client");
    info.setAddress("192.0.2.1");
  };
}

class PolicyProcess : public ::testing::Test {
 protected:
  void SetUp() override {
    bus_process = std::make_unique<ChildProcess>(
        bin_dir() / "mp-bus", std::vector<std::string>{"--runtime-dir", runtime.string()},
        ChildProcess::Options{.output_file = dir / "bus.log"});
    session_process = std::make_unique<ChildProcess>(
        bin_dir() / "mp-session",
        std::vector<std::string>{"--runtime-dir", runtime.string(), "--state-dir",
                                 (dir / "state").string()},
        ChildProcess::Options{.output_file = dir / "session.log"});
    start_policy();
    caller = std::make_unique<mp::bus::Client>(
        context, reactor, mp::bus::Endpoints::in_directory(runtime),
        mp::bus::ClientOptions{.service = "test", .operator_name = "teacher"});
    ASSERT_TRUE(mp::test::eventually([&] { return snapshot().has_value(); }, 15s)) << logs();
    auto session_answers = [&] {
      return call("session", [](Envelope::Builder e) { e.initStationListRequest(); }).ok();
    };
    ASSERT_TRUE(mp::test::eventually(session_answers, 15s)) << logs();
  }

  void start_policy() {
    policy_process = std::make_unique<ChildProcess>(
        bin_dir() / "mp-policy",
        std::vector<std::string>{"--runtime-dir", runtime.string(), "--state-dir",
                                 (dir / "state").string()},
        ChildProcess::Options{.output_file = dir / "policy.log"});
  }

  std::string logs() {
    return "--- policy ---\n" + mp::test::read_file(dir / "policy.log") + "--- session ---\n" +
           mp::test::read_file(dir / "session.log");
  }

  Reply call(std::string_view service, const Build& body, const std::string& key = {}) {
    return caller->call(service, body,
                        mp::bus::RequestOptions{.deadline = 3s, .idempotency_key = key});
  }

  struct Snapshot {
    std::uint64_t version = 0;
    std::map<std::string, Effective> effective;
  };
  std::optional<Snapshot> snapshot() {
    Reply reply = call(kServiceName, snapshot_request());
    if (!reply.ok() || !reply.envelope().isPolicySnapshot()) return std::nullopt;
    Snapshot out;
    out.version = reply.envelope().getPolicySnapshot().getInfo().getVersion();
    for (auto e : reply.envelope().getPolicySnapshot().getEffective()) {
      Effective effective = from_wire(e);
      effective.domains = fetch_domain_list(
          [this](const Build& b) { return call(kServiceName, b); }, e.getDomainList().getKey());
      out.effective[e.getStationKey()] = std::move(effective);
    }
    return out;
  }

  mp::test::TempDir dir{"mp-pp"};
  std::filesystem::path runtime = dir / "run";
  std::unique_ptr<ChildProcess> bus_process;
  std::unique_ptr<ChildProcess> session_process;
  std::unique_ptr<ChildProcess> policy_process;
  zmq::context_t context;
  mp::bus::Reactor reactor;
  std::unique_ptr<mp::bus::Client> caller;
};

TEST_F(PolicyProcess, BlockSurvivesPolicyRestart) {
  ASSERT_TRUE(call("session", attach("rdp:lab-1"), "a1").ok());
  ASSERT_TRUE(mp::test::eventually(
      [&] {
        auto snap = snapshot();
        return snap && snap->effective.contains("rdp:lab-1");
      },
      10s))
      << logs();
  ASSERT_TRUE(call(kServiceName, set_block(all(), true, "Pens down"), "b1").ok());
  ASSERT_TRUE(call(kServiceName, set_usb(station("rdp:lab-1"), true), "b2").ok());
  auto before = snapshot();
  ASSERT_TRUE(before);
  ASSERT_TRUE(before->effective.at("rdp:lab-1").blocked);

  policy_process->signal(SIGKILL);
  ASSERT_TRUE(policy_process->wait(5s));
  start_policy();
  std::optional<Snapshot> after;
  ASSERT_TRUE(mp::test::eventually([&] { return (after = snapshot()).has_value(); }, 15s))
      << logs();
  EXPECT_EQ(after->version, before->version);
  EXPECT_EQ(after->effective, before->effective);
  EXPECT_NE(mp::test::read_file(dir / "policy.log").find("restart:"), std::string::npos);

  // A retry of an applied request is not applied again; a new change continues the versions.
  ASSERT_TRUE(call(kServiceName, set_block(all(), true, "Pens down"), "b1").ok());
  EXPECT_EQ(snapshot()->version, before->version);
  ASSERT_TRUE(call(kServiceName, set_block(all(), false), "b3").ok());
  auto unblocked = snapshot();
  EXPECT_EQ(unblocked->version, before->version + 2);  // "" and rdp:lab-1
  EXPECT_FALSE(unblocked->effective.at("rdp:lab-1").blocked);

  Reply audit = call(kServiceName, audit_query());
  ASSERT_TRUE(audit.ok());
  auto entries = audit.envelope().getAuditLog().getEntries();
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(std::string(entries[0].getOperator()), "teacher");
  EXPECT_EQ(policy_process->stop(), 0);
}

TEST_F(PolicyProcess, NewStationGetsAllStationsPolicy) {
  ASSERT_TRUE(call(kServiceName, set_block(all(), true, "Look at the board"), "k1").ok());
  ASSERT_TRUE(
      call(kServiceName, edit_list(all(), mp::schema::WebList::BLOCK, {"Games.Example"}), "k2")
          .ok());
  ASSERT_TRUE(call(kServiceName, set_web_mode(all(), mp::schema::WebMode::BLOCK_ONLY), "k3").ok());

  ASSERT_TRUE(call("session", attach("rdp:late"), "a1").ok());
  ASSERT_TRUE(mp::test::eventually(
      [&] {
        auto snap = snapshot();
        return snap && snap->effective.contains("rdp:late");
      },
      15s))
      << logs();
  Effective late = snapshot()->effective.at("rdp:late");
  EXPECT_TRUE(late.blocked);
  EXPECT_EQ(late.block_message, "Look at the board");
  EXPECT_EQ(late.block_source, "all");
  EXPECT_EQ(late.web_mode, mp::schema::WebMode::BLOCK_ONLY);
  EXPECT_EQ(late.domains, std::vector<std::string>{"games.example"});
}

TEST_F(PolicyProcess, SecondInstanceOnTheSameStateRefuses) {
  ChildProcess second(bin_dir() / "mp-policy",
                      {"--runtime-dir", runtime.string(), "--state-dir", (dir / "state").string()},
                      ChildProcess::Options{.output_file = dir / "second.log"});
  EXPECT_EQ(second.wait(10s), std::optional<int>(1));
  EXPECT_NE(mp::test::read_file(dir / "second.log").find("another mp-policy"), std::string::npos);
}

}  // namespace
}  // namespace mp::policy
