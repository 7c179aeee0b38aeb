// What root does to mp-rdp's state directory before it drops to `mp-rdp`: a directory that user
// owned before may hold anything it put there, so root follows no link and changes no file that
// is not simply its own. Real files, real chown (as root).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "privilege_drop.h"
#include "support/temp_dir.h"

namespace mp::rdp {
namespace {

// No account needed: chown takes any number.
constexpr uid_t kUid = 64123;
constexpr gid_t kGid = 64124;

struct stat lstat_of(const std::filesystem::path& path) {
  struct stat info {};
  EXPECT_EQ(lstat(path.c_str(), &info), 0) << path;
  return info;
}

class StateDirHandover : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      std::printf("not root: nothing to hand over; skipped\n");
      GTEST_SKIP() << "needs root (chown)";
    }
  }
  mp::test::TempDir dir{"mprdps"};
};

TEST_F(StateDirHandover, RootsOwnFilesGoToTheUserAndTheKeyKeepsItsMode) {
  auto own = dir / "rdp";
  ASSERT_EQ(hand_state_dir_to(own, kUid, kGid), "") << "made when missing";
  std::ofstream(own / "server.key") << "key";
  chmod((own / "server.key").c_str(), 0600);
  std::ofstream(own / "blocked-stations") << "rdp:a\tmessage\n";
  chmod(own.c_str(), 0755);

  ASSERT_EQ(hand_state_dir_to(own, kUid, kGid), "");
  auto info = lstat_of(own);
  EXPECT_EQ(info.st_uid, kUid);
  EXPECT_EQ(info.st_gid, kGid);
  EXPECT_EQ(info.st_mode & 07777, 0700u);
  info = lstat_of(own / "server.key");
  EXPECT_EQ(info.st_uid, kUid);
  EXPECT_EQ(info.st_mode & 07777, 0600u);
  EXPECT_EQ(lstat_of(own / "blocked-stations").st_uid, kUid);
}

TEST_F(StateDirHandover, LinksFifosAndSecondNamesInsideAreLeftAlone) {
  auto own = dir / "rdp";
  ASSERT_EQ(hand_state_dir_to(own, kUid, kGid), "");
  // Root's files elsewhere, which the user tries to get through its own directory.
  auto precious = dir / "precious";
  auto linked = dir / "linked";
  std::ofstream(precious) << "root's";
  std::ofstream(linked) << "root's too";
  std::filesystem::create_symlink(precious, own / "server.key");
  std::filesystem::create_hard_link(linked, own / "server.crt");
  ASSERT_EQ(mkfifo((own / "blocked-stations").c_str(), 0600), 0);

  ASSERT_EQ(hand_state_dir_to(own, kUid, kGid), "") << "nothing there is worth failing over";
  EXPECT_EQ(lstat_of(precious).st_uid, 0u) << "a symbolic link was followed";
  EXPECT_EQ(lstat_of(linked).st_uid, 0u) << "a second name of root's file was changed";
  EXPECT_EQ(lstat_of(own / "blocked-stations").st_uid, 0u) << "only regular files";
}

TEST_F(StateDirHandover, ADirectoryThatIsALinkOrSomeoneElsesIsRefused) {
  std::filesystem::create_directory(dir / "elsewhere");
  std::filesystem::create_directory_symlink(dir / "elsewhere", dir / "rdp");
  std::string why = hand_state_dir_to(dir / "rdp", kUid, kGid);
  EXPECT_NE(why.find("not a directory"), std::string::npos) << why;
  EXPECT_EQ(lstat_of(dir / "elsewhere").st_uid, 0u);

  auto other = dir / "other";
  std::filesystem::create_directory(other);
  ASSERT_EQ(chown(other.c_str(), kUid + 1, kGid), 0);
  why = hand_state_dir_to(other, kUid, kGid);
  EXPECT_NE(why.find("belongs to uid " + std::to_string(kUid + 1)), std::string::npos) << why;
  EXPECT_EQ(lstat_of(other).st_uid, kUid + 1);
}

TEST(PrivilegeDrop, APortBelowTheUnprivilegedRangeIsRefusedBeforeAnythingIsMade) {
  int lowest = unprivileged_port_start();
  if (lowest == 0) GTEST_SKIP() << "every port is unprivileged here";
  mp::test::TempDir dir("mprdpp");
  std::string why = become_service_user("mp-rdp-never-made", dir / "run", dir / "state",
                                        static_cast<std::uint16_t>(lowest - 1));
  EXPECT_NE(why.find("below " + std::to_string(lowest)), std::string::npos) << why;
  EXPECT_FALSE(std::filesystem::exists(dir / "state"));
}

}  // namespace
}  // namespace mp::rdp
