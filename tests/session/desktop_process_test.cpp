// Real desktops: mp-session as a real process on a real mp-bus starts real Xvfb displays, xterm
// as the session command and the real mp-agent, as a Linux user it created (as root) or as the
// invoking user (not root). Every test uses its own display range and logs everyone off at the
// end with `mp-session --end-all-sessions`.
#include <gtest/gtest.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <thread>

#include "desktop_host.h"
#include "desktop_probe.h"
#include "mp/bus/client.h"
#include "session_fixture.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace mp::session {
namespace {

using namespace std::chrono_literals;
using mp::schema::SessionState;
using mp::test::bin_dir;
using mp::test::ChildProcess;
using mp::test::eventually;
using mp::test::read_file;
using namespace mp::session::test;

uid_t expected_uid(const std::string& unix_user) {
  if (geteuid() != 0) return getuid();
  passwd* entry = getpwnam(unix_user.c_str());
  return entry ? entry->pw_uid : 0;
}

TEST(DesktopProcess, LogonDisconnectRestartAgentKillAndLogoff) {
  if (!tools_present()) GTEST_SKIP() << "needs Xvfb, xterm, xdpyinfo and xwininfo";
  if (geteuid() != 0) {
    std::printf("not root: sessions run as the invoking user; account checks skipped\n");
  }
  DesktopHost host(460, false);
  ASSERT_TRUE(eventually([&] { return host.answers(); }, 15s)) << host.log();
  std::string user = unique_user('a');
  host.add(user);
  if (geteuid() == 0) {
    passwd* entry = getpwnam(user.c_str());
    ASSERT_NE(entry, nullptr) << "mp-session made no Linux account";
    EXPECT_STREQ(entry->pw_gecos, "multipoint user");
    EXPECT_NE(entry->pw_uid, 0u);
  }
  ASSERT_TRUE(host.call(attach({.key = "rdp:desk-1", .transport = "rdp"})).ok());

  // Logon: a display that accepts the session's cookie and nothing else.
  Logon session = logon(host, "rdp:desk-1", user);
  ASSERT_NE(session.id, 0u);
  EXPECT_EQ(session.width, 1280);
  EXPECT_EQ(session.height, 720);
  EXPECT_EQ(session.unix_user, geteuid() == 0 ? user : std::string(getpwuid(getuid())->pw_name));
  EXPECT_TRUE(display_accepts(session.display, session.xauthority)) << host.log();
  EXPECT_FALSE(display_accepts(session.display, "/dev/null")) << "a client without the cookie";

  // The session command and the agent run as the user, never as root.
  uid_t uid = expected_uid(session.unix_user);
  ASSERT_TRUE(eventually(
      [&] {
        return program_on_display(session.display, "xterm") != 0 && host.agent_up(session.id);
      },
      15s))
      << host.log();
  // xterm, the shell it starts, and mp-agent, once the shell's start-up helpers are done.
  std::set<pid_t> desktop;
  ASSERT_TRUE(eventually(
      [&] {
        std::set<pid_t> first = processes_on_display(session.display);
        std::this_thread::sleep_for(400ms);
        desktop = processes_on_display(session.display);
        return desktop.size() >= 3 && first == desktop;
      },
      10s));
  for (pid_t pid : desktop) {
    EXPECT_EQ(uid_of(pid), uid) << "pid " << pid;
    if (geteuid() == 0) {
      EXPECT_NE(uid_of(pid), 0u) << "pid " << pid << " runs as root";
    }
  }
  pid_t xvfb = find_process("Xvfb", session.display);
  ASSERT_NE(xvfb, 0);
  EXPECT_EQ(uid_of(xvfb), uid);

  // Disconnect and reconnect: the same session, display and processes.
  ASSERT_TRUE(host.call(detach("rdp:desk-1")).ok());
  ASSERT_TRUE(host.call(attach({.key = "rdp:desk-1", .transport = "rdp"})).ok());
  Logon again = logon(host, "rdp:desk-1", user);
  EXPECT_EQ(again.id, session.id);
  EXPECT_EQ(again.display, session.display);
  EXPECT_EQ(processes_on_display(session.display), desktop);
  EXPECT_EQ(find_process("Xvfb", session.display), xvfb);

  // kill -9 of mp-session: the desktop keeps running; the next one adopts it unchanged.
  Reply before = host.call(snapshot_request());
  ASSERT_TRUE(before.ok());
  host.session->signal(SIGKILL);
  ASSERT_TRUE(host.session->wait(5s));
  EXPECT_TRUE(alive(xvfb));
  EXPECT_EQ(processes_on_display(session.display), desktop);
  host.start_session();
  ASSERT_TRUE(eventually([&] { return host.answers(); }, 15s)) << host.log();
  // The agent reconnects by itself; give it time to prove it (the record says up meanwhile).
  mp::test::eventually([] { return false; }, 1500ms);
  EXPECT_EQ(body_text(host.call(snapshot_request())), body_text(before)) << host.log();
  EXPECT_NE(host.log().find("adopted the desktop"), std::string::npos) << host.log();
  EXPECT_TRUE(display_accepts(session.display, session.xauthority));

  // kill -9 of the agent: restarted at once, and up again.
  pid_t agent = program_on_display(session.display, "mp-agent");
  ASSERT_NE(agent, 0);
  kill(agent, SIGKILL);
  ASSERT_TRUE(eventually(
      [&] {
        pid_t now = program_on_display(session.display, "mp-agent");
        return now != 0 && now != agent && host.agent_up(session.id);
      },
      10s))
      << host.log();
  EXPECT_NE(host.log().find("agent exited; restarting in 0 ms"), std::string::npos);

  // mpctl: the session list, an instant message to the running agent, bad usage, no bus.
  auto mpctl = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--runtime-dir", host.runtime()});
    return mp::test::run(bin_dir() / "mpctl", args);
  };
  auto listed = mpctl({"sessions", "--json"});
  EXPECT_EQ(listed.exit_code, 0) << listed.output;
  EXPECT_NE(listed.output.find("\"display\": \"" + session.display + "\""), std::string::npos)
      << listed.output;
  EXPECT_NE(listed.output.find("\"agent_up\": true"), std::string::npos) << listed.output;
  auto sent = mpctl({"message", "rdp:desk-1", "Please save your work"});
  EXPECT_EQ(sent.exit_code, 0) << sent.output;
  EXPECT_NE(sent.output.find("rdp:desk-1: sent (message "), std::string::npos) << sent.output;
  auto nobody = mpctl({"message", "rdp:nowhere", "hello"});
  EXPECT_EQ(nobody.exit_code, 1) << nobody.output;
  EXPECT_NE(nobody.output.find("not sent: no such station"), std::string::npos);
  EXPECT_EQ(mpctl({"message", "rdp:desk-1"}).exit_code, 2) << "no text";
  EXPECT_EQ(mp::test::run(bin_dir() / "mpctl",
                          {"--runtime-dir", (host.dir / "no-bus").string(), "sessions"})
                .exit_code,
            3);

