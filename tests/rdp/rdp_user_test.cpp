// mp-rdp started as root runs as its own system user `mp-rdp`: no capabilities, no way back to
// root — and still serves the session, capturing through MIT-SHM segments it shares with the
// X server, for its own desktop and for a projection. Real mp-bus, mp-rdp, Xvfb and xfreerdp;
// a stub mp-session. Needs root (it is about dropping root).
#include <grp.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <sstream>

#include "mp/bus/client.h"
#include "mp/bus/endpoints.h"
#include "rdp_system.h"
#include "support/temp_dir.h"

namespace mp::test {
namespace {

using namespace std::chrono_literals;
using mp::schema::Envelope;

// "Name:\tvalue" lines of /proc/PID/status.
std::map<std::string, std::string> process_status(pid_t pid) {
  std::map<std::string, std::string> fields;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    auto value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    fields[line.substr(0, colon)] = value;
  }
  return fields;
}

struct SharedSegment {
  uid_t owner = 0;    // the uid it was handed to
  uid_t creator = 0;  // cuid
  int attached = 0;
};
// The System V shared memory segments `pid` created (/proc/sysvipc/shm): MIT-SHM capture
// buffers. Marked for removal at once, they are listed as long as someone has them attached.
std::vector<SharedSegment> segments_created_by(pid_t pid) {
  std::vector<SharedSegment> found;
  std::ifstream in("/proc/sysvipc/shm");
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    long long key, id, perms, size, cpid, lpid, attached, uid, gid, cuid;
    if (!(fields >> key >> id >> perms >> size >> cpid >> lpid >> attached >> uid >> gid >> cuid)) {
      continue;
    }
    if (cpid != pid) continue;
    found.push_back(
        {static_cast<uid_t>(uid), static_cast<uid_t>(cuid), static_cast<int>(attached)});
  }
  return found;
}

// Segments of `pid`'s that the X server (here root's) has attached as well.
int segments_shared_with_x(pid_t pid, uid_t rdp_uid) {
  int shared = 0;
  for (const auto& segment : segments_created_by(pid)) {
    shared += segment.creator == rdp_uid && segment.attached >= 2;
  }
  return shared;
}

class RdpUser : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      std::printf("not root: mp-rdp has no root to drop; skipped\n");
      GTEST_SKIP() << "needs root";
    }
    if (auto missing = missing_rdp_prerequisites(); !missing.empty()) GTEST_SKIP() << missing;
  }
};

TEST_F(RdpUser, AsRootItRunsAsMpRdpWithoutCapabilitiesAndServesTheSessionThroughMitShm) {
  RdpSystem system;
  system.start_rdp();
  ASSERT_TRUE(system.rdp_running()) << system.rdp_log();
  passwd* account = getpwnam("mp-rdp");
  ASSERT_NE(account, nullptr) << "no system user mp-rdp\n" << system.rdp_log();
  std::string uid = std::to_string(account->pw_uid);
  std::string gid = std::to_string(account->pw_gid);
  EXPECT_NE(account->pw_uid, 0u);
  EXPECT_EQ(std::string(account->pw_shell), "/usr/sbin/nologin");

  // It listens only after the drop, and it listens now.
  pid_t pid = system.rdp_pid();
  auto status = process_status(pid);
  EXPECT_EQ(status["Uid"], uid + "\t" + uid + "\t" + uid + "\t" + uid) << system.rdp_log();
  EXPECT_EQ(status["Gid"], gid + "\t" + gid + "\t" + gid + "\t" + gid);
  EXPECT_EQ(status["CapEff"], "0000000000000000");
  EXPECT_EQ(status["CapPrm"], "0000000000000000");
  EXPECT_EQ(status["CapAmb"], "0000000000000000");
  EXPECT_EQ(status["NoNewPrivs"], "1");
  std::string groups = " " + status["Groups"] + " ";
  EXPECT_NE(groups.find(" " + std::to_string(getgrnam("mpoint")->gr_gid) + " "), std::string::npos)
      << "not in group mpoint: " << status["Groups"];
  EXPECT_NE(system.rdp_log().find("running as mp-rdp (uid " + uid + ")"), std::string::npos)
      << system.rdp_log();

  // Its state directory, TLS key and certificate are its own; the key stays 0600.
  struct stat info {};
  ASSERT_EQ(stat((system.state_dir() / "rdp").c_str(), &info), 0);
  EXPECT_EQ(info.st_uid, account->pw_uid);
  EXPECT_EQ(info.st_mode & 0777, 0700u);
  ASSERT_EQ(stat((system.state_dir() / "rdp" / "server.key").c_str(), &info), 0);
  EXPECT_EQ(info.st_uid, account->pw_uid);
  EXPECT_EQ(info.st_mode & 0777, 0600u);

  // The session, end to end, captured through a segment the X server attached too.
  auto client = system.start_client({"/nsc", "-gfx", "/client-hostname:as-user"}, "client.log");
  EXPECT_EQ(system.wait_for_pattern(15s, 2, "/tmp/mp-rdp-as-user.png"), 0) << system.rdp_log();
  EXPECT_TRUE(eventually([&] { return segments_shared_with_x(pid, account->pw_uid) >= 1; }, 5s))
      << "no MIT-SHM segment of mp-rdp's is attached by the X server\n"
      << system.rdp_log();
  EXPECT_EQ(system.rdp_log().find("no MIT-SHM"), std::string::npos) << system.rdp_log();

  // A projection: another capture of its own (the feed's), through MIT-SHM as well.
  zmq::context_t context;
  mp::bus::Reactor reactor;
  mp::bus::Client caller(context, reactor, mp::bus::Endpoints::in_directory(system.runtime_dir()),
                         mp::bus::ClientOptions{.service = "test"});
  auto reply = caller.call(
      "rdp",
      [&](Envelope::Builder e) {
        auto show = e.initStationShow();
        show.setStationKey("rdp:as-user");
        show.setDisplay(system.session_display().name());
        show.setXauthority(system.transport_xauthority().string());
        show.setWidth(kSessionWidth);
        show.setHeight(kSessionHeight);
        show.setViewOnly(true);
        show.setSourceKey("rdp:teacher");
      },
      mp::bus::RequestOptions{.deadline = 10s});
  ASSERT_TRUE(reply.ok()) << reply.error_text() << "\n" << system.rdp_log();
  EXPECT_TRUE(eventually(
      [&] {
        return system.rdp_log().find("projection of " + system.session_display().name() + " ") !=
                   std::string::npos &&
               segments_shared_with_x(pid, account->pw_uid) >= 2;
      },
      10s))
      << "the projection feed does not capture through MIT-SHM\n"
      << system.rdp_log();
  EXPECT_EQ(system.wait_for_pattern(15s, 2, "/tmp/mp-rdp-as-user-projected.png"), 0)
      << system.rdp_log();
  EXPECT_EQ(system.rdp_log().find("no MIT-SHM"), std::string::npos) << system.rdp_log();
  client->stop(3s);
}

