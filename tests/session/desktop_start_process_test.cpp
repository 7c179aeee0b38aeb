// A desktop's display coming up slowly, never, or failing, with the real mp-session, mp-bus and
// Xvfb: mp-session goes on serving meanwhile, and leaves nothing running when the start fails or
// mp-session stops before the display is up. Xvfb is wrapped by small scripts (--xvfb).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>

#include "desktop_host.h"
#include "session_processes.h"

namespace mp::session {
namespace {

using namespace std::chrono_literals;
using mp::test::eventually;
using namespace mp::session::test;

// Writes an executable script into the host's directory (reachable by the session users).
std::string script(DesktopHost& host, const std::string& name, const std::string& text) {
  auto path = host.dir / name;
  std::ofstream(path) << "#!/bin/bash\n" << text;
  chmod(path.c_str(), 0755);
  return path.string();
}

// Xvfb, after a pause longer than the bus's heartbeat liveness (3 beats of 1 s).
std::string slow_xvfb(DesktopHost& host) {
  return script(host, "slow-xvfb", "sleep 4\nexec /usr/bin/Xvfb \"$@\"\n");
}
// Xvfb that never says it is ready: its -displayfd goes to /dev/null, mp-session's pipe stays
// open and silent.
std::string mute_xvfb(DesktopHost& host) {
  return script(host, "mute-xvfb",
                "args=()\n"
                "while (($#)); do\n"
                "  if [[ $1 == -displayfd ]]; then args+=(-displayfd 4); shift 2;\n"
                "  else args+=(\"$1\"); shift; fi\n"
                "done\n"
                "exec 4>/dev/null\n"
                "exec /usr/bin/Xvfb \"${args[@]}\"\n");
}

// Live processes with an argument under `dir` (an Xvfb's -auth file in a session directory).
std::vector<pid_t> processes_naming(const std::string& dir) {
  std::vector<pid_t> found;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    pid_t pid = static_cast<pid_t>(std::atoi(it->path().filename().c_str()));
    if (pid <= 0 || !alive(pid)) continue;
    for (const auto& arg : command_line(pid)) {
      if (arg.rfind(dir + "/", 0) == 0) {
        found.push_back(pid);
        break;
      }
    }
  }
  return found;
}

using Slot = std::shared_ptr<std::optional<Reply>>;
Slot send_logon(DesktopHost& host, const std::string& station, const std::string& user) {
  auto slot = std::make_shared<std::optional<Reply>>();
  host.caller->request(kServiceName, credentials(station, user, user + "-password"),
                       mp::bus::RequestOptions{.deadline = 30s, .idempotency_key = "logon-" + user},
                       [slot](Reply reply) { *slot = std::move(reply); });
  return slot;
}

std::size_t open_sessions(DesktopHost& host) {
  Reply list = host.call([](Envelope::Builder e) { e.initSessionListRequest(); });
  EXPECT_TRUE(list.ok()) << list.error_text();
  return list.ok() ? list.envelope().getSessionList().getSessions().size() : 0;
}

TEST(DesktopStartProcess, SlowDisplayDoesNotStopTheServiceAnswering) {
  if (!tools_present()) GTEST_SKIP() << "needs Xvfb, xterm, xdpyinfo and xwininfo";
  auto host = std::make_unique<DesktopHost>(2600, false);
  host->session_args = {"--xvfb", slow_xvfb(*host)};
  host->restart_session();
  ASSERT_TRUE(eventually([&] { return host->answers(); }, 15s)) << host->log();
  std::vector<std::string> gone;  // services the broker declared gone
  host->caller->subscribe("bus.presence", [&](std::string_view, const mp::bus::Incoming& event) {
    auto presence = event.envelope().getPresence();
    if (presence.getState() == mp::schema::Presence::State::DOWN) {
      gone.push_back(presence.getService());
    }
  });
  std::string user = unique_user('s');
  host->add(user);
  ASSERT_TRUE(host->call(attach({.key = "rdp:slow-1", .transport = "rdp"})).ok());

  Slot pending = send_logon(*host, "rdp:slow-1", user);
  // While Xvfb takes its time, every request is answered well within its short deadline.
  int answered_meanwhile = 0;
  while (!pending->has_value()) {
    Reply snapshot = host->caller->call(kServiceName, snapshot_request(),
                                        mp::bus::RequestOptions{.deadline = 2500ms});
    ASSERT_TRUE(snapshot.ok()) << "a request waited for the display: " << snapshot.error_text()
                               << "\n"
                               << host->log();
    ++answered_meanwhile;
    host->reactor.run_until([&] { return pending->has_value(); }, 300ms);
  }
  EXPECT_GE(answered_meanwhile, 3) << "the logon did not wait for the slow display";
  const Reply& logon = **pending;
  ASSERT_TRUE(logon.ok() && logon.envelope().getLogonResult().getOk()) << body_text(logon);
  auto record = logon.envelope().getLogonResult().getSession();
  EXPECT_TRUE(display_accepts(record.getDisplay(), record.getXauthority())) << host->log();
  EXPECT_EQ(gone, std::vector<std::string>{}) << "the broker lost mp-session meanwhile";
}

TEST(DesktopStartProcess, StopWhileTheDisplayStartsLeavesNoXvfb) {
  if (!tools_present()) GTEST_SKIP() << "needs Xvfb, xterm, xdpyinfo and xwininfo";
  DesktopHost host(2620, false);
  host.session_args = {"--xvfb", mute_xvfb(host)};
  host.restart_session();
  ASSERT_TRUE(eventually([&] { return host.answers(); }, 15s)) << host.log();
  std::string user = unique_user('t');
  host.add(user);
  ASSERT_TRUE(host.call(attach({.key = "rdp:mute-1", .transport = "rdp"})).ok());

  Slot pending = send_logon(host, "rdp:mute-1", user);
  pid_t xvfb = 0;
  ASSERT_TRUE(eventually(
      [&] {
        host.reactor.run_until([] { return false; }, 50ms);
        auto started = processes_naming(host.sessions());
        xvfb = started.empty() ? 0 : started.front();
        return xvfb != 0 && !pending->has_value();
      },
      15s))
      << host.log();
  EXPECT_TRUE(command_line(xvfb).at(0).ends_with("Xvfb"));

  // SIGTERM (an operator restarting mp-session) before the display said it is up.
  EXPECT_EQ(host.session->stop(), 0) << host.log();
  EXPECT_TRUE(eventually([&] { return !alive(xvfb); }, 5s)) << "the Xvfb was left running";
  ASSERT_TRUE(host.reactor.run_until([&] { return pending->has_value(); }, 5s));
  EXPECT_EQ((*pending)->error_kind(), mp::schema::Error::Kind::UNAVAILABLE) << body_text(**pending);
  EXPECT_NE(host.log().find("desktop start abandoned"), std::string::npos) << host.log();

  // The next mp-session, with a working Xvfb, logs the user on (the retry, same key).
  host.session_args.clear();
  host.start_session();
  ASSERT_TRUE(eventually([&] { return host.answers(); }, 15s)) << host.log();
  EXPECT_EQ(open_sessions(host), 0u);
  Logon session = logon(host, "rdp:mute-1", user);
  ASSERT_NE(session.id, 0u);
  EXPECT_TRUE(display_accepts(session.display, session.xauthority)) << host.log();
}

TEST(DesktopStartProcess, FailingXvfbAnswersAnErrorAndLeavesNothing) {
  if (!tools_present()) GTEST_SKIP() << "needs Xvfb, xterm, xdpyinfo and xwininfo";
  DesktopHost host(2640, false);
  host.session_args = {"--xvfb",
                       script(host, "broken-xvfb", "echo 'no screens found' >&2\nexit 1\n")};
  host.restart_session();
  ASSERT_TRUE(eventually([&] { return host.answers(); }, 15s)) << host.log();
  std::string user = unique_user('f');
  host.add(user);
  ASSERT_TRUE(host.call(attach({.key = "rdp:broken-1", .transport = "rdp"})).ok());

  Reply reply = host.call(credentials("rdp:broken-1", user, user + "-password"));
  ASSERT_TRUE(reply.ok()) << body_text(reply);
  auto result = reply.envelope().getLogonResult();
  EXPECT_FALSE(result.getOk());
  std::string reason = result.getReason();
  EXPECT_NE(reason.find("cannot start the desktop"), std::string::npos) << reason;
  EXPECT_NE(reason.find("no screens found"), std::string::npos) << "Xvfb's own words: " << reason;
  EXPECT_EQ(open_sessions(host), 0u);
  // Nothing of it is left: no session directory, no process of the user.
  std::error_code ec;
  std::size_t left = 0;
  for (auto it = std::filesystem::directory_iterator(host.sessions(), ec);
       !ec && it != std::filesystem::directory_iterator(); ++it) {
    ++left;
  }
  EXPECT_EQ(left, 0u) << "a session directory is left";
  EXPECT_EQ(processes_naming(host.sessions()), std::vector<pid_t>{});
}

}  // namespace
}  // namespace mp::session