  // Log off by station (mpctl logoff): every process of the desktop and the display go.
  std::set<pid_t> last = processes_on_display(session.display);
  auto off = mpctl({"logoff", "rdp:desk-1"});
  ASSERT_EQ(off.exit_code, 0) << off.output << host.log();
  EXPECT_EQ(mpctl({"logoff", "rdp:desk-1"}).exit_code, 1) << "no session there any more";
  ASSERT_TRUE(eventually(
      [&] {
        if (alive(xvfb)) return false;
        for (pid_t pid : last) {
          if (alive(pid)) return false;
        }
        return true;
      },
      10s))
      << host.log();
  EXPECT_FALSE(display_accepts(session.display, session.xauthority));
  Reply list = host.call([](Envelope::Builder e) { e.initSessionListRequest(); });
  EXPECT_FALSE(host.session_of(list, session.id).has_value());
  EXPECT_EQ(host.session->stop(), 0);
}

TEST(DesktopProcess, SigtermLeavesDesktopsAndSessionEndsWithItsCommand) {
  if (!tools_present()) GTEST_SKIP() << "needs Xvfb, xterm, xdpyinfo and xwininfo";
  DesktopHost host(470, false);
  ASSERT_TRUE(eventually([&] { return host.answers(); }, 15s)) << host.log();
  std::string user = unique_user('b');
  host.add(user);
  ASSERT_TRUE(host.call(attach({.key = "rdp:desk-2", .transport = "rdp"})).ok());
  Logon session = logon(host, "rdp:desk-2", user);
  ASSERT_NE(session.id, 0u);
  pid_t xvfb = find_process("Xvfb", session.display);
  ASSERT_NE(xvfb, 0);

  // SIGTERM (an operator restarting the service) logs nobody off.
  EXPECT_EQ(host.session->stop(), 0);
  EXPECT_TRUE(alive(xvfb));
  EXPECT_TRUE(display_accepts(session.display, session.xauthority));
  host.start_session();
  ASSERT_TRUE(eventually([&] { return host.answers(); }, 15s)) << host.log();
  Reply list = host.call([](Envelope::Builder e) { e.initSessionListRequest(); });
  ASSERT_TRUE(host.session_of(list, session.id).has_value()) << host.log();

  // The student closes the session command (logs off from inside): the session ends.
  pid_t xterm = program_on_display(session.display, "xterm");
  ASSERT_NE(xterm, 0);
  kill(xterm, SIGTERM);
  ASSERT_TRUE(eventually(
      [&] {
        Reply now = host.call([](Envelope::Builder e) { e.initSessionListRequest(); });
        return now.ok() && !host.session_of(now, session.id) && !alive(xvfb);
      },
      10s))
      << host.log();
}

