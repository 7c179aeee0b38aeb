// The display cookie for transports: besides the student's own Xauthority file (XAUTHORITY in
// the session), mp-session keeps a copy at <sessions-dir>/transport/<id>.xauth — root:mpoint
// 0640 in a root:mpoint 0750 directory as root — which the session record names, so that a
// transport running as a system user of group mpoint (mp-rdp) opens the display, nobody else
// reads it, and the student cannot change what it says. Real mp-bus, mp-session, Xvfb, xterm,
// mp-agent; real processes of other users (setpriv, runuser) try to read and write it.
#include <grp.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "desktop_host.h"
#include "desktop_probe.h"
#include "mp/service/privileges.h"
#include "session_fixture.h"
#include "support/process.h"

namespace mp::session {
namespace {

using namespace std::chrono_literals;
using mp::test::eventually;
using mp::test::RunResult;
using namespace mp::session::test;

constexpr const char* kSetpriv = "/usr/bin/setpriv";

struct stat stat_of(const std::filesystem::path& path) {
  struct stat info {};
  EXPECT_EQ(lstat(path.c_str(), &info), 0) << path;
  return info;
}

// XAUTHORITY of a running process, from its environment.
std::string xauthority_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
  std::string entry;
  while (std::getline(in, entry, '\0')) {
    if (entry.starts_with("XAUTHORITY=")) return entry.substr(11);
  }
  return "";
}

class TransportCookie : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!tools_present()) GTEST_SKIP() << "needs Xvfb, xterm, xdpyinfo and xwininfo";
    if (geteuid() == 0) {
      // The transports' user and group, as mp-supervisor makes them before anything starts.
      auto account = mp::service::ensure_system_user("mp-rdp");
      ASSERT_TRUE(account.ok()) << account.error;
      transport_group = account.group_gid;
    } else {
      std::printf(
          "not root: the copy is the invoking user's (0600 in 0700); group and other-user "
          "checks skipped\n");
    }
  }

  // Runs `argv` as the transports' system user mp-rdp (its groups: mpoint).
  RunResult as_transport(const std::vector<std::string>& argv) {
    std::vector<std::string> args = {"--reuid=mp-rdp", "--regid=mp-rdp", "--init-groups", "--"};
    args.insert(args.end(), argv.begin(), argv.end());
    return mp::test::run(kSetpriv, args, {}, 15s);
  }
  // ... as a user in no group of multipoint's.
  RunResult as_stranger(const std::vector<std::string>& argv) {
    std::vector<std::string> args = {"--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"};
    args.insert(args.end(), argv.begin(), argv.end());
    return mp::test::run(kSetpriv, args, {}, 15s);
  }

  void expect_shared_copy(const std::filesystem::path& copy) {
    auto dir = stat_of(copy.parent_path());
    auto file = stat_of(copy);
    EXPECT_TRUE(S_ISDIR(dir.st_mode));
    EXPECT_TRUE(S_ISREG(file.st_mode));
    EXPECT_EQ(dir.st_uid, geteuid());
    EXPECT_EQ(file.st_uid, geteuid());
    if (transport_group) {
      EXPECT_EQ(dir.st_gid, *transport_group);
      EXPECT_EQ(dir.st_mode & 07777, 0750u);
      EXPECT_EQ(file.st_gid, *transport_group);
      EXPECT_EQ(file.st_mode & 07777, 0640u);
    } else {
      EXPECT_EQ(dir.st_mode & 07777, 0700u);
      EXPECT_EQ(file.st_mode & 07777, 0600u);
    }
  }

  std::optional<gid_t> transport_group;
};