TEST_F(RdpUser, APortOnlyRootMayUseIsRefusedWithTheReason) {
  std::ifstream sysctl("/proc/sys/net/ipv4/ip_unprivileged_port_start");
  int lowest = 1024;
  sysctl >> lowest;
  if (lowest <= 389) GTEST_SKIP() << "every port is unprivileged here (" << lowest << ")";
  TempDir dir("mprdpu");
  auto result = run(bin_dir() / "mp-rdp",
                    {"--runtime-dir", (dir / "run").string(), "--state-dir",
                     (dir / "state").string(), "--listen", "127.0.0.1:389"},
                    {}, 15s);
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_NE(result.output.find("port 389 is below " + std::to_string(lowest)), std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("--user \"\""), std::string::npos) << result.output;
}

TEST_F(RdpUser, ItRefusesToStartWhenItsUserCouldNotReachTheBus) {
  // A bus in a directory only root may pass through (TempDir is 0700).
  TempDir dir("mprdpu");
  ChildProcess bus(bin_dir() / "mp-bus", {"--runtime-dir", (dir / "run").string()},
                   ChildProcess::Options{.output_file = dir / "bus.log"});
  ASSERT_TRUE(eventually([&] { return std::filesystem::exists(dir / "run" / "requests"); }, 5s));
  ChildProcess rdp(
      bin_dir() / "mp-rdp",
      {"--runtime-dir", (dir / "run").string(), "--state-dir", (dir / "state").string(), "--listen",
       "127.0.0.1:" + std::to_string(free_port())},
      ChildProcess::Options{.output_file = dir / "rdp.log"});
  auto code = rdp.wait(15s);
  ASSERT_TRUE(code.has_value()) << "mp-rdp went on\n" << read_file(dir / "rdp.log");
  EXPECT_EQ(*code, 1);
  std::string log = read_file(dir / "rdp.log");
  EXPECT_NE(log.find("as mp-rdp it could not reach the bus"), std::string::npos) << log;
  EXPECT_EQ(log.find("listening on"), std::string::npos) << log;

  // --user "" keeps root on purpose, and then it serves.
  ChildProcess as_root(
      bin_dir() / "mp-rdp",
      {"--runtime-dir", (dir / "run").string(), "--state-dir", (dir / "state").string(), "--listen",
       "127.0.0.1:" + std::to_string(free_port()), "--user", ""},
      ChildProcess::Options{.output_file = dir / "rdp-root.log"});
  EXPECT_TRUE(eventually(
      [&] { return read_file(dir / "rdp-root.log").find("listening on") != std::string::npos; },
      15s))
      << read_file(dir / "rdp-root.log");
  EXPECT_EQ(process_status(as_root.pid())["Uid"], "0\t0\t0\t0");
}

}  // namespace
}  // namespace mp::test