TEST(DesktopProcess, BlockedStationShowsTheLockAgainAfterTheAgentIsKilled) {
  if (!tools_present()) GTEST_SKIP() << "needs Xvfb, xterm, xdpyinfo and xwininfo";
  DesktopHost host(480, true);
  ASSERT_TRUE(eventually([&] { return host.answers(); }, 15s)) << host.log();
  std::string user = unique_user('c');
  host.add(user);
  ASSERT_TRUE(host.call(attach({.key = "rdp:desk-3", .transport = "rdp"})).ok());
  Logon session = logon(host, "rdp:desk-3", user);
  ASSERT_NE(session.id, 0u);
  ASSERT_TRUE(eventually([&] { return host.agent_up(session.id); }, 15s)) << host.log();
  EXPECT_FALSE(window_viewable(session.display, session.xauthority, "Locked"));

  // The real mp-policy blocks the station; mp-session relays it to the agent.
  auto block = [](Envelope::Builder e) {
    auto body = e.initSetBlock();
    body.initScope().setStation("rdp:desk-3");
    body.setBlocked(true);
    body.setMessage("Eyes on the teacher");
  };
  Reply blocked;
  ASSERT_TRUE(eventually(
      [&] {
        blocked = host.caller->call(
            "policy", block, mp::bus::RequestOptions{.deadline = 5s, .idempotency_key = "block-3"});
        return blocked.ok();
      },
      15s))
      << body_text(blocked) << read_file(host.dir / "policy.log");
  ASSERT_TRUE(eventually(
      [&] { return window_viewable(session.display, session.xauthority, "Locked"); }, 10s))
      << host.log();

  // kill -9 of the agent: its successor gets locked=true and shows the lock again.
  pid_t agent = program_on_display(session.display, "mp-agent");
  ASSERT_NE(agent, 0);
  kill(agent, SIGKILL);
  ASSERT_TRUE(eventually([&] { return !alive(agent); }, 5s));
  auto killed_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(eventually(
      [&] { return window_viewable(session.display, session.xauthority, "Locked"); }, 10s))
      << host.log();
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - killed_at);
  std::printf("lock shown again %lld ms after the agent was killed\n",
              static_cast<long long>(took.count()));
  EXPECT_NE(program_on_display(session.display, "mp-agent"), agent);
}

