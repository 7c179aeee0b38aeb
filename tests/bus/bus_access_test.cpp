// Integration: who may reach the bus. As root, mp-bus opens its runtime dir (root:mpoint 0750)
// and socket files (0660) to the group mpoint, so services that drop to system users of that
// group still talk on the bus, and nobody else can. Not as root, it stays the owner's alone.
// Real mp-bus and mpctl processes; users changed with setpriv.
#include <grp.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mp/service/privileges.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace mp::test {
namespace {

using namespace std::chrono_literals;

struct Owner {
  uid_t uid = 0;
  gid_t gid = 0;
  mode_t mode = 0;
};
Owner owner_of(const std::filesystem::path& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return {static_cast<uid_t>(-1), 0, 0};
  return {st.st_uid, st.st_gid, st.st_mode & 07777};
}

// `program args...` as `user`, with that user's groups.
RunResult run_as(const std::string& user, const std::filesystem::path& program,
                 std::vector<std::string> args) {
  std::vector<std::string> all{"--reuid=" + user,
                               "--regid=" + std::to_string(getpwnam(user.c_str())->pw_gid),
                               "--init-groups", "--", program.string()};
  all.insert(all.end(), args.begin(), args.end());
  return run("/usr/bin/setpriv", all, {}, 20s);
}

class BusAccess : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root: system users and setpriv";
    // Passable, as /run is: only the runtime dir itself decides.
    std::filesystem::permissions(dir.path(), std::filesystem::perms(0711));
    member = "mpbusin" + std::to_string(getpid() % 100000);
    auto account = mp::service::ensure_system_user(member);  // in group mpoint, made if missing
    ASSERT_TRUE(account.ok()) << account.error;
    group = account.group_gid;
  }
  void TearDown() override {
    if (bus) bus->stop();
    remove_linux_account(member);
  }
  void start_bus() {
    bus = std::make_unique<ChildProcess>(
        bin_dir() / "mp-bus", std::vector<std::string>{"--runtime-dir", runtime().string()},
        ChildProcess::Options{.output_file = dir / "bus.log"});
    ASSERT_TRUE(eventually([&] { return std::filesystem::exists(runtime() / "requests"); }, 10s))
        << read_file(dir / "bus.log");
  }
  std::filesystem::path runtime() const { return dir / "run"; }
  RunResult status_as(const std::string& user) {
    return run_as(user, bin_dir() / "mpctl",
                  {"--runtime-dir", runtime().string(), "--timeout", "5000", "status", "--json"});
  }

  TempDir dir{"mpbus"};
  std::string member;
  gid_t group = 0;
  std::unique_ptr<ChildProcess> bus;
};

TEST_F(BusAccess, AsRootTheRuntimeDirAndSocketsAreOpenToGroupMpoint) {
  start_bus();
  Owner run_dir = owner_of(runtime());
  EXPECT_EQ(run_dir.uid, 0u);
  EXPECT_EQ(run_dir.gid, group);
  EXPECT_EQ(run_dir.mode, 0750u);
  for (const char* socket : {"events-in", "events-out", "requests", "tap"}) {
    Owner file = owner_of(runtime() / socket);
    EXPECT_EQ(file.gid, group) << socket;
    EXPECT_EQ(file.mode, 0660u) << socket;
  }
}

TEST_F(BusAccess, AServiceUserInGroupMpointTalksOnTheBus) {
  start_bus();
  auto result = status_as(member);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("\"service\""), std::string::npos) << result.output;
}

TEST_F(BusAccess, AUserOutsideTheGroupCannotReachIt) {
  start_bus();
  auto result = status_as("nobody");
  EXPECT_EQ(result.exit_code, 3) << result.output;
  EXPECT_NE(result.output.find("cannot reach the multipoint bus"), std::string::npos)
      << result.output;
}

TEST_F(BusAccess, NotAsRootTheBusStaysItsOwners) {
  // A developer's bus: runs as nobody here, in a directory nobody may write.
  std::filesystem::path home = dir / "nobody";
  std::filesystem::create_directories(home);
  ASSERT_EQ(chown(home.c_str(), getpwnam("nobody")->pw_uid, getpwnam("nobody")->pw_gid), 0);
  std::filesystem::path runtime_dir = home / "run";
  ChildProcess developer_bus(
      "/usr/bin/setpriv",
      {"--reuid=nobody", "--regid=" + std::to_string(getpwnam("nobody")->pw_gid), "--clear-groups",
       "--", (bin_dir() / "mp-bus").string(), "--runtime-dir", runtime_dir.string()},
      ChildProcess::Options{.output_file = dir / "nobody-bus.log"});
  ASSERT_TRUE(eventually([&] { return std::filesystem::exists(runtime_dir / "requests"); }, 10s))
      << read_file(dir / "nobody-bus.log");
  EXPECT_EQ(owner_of(runtime_dir).mode, 0700u);
  EXPECT_EQ(owner_of(runtime_dir / "requests").mode, 0600u);
  auto result = status_as(member);
  EXPECT_EQ(result.exit_code, 3) << "group mpoint opens only root's bus: " << result.output;
  developer_bus.stop();
}

}  // namespace
}  // namespace mp::test
