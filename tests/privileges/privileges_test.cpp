// Least privilege for services started as root (lib/service privileges.h), for real: accounts
// made with groupadd/useradd, a child process that drops and then tries to get root back.
#include "mp/service/privileges.h"

#include <grp.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <thread>

#include "support/process.h"
#include "support/temp_dir.h"

namespace mp::service {
namespace {

// A system user and group of the test's own, removed at the end.
class TestAccount : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root: groupadd, useradd, setuid";
    user = "mpwfpriv" + std::to_string(getpid());
    group = "mpwfgrp" + std::to_string(getpid());
  }
  void TearDown() override {
    if (user.empty()) return;
    mp::test::run("/usr/sbin/userdel", {user});
    mp::test::run("/usr/sbin/groupdel", {group});
  }

  // Runs `body` in a child process; its exit code (or 128 + signal).
  static int in_child(const std::function<int()>& body) {
    pid_t pid = fork();
    if (pid == 0) _exit(body());
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  std::string user, group;
};

TEST_F(TestAccount, EnsureSystemUserMakesANologinSystemAccountOnce) {
  ASSERT_EQ(getgrnam(group.c_str()), nullptr);
  SystemUser made = ensure_system_user(user, group);
  ASSERT_TRUE(made.ok()) << made.error;
  passwd* entry = getpwnam(user.c_str());
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->pw_uid, made.uid);
  EXPECT_NE(made.uid, 0u);
  EXPECT_LT(made.uid, 1000u) << "a system account";
  EXPECT_STREQ(entry->pw_shell, "/usr/sbin/nologin");
  EXPECT_STREQ(entry->pw_dir, "/nonexistent");
  EXPECT_FALSE(std::filesystem::exists("/nonexistent"));
  struct group* g = getgrnam(group.c_str());
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->gr_gid, made.group_gid);
  bool member = false;
  for (char** m = g->gr_mem; *m; ++m) member |= user == *m;
  EXPECT_TRUE(member);
  // Again: the same account, nothing new.
  SystemUser again = ensure_system_user(user, group);
  ASSERT_TRUE(again.ok()) << again.error;
  EXPECT_EQ(again.uid, made.uid);
  EXPECT_EQ(again.group_gid, made.group_gid);
}

TEST_F(TestAccount, ServicesStartingTogetherGetOneAccount) {
  std::vector<SystemUser> results(4);
  std::vector<std::thread> starting;
  for (auto& result : results) {
    starting.emplace_back([&] { result = ensure_system_user(user, group); });
  }
  for (auto& t : starting) t.join();
  for (const auto& result : results) {
    ASSERT_TRUE(result.ok()) << result.error;
    EXPECT_EQ(result.uid, results[0].uid);
  }
}

TEST_F(TestAccount, AnExistingUserJoinsTheGroup) {
  ASSERT_EQ(mp::test::run("/usr/sbin/useradd", {"--system", "--no-create-home", user}).exit_code,
            0);
  SystemUser made = ensure_system_user(user, group);
  ASSERT_TRUE(made.ok()) << made.error;
  struct group* g = getgrnam(group.c_str());
  ASSERT_NE(g, nullptr);
  bool member = false;
  for (char** m = g->gr_mem; *m; ++m) member |= user == *m;
  EXPECT_TRUE(member);
}

TEST_F(TestAccount, DroppedCannotGetRootBackAndKeepsItsParentDeathSignal) {
  SystemUser made = ensure_system_user(user, group);
  ASSERT_TRUE(made.ok()) << made.error;
  int code = in_child([&] {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (!drop_privileges(user).empty()) return 10;
    if (getuid() != made.uid || geteuid() != made.uid || getgid() != made.gid) return 11;
    if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0) return 12;
    if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) return 13;
    int signal = 0;
    prctl(PR_GET_PDEATHSIG, &signal);
    if (signal != SIGTERM) return 14;
    // Its groups are the account's: its own and the service group, not root's.
    gid_t groups[64];
    int n = getgroups(64, groups);
    bool in_group = false;
    for (int i = 0; i < n; ++i) {
      if (groups[i] == 0) return 15;
      in_group |= groups[i] == made.group_gid;
    }
    if (!in_group) return 16;
    // A root-only file stays closed.
    if (access("/etc/shadow", R_OK) == 0) return 17;
    return 0;
  });
  EXPECT_EQ(code, 0);
}

TEST_F(TestAccount, DroppingToRootOrToNobodyKnownIsAnError) {
  EXPECT_NE(in_child([] { return drop_privileges("root").empty() ? 0 : 1; }), 0);
  EXPECT_NE(in_child([] { return drop_privileges("no-such-user-here").empty() ? 0 : 1; }), 0);
}

TEST_F(TestAccount, AccessIsCheckedAsTheUserWouldHaveIt) {
  SystemUser made = ensure_system_user(user, group);
  ASSERT_TRUE(made.ok()) << made.error;
  mp::test::TempDir dir("mp-priv");
  chmod(dir.path().c_str(), 0755);
  auto run = dir / "run";
  std::filesystem::create_directory(run);
  chmod(run.c_str(), 0700);
  std::string why = check_access_as(made, {{run, X_OK}});
  EXPECT_NE(why.find("Permission denied"), std::string::npos) << why;
  // Open to the service group, as the bus's runtime directory is.
  ASSERT_EQ(chown(run.c_str(), 0, made.group_gid), 0);
  ASSERT_EQ(chmod(run.c_str(), 0750), 0);
  EXPECT_EQ(check_access_as(made, {{run, X_OK}}), "");
  EXPECT_NE(check_access_as(made, {{run, W_OK}}), "");
  EXPECT_NE(check_access_as(made, {{dir / "missing", X_OK}}).find("No such file"),
            std::string::npos);
}

TEST_F(TestAccount, TheBusIsReachableOnlyWhenItsDirectoryAndSocketsAreOpenToTheGroup) {
  SystemUser made = ensure_system_user(user, group);
  ASSERT_TRUE(made.ok()) << made.error;
  mp::test::TempDir dir("mp-priv");
  chmod(dir.path().c_str(), 0755);
  auto run = dir / "run";
  std::filesystem::create_directory(run);
  ASSERT_EQ(chown(run.c_str(), 0, made.group_gid), 0);
  ASSERT_EQ(chmod(run.c_str(), 0750), 0);
  // No broker yet: the directory decides.
  EXPECT_EQ(check_bus_access_as(made, run), "");
  // A broker whose sockets are root's alone (stand-ins: plain files with the sockets' names).
  for (const char* name : {"requests", "events-in", "events-out"}) {
    std::ofstream(run / name) << "";
    chmod((run / name).c_str(), 0600);
  }
  EXPECT_NE(check_bus_access_as(made, run).find("Permission denied"), std::string::npos);
  for (const char* name : {"requests", "events-in", "events-out"}) {
    ASSERT_EQ(chown((run / name).c_str(), 0, made.group_gid), 0);
    chmod((run / name).c_str(), 0660);
  }
  EXPECT_EQ(check_bus_access_as(made, run), "");
  // Deciding for a service: the account when it can reach the bus, root otherwise.
  auto chosen = service_user_reaching_bus(user, run);
  ASSERT_TRUE(chosen);
  EXPECT_EQ(chosen->uid, made.uid);
  chmod(run.c_str(), 0700);
  EXPECT_FALSE(service_user_reaching_bus(user, run));
  EXPECT_FALSE(service_user_reaching_bus("", run));
}

}  // namespace
}  // namespace mp::service