// An application by name from the administrator's list: it starts on the session's display as
// the session's user, and closing it ends that program only (the desktop's own xterm stays).
TEST(DesktopProcess, LaunchedApplicationRunsAsTheUserAndClosesAlone) {
  if (!tools_present()) GTEST_SKIP() << "needs Xvfb, xterm, xdpyinfo and xwininfo";
  DesktopHost host(520, false);
  // No shell inside (a user's bash would retitle the window with its prompt).
  std::ofstream(host.dir / "apps.json") << R"({"apps": [{"name": "Second terminal",
                        "command": ["/usr/bin/xterm", "-title", "mp-launched",
                                    "-e", "/bin/sleep", "600"]}]})";
  host.session_args = {"--apps", (host.dir / "apps.json").string()};
  host.restart_session();
  ASSERT_TRUE(eventually([&] { return host.answers(); }, 15s)) << host.log();
  std::string user = unique_user('d');
  host.add(user);
  ASSERT_TRUE(host.call(attach({.key = "rdp:desk-5", .transport = "rdp"})).ok());
  Logon session = logon(host, "rdp:desk-5", user);
  ASSERT_NE(session.id, 0u);
  ASSERT_TRUE(eventually([&] { return host.agent_up(session.id); }, 15s)) << host.log();
  pid_t desktop = program_on_display(session.display, "xterm");
  ASSERT_NE(desktop, 0);

  auto results = [](const Reply& reply) {
    std::vector<std::string> out;
    if (!reply.ok() || !reply.envelope().isStationResults()) return out;
    for (auto r : reply.envelope().getStationResults().getResults()) {
      out.push_back(std::string(r.getStationKey().cStr()) + ":" +
                    (r.getOk() ? "ok" : r.getReason().cStr()));
    }
    return out;
  };
  Reply launched = host.call(
      [](Envelope::Builder e) {
        auto body = e.initAppLaunch();
        body.setApp("Second terminal");
        body.initStations(1).set(0, "rdp:desk-5");
      },
      "launch-1");
  ASSERT_EQ(results(launched), std::vector<std::string>{"rdp:desk-5:ok"}) << body_text(launched);
  ASSERT_TRUE(eventually(
      [&] { return window_viewable(session.display, session.xauthority, "mp-launched"); }, 10s))
      << host.log();
  pid_t app = find_process("xterm", "mp-launched");
  ASSERT_NE(app, 0);
  EXPECT_EQ(uid_of(app), uid_of(desktop)) << "not the session's user";
  if (geteuid() == 0) {
    EXPECT_NE(uid_of(app), std::optional<uid_t>(0));
  }

  Reply closed = host.call(
      [](Envelope::Builder e) {
        auto body = e.initAppClose();
        body.setApp("Second terminal");
        body.initStations(1).set(0, "rdp:desk-5");
      },
      "close-1");
  ASSERT_EQ(results(closed), std::vector<std::string>{"rdp:desk-5:ok"}) << body_text(closed);
  EXPECT_TRUE(eventually([&] { return !alive(app); }, 5s));
  // Both were xterm: the desktop's own one is spared, and the session goes on.
  EXPECT_TRUE(alive(desktop));
  Reply list = host.call([](Envelope::Builder e) { e.initSessionListRequest(); });
  auto record = host.session_of(list, session.id);
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->getState(), SessionState::ACTIVE);
}

}  // namespace
}  // namespace mp::session
