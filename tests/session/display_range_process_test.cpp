// The display numbers of sessions are a reserved range: a student who fills it with lock files,
// socket files and abstract sockets (the last reachable by other users' X clients) cannot keep
// sessions from starting, nor get a session's clients. Real mp-session, Xvfb and accounts.
#include <grp.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>

#include "desktop_host.h"
#include "session_processes.h"

namespace mp::session {
namespace {

using namespace std::chrono_literals;
using mp::test::eventually;
using namespace mp::session::test;

constexpr int kFirst = 2700;

void bind_unix(const std::string& name, bool abstract) {
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::size_t offset = abstract ? 1 : 0;  // abstract: a NUL first
  std::memcpy(address.sun_path + offset, name.data(), name.size());
  socklen_t length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + offset + name.size());
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), length) == 0) listen(fd, 1);
  if (!abstract) close(fd);  // the file stays behind
}

// A process of `user` that squats the range's first numbers every way a student could, then
// waits to be killed. Returns its pid once the squatting is in place.
pid_t squat(const std::string& user) {
  passwd* account = getpwnam(user.c_str());
  if (account == nullptr) return -1;
  int ready[2];
  if (pipe(ready) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    close(ready[0]);
    if (setgroups(0, nullptr) != 0 ||
        setresgid(account->pw_gid, account->pw_gid, account->pw_gid) != 0 ||
        setresuid(account->pw_uid, account->pw_uid, account->pw_uid) != 0) {
      _exit(2);
    }
    for (int n = kFirst; n < kFirst + 4; ++n) {
      // A lock file naming a process that is no X server, and one naming nobody.
      std::ofstream("/tmp/.X" + std::to_string(n) + "-lock")
          << std::setw(10) << (n % 2 == 0 ? getpid() : 4194000) << "\n";
      bind_unix("/tmp/.X11-unix/X" + std::to_string(n), false);
      bind_unix("/tmp/.X11-unix/X" + std::to_string(n), true);
    }
    [[maybe_unused]] auto w = write(ready[1], "x", 1);
    while (true) pause();
  }
  close(ready[1]);
  char byte = 0;
  bool squatting = read(ready[0], &byte, 1) == 1;
  close(ready[0]);
  return squatting ? pid : -1;
}

TEST(DisplayRange, AStudentsSquatIsClearedAndTheSessionGetsTheFirstNumber) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: student accounts, other users' files in /tmp";
  if (!tools_present()) GTEST_SKIP() << "needs Xvfb, xterm, xdpyinfo and xwininfo";
  auto host = std::make_unique<DesktopHost>(kFirst, false);
  ASSERT_TRUE(eventually([&] { return host->answers(); }, 15s)) << host->log();
  std::string squatter = unique_user('q'), victim = unique_user('v');
  host->add(squatter);
  host->add(victim);
  pid_t pid = squat(squatter);
  ASSERT_GT(pid, 0) << "the squat could not be set up";

  ASSERT_TRUE(host->call(attach({.key = "rdp:range-1", .transport = "rdp"})).ok());
  Logon session = logon(*host, "rdp:range-1", victim);
  EXPECT_EQ(session.display, ":" + std::to_string(kFirst)) << host->log();
  EXPECT_TRUE(display_accepts(session.display, session.xauthority)) << host->log();
  // The squatter held the abstract socket of the first number: it is gone.
  int status = 0;
  EXPECT_TRUE(eventually([&] { return waitpid(pid, &status, WNOHANG) == pid; }, 5s));
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  EXPECT_NE(host->log().find("killed (the range is multipoint's)"), std::string::npos)
      << host->log();

  // The next numbers, squatted only by files now, serve the next session.
  std::string second = unique_user('w');
  host->add(second);
  ASSERT_TRUE(host->call(attach({.key = "rdp:range-2", .transport = "rdp"})).ok());
  Logon next = logon(*host, "rdp:range-2", second);
  EXPECT_EQ(next.display, ":" + std::to_string(kFirst + 1)) << host->log();
  EXPECT_TRUE(display_accepts(next.display, next.xauthority));
  if (waitpid(pid, &status, WNOHANG) == 0) kill(pid, SIGKILL);
  // The two sessions' servers remove their own files when they end; the rest is the squat's.
  for (int n = kFirst + 2; n < kFirst + 4; ++n) {
    std::error_code ec;
    std::filesystem::remove("/tmp/.X" + std::to_string(n) + "-lock", ec);
    std::filesystem::remove("/tmp/.X11-unix/X" + std::to_string(n), ec);
  }
}

}  // namespace
}  // namespace mp::session
