// mp-session as a real process on a real mp-bus: kill -9 loses nothing.
#include <gtest/gtest.h>
#include <signal.h>

#include <sys/stat.h>

#include "desktop_probe.h"
#include "mp/bus/client.h"
#include "session_fixture.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace mp::session {
namespace {

using namespace std::chrono_literals;
using mp::test::bin_dir;
using mp::test::ChildProcess;

TEST(SessionProcess, StateSurvivesKill9) {
  mp::test::TempDir dir("mp-sp");
  chmod(dir.path().c_str(), 0711);  // the session's user reaches its session directory
  auto runtime = dir / "run";
  auto state = dir / "state";
  auto sessions = dir / "sessions";
  const std::string user = test::unique_user('k');
  ChildProcess broker(bin_dir() / "mp-bus", {"--runtime-dir", runtime.string()},
                      {.output_file = dir / "bus.log"});
  auto start_session = [&] {
    return std::make_unique<ChildProcess>(
        bin_dir() / "mp-session",
        std::vector<std::string>{"--runtime-dir", runtime.string(), "--state-dir", state.string(),
                                 "--sessions-dir", sessions.string(), "--first-display", "490",
                                 "--session-command", "/usr/bin/xterm"},
        ChildProcess::Options{.output_file = dir / "session.log"});
  };
  auto session = start_session();

  zmq::context_t context;
  mp::bus::Reactor reactor;
  mp::bus::Client caller(context, reactor, mp::bus::Endpoints::in_directory(runtime),
                         mp::bus::ClientOptions{.service = "test"});
  auto call = [&](const mp::bus::Build& body, const std::string& key = {}) {
    return caller.call(kServiceName, body,
                       mp::bus::RequestOptions{.deadline = 3s, .idempotency_key = key});
  };
  auto answers = [&] { return call(snapshot_request()).ok(); };
  ASSERT_TRUE(mp::test::eventually(answers, 15s)) << mp::test::read_file(dir / "session.log");

  // Whatever happens below, log off and remove the Linux account made for the user.
  struct Cleanup {
    std::function<void()> run;
    ~Cleanup() { run(); }
  } cleanup{[&] {
    session.reset();
    mp::test::run(bin_dir() / "mp-session", {"--end-all-sessions", "--state-dir", state.string(),
                                             "--sessions-dir", sessions.string()});
    test::delete_linux_account(user);
  }};
  ASSERT_TRUE(call(add_user(user, "alice-password"), "k1").ok());
  ASSERT_TRUE(call(attach({.key = "rdp:lab-1", .transport = "rdp"}), "k2").ok());
  ASSERT_TRUE(call(attach({.key = "rdp:lab-2", .transport = "rdp"}), "k3").ok());
  Reply logon = call(credentials("rdp:lab-1", user, "alice-password"), "k4");
  ASSERT_TRUE(logon.ok() && logon.envelope().getLogonResult().getOk()) << body_text(logon);
  ASSERT_TRUE(call(rename("rdp:lab-2", "Back row"), "k5").ok());
  // The agent connects a moment after the logon and that changes the state (agentUp): take the
  // picture only once the state has settled, or a slow machine compares two different moments.
  auto agent_up = [&] {
    Reply now = call(snapshot_request());
    return now.ok() && body_text(now).find("agentUp = true") != std::string::npos;
  };
  ASSERT_TRUE(mp::test::eventually(agent_up, 15s)) << mp::test::read_file(dir / "session.log");
  Reply before = call(snapshot_request());
  ASSERT_TRUE(before.ok());

  session->signal(SIGKILL);
  ASSERT_TRUE(session->wait(5s));
  session = start_session();
  ASSERT_TRUE(mp::test::eventually(answers, 15s)) << mp::test::read_file(dir / "session.log");

  Reply after = call(snapshot_request());
  EXPECT_EQ(body_text(after), body_text(before));
  // A retry of an applied request, sent to the new incarnation, is not applied again.
  Reply retry = call(attach({.key = "rdp:lab-2", .transport = "rdp", .client_name = "x"}), "k3");
  ASSERT_TRUE(retry.ok()) << body_text(retry);
  EXPECT_EQ(body_text(call(snapshot_request())), body_text(before));
  EXPECT_NE(mp::test::read_file(dir / "session.log").find("restart:"), std::string::npos);
  EXPECT_EQ(session->stop(), 0);
  session.reset();
}

}  // namespace
}  // namespace mp::session