TEST_F(TransportCookie, TheRecordNamesACopyTheTransportsReadAndNobodyElse) {
  DesktopHost host(2660, false);
  ASSERT_TRUE(eventually([&] { return host.answers(); }, 15s)) << host.log();
  std::string user = unique_user('c');
  host.add(user);
  ASSERT_TRUE(host.call(attach({.key = "rdp:cookie-1", .transport = "rdp"})).ok());
  Logon session = logon(host, "rdp:cookie-1", user);
  ASSERT_NE(session.id, 0u) << host.log();
  std::filesystem::path sessions = host.sessions();
  std::filesystem::path copy = sessions / "transport" / (std::to_string(session.id) + ".xauth");
  std::filesystem::path own = sessions / std::to_string(session.id) / "Xauthority";
  EXPECT_EQ(session.xauthority, copy.string());
  expect_shared_copy(copy);
  EXPECT_TRUE(display_accepts(session.display, copy.string())) << host.log();
  EXPECT_TRUE(display_accepts(session.display, own.string()));

  // The session's programs keep the student's own file.
  pid_t agent = 0;
  ASSERT_TRUE(eventually(
      [&] { return (agent = program_on_display(session.display, "mp-agent")) != 0; }, 15s))
      << host.log();
  EXPECT_EQ(xauthority_of(agent), own.string());
  pid_t xterm = program_on_display(session.display, "xterm");
  ASSERT_NE(xterm, 0);
  EXPECT_EQ(xauthority_of(xterm), own.string());

  if (geteuid() == 0) {
    // mp-rdp's user opens the display with it (as mp-rdp does)...
    RunResult transport = as_transport({"/usr/bin/env", "XAUTHORITY=" + copy.string(),
                                        "/usr/bin/xdpyinfo", "-display", session.display});
    EXPECT_EQ(transport.exit_code, 0) << transport.output;
    // ... a user outside group mpoint cannot even read it...
    RunResult stranger = as_stranger({"/bin/cat", copy.string()});
    EXPECT_NE(stranger.exit_code, 0) << stranger.output;
    EXPECT_NE(stranger.output.find("Permission denied"), std::string::npos) << stranger.output;
    // ... and the student, who may rewrite their own file, cannot touch the transports'.
    RunResult student =
        mp::test::run("/usr/sbin/runuser",
                      {"-u", user, "--", "/bin/sh", "-c",
                       "printf x >> '" + copy.string() + "' || rm -f '" + copy.string() + "'"},
                      {}, 15s);
    EXPECT_NE(student.exit_code, 0) << student.output;
    EXPECT_TRUE(std::filesystem::exists(copy));
    EXPECT_TRUE(display_accepts(session.display, copy.string())) << "the copy was changed";
  }

  // Logged off: the copy goes with the session, and the directory with its last copy.
  auto off = mp::test::run(mp::test::bin_dir() / "mpctl",
                           {"--runtime-dir", host.runtime(), "logoff", "rdp:cookie-1"});
  ASSERT_EQ(off.exit_code, 0) << off.output << host.log();
  EXPECT_TRUE(eventually([&] { return !std::filesystem::exists(copy); }, 15s)) << host.log();
  EXPECT_TRUE(eventually([&] { return !std::filesystem::exists(copy.parent_path()); }, 5s));
  EXPECT_EQ(host.session->stop(), 0);
}

TEST_F(TransportCookie, AnAdoptedDesktopGetsItsCopyBackWhenItWasRemoved) {
  DesktopHost host(2680, false);
  ASSERT_TRUE(eventually([&] { return host.answers(); }, 15s)) << host.log();
  std::string user = unique_user('d');
  host.add(user);
  ASSERT_TRUE(host.call(attach({.key = "rdp:cookie-2", .transport = "rdp"})).ok());
  Logon first = logon(host, "rdp:cookie-2", user);
  ASSERT_NE(first.id, 0u) << host.log();
  std::string second_user = unique_user('e');
  host.add(second_user);
  ASSERT_TRUE(host.call(attach({.key = "rdp:cookie-3", .transport = "rdp"})).ok());
  Logon second = logon(host, "rdp:cookie-3", second_user);
  ASSERT_NE(second.id, 0u) << host.log();
  auto untouched = stat_of(second.xauthority);

  // mp-session goes (desktops stay); meanwhile one copy is lost and one stays.
  host.session->signal(SIGKILL);
  ASSERT_TRUE(host.session->wait(5s));
  ASSERT_EQ(unlink(first.xauthority.c_str()), 0);
  host.start_session();
  ASSERT_TRUE(eventually([&] { return host.answers(); }, 15s)) << host.log();
  ASSERT_TRUE(eventually(
      [&] { return host.log().find("adopted the desktop of " + user) != std::string::npos; }, 10s))
      << host.log();

  // Made again from the student's file, as it was; the other one left as it was.
  ASSERT_TRUE(std::filesystem::exists(first.xauthority)) << host.log();
  expect_shared_copy(first.xauthority);
  EXPECT_TRUE(display_accepts(first.display, first.xauthority)) << host.log();
  auto still = stat_of(second.xauthority);
  EXPECT_EQ(still.st_ino, untouched.st_ino) << "a copy that was there is not rewritten";
  EXPECT_TRUE(display_accepts(second.display, second.xauthority));
  Logon again = logon(host, "rdp:cookie-2", user);
  EXPECT_EQ(again.id, first.id);
  EXPECT_EQ(again.xauthority, first.xauthority);
  EXPECT_EQ(host.session->stop(), 0);
}

}  // namespace
}  // namespace mp::session
