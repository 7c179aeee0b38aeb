// mpctl as a real process: arguments, an unreachable bus, and against a real supervised host.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <sstream>
#include <string>
#include <vector>

#include "supervised_host.h"

namespace mp::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

RunResult mpctl(const std::vector<std::string>& args, ChildProcess::Options options = {}) {
  return run(bin_dir() / "mpctl", args, std::move(options), 20s);
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(Mpctl, BadArgumentsExitTwo) {
  TempDir dir("mpctl");
  const std::string runtime = dir.path().string();
  EXPECT_EQ(mpctl({}).exit_code, 2);
  EXPECT_EQ(mpctl({"frobnicate"}).exit_code, 2);
  EXPECT_EQ(mpctl({"--runtime-dir", runtime, "restart"}).exit_code, 2) << "SERVICE is required";
  EXPECT_EQ(mpctl({"--timeout", "soon", "status"}).exit_code, 2);
  EXPECT_EQ(mpctl({"status", "--jsn"}).exit_code, 2);
  EXPECT_EQ(mpctl({"user"}).exit_code, 2);
  EXPECT_EQ(mpctl({"tap", "--count", "0"}).exit_code, 2);

  RunResult role =
      mpctl({"--runtime-dir", runtime, "user", "add", "bob", "--role", "king", "--password-stdin"});
  EXPECT_EQ(role.exit_code, 2);
  EXPECT_TRUE(contains(role.output, "king")) << role.output;

  RunResult no_stdin_flag =
      mpctl({"--runtime-dir", runtime, "user", "add", "bob", "--role", "standard"});
  EXPECT_EQ(no_stdin_flag.exit_code, 2);
  EXPECT_TRUE(contains(no_stdin_flag.output, "--password-stdin")) << no_stdin_flag.output;

  RunResult help = mpctl({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  for (const char* command : {"status", "stations", "user", "restart", "stop", "start", "tap"}) {
    EXPECT_TRUE(contains(help.output, command)) << command << " missing from\n" << help.output;
  }
}

TEST(Mpctl, UnreachableBusExitsThreeWithClearMessage) {
  TempDir dir("mpctl");
  for (std::vector<std::string> command : {std::vector<std::string>{"status"},
                                           {"stations", "--json"},
                                           {"restart", "session"},
                                           {"user", "list"},
                                           {"tap"}}) {
    std::vector<std::string> args{"--runtime-dir", dir.path().string()};
    args.insert(args.end(), command.begin(), command.end());
    RunResult result = mpctl(args);
    EXPECT_EQ(result.exit_code, 3) << command[0];
    EXPECT_TRUE(contains(result.output, "mpctl: cannot reach the multipoint bus at " +
                                            (dir.path() / "requests").string() +
                                            ": no such socket"))
        << result.output;
    EXPECT_TRUE(contains(result.output, "is multipoint running?")) << result.output;
  }
}

TEST(Mpctl, SilentBusTimesOutWithExitThree) {
  // A socket file nobody answers on: what a crashed broker leaves behind.
  TempDir dir("mpctl");
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::string path = (dir.path() / "requests").string();
  std::snprintf(address.sun_path, sizeof address.sun_path, "%s", path.c_str());
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  close(fd);

  RunResult result = mpctl({"--runtime-dir", dir.path().string(), "--timeout", "300", "status"});
  EXPECT_EQ(result.exit_code, 3);
  EXPECT_TRUE(contains(result.output, "the bus did not answer within 300 ms")) << result.output;
}

class MpctlOnHost : public ::testing::Test {
 protected:
  void SetUp() override {
    // They are built with the tests: missing ones are a build bug, not a reason to skip.
    if (!binaries_present({"mp-supervisor", "mpctl", "mp-bus", "mp-session", "mp-policy"})) {
      FAIL() << "needs mp-supervisor, mpctl, mp-bus, mp-session and mp-policy in " << bin_dir();
    }
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << "--- supervisor log ---\n" << host.log();
  }
  RunResult user_add(const std::string& name, const std::string& role,
                     const std::string& password) {
    ChildProcess::Options options;
    options.stdin_text = password;
    return host.mpctl({"user", "add", name, "--role", role, "--password-stdin"}, options);
  }
  SupervisedHost host;
};

// As root, userAdd creates a Linux account: names unique to this run, removed at the end.
class UniqueAccounts {
 public:
  std::string name(const std::string& base) {
    names_.push_back(base + std::to_string(getpid()));
    return names_.back();
  }
  ~UniqueAccounts() {
    for (const auto& n : names_) mp::test::remove_linux_account(n);
  }

 private:
  std::vector<std::string> names_;
};

TEST_F(MpctlOnHost, UserAddAndList) {
  host.start();
  ASSERT_TRUE(host.wait_until_up({"bus", "session"}));
  UniqueAccounts accounts;
  const std::string alice = accounts.name("alice"), teacher = accounts.name("teacher");

  RunResult added = user_add(alice, "standard", "correct horse battery\r\n");
  ASSERT_EQ(added.exit_code, 0) << added.output;
  RunResult admin = user_add(teacher, "dashboard", "another good passphrase");
  ASSERT_EQ(admin.exit_code, 0) << admin.output;

  RunResult list = host.mpctl({"user", "list", "--json"});
  ASSERT_EQ(list.exit_code, 0) << list.output;
  json users = json::parse(list.output);
  std::map<std::string, std::string> roles;
  for (const auto& user : users) roles[user["name"]] = user["role"];
  EXPECT_EQ(roles[alice], "standard");
  EXPECT_EQ(roles[teacher], "dashboard");

  RunResult table = host.mpctl({"user", "list"});
  EXPECT_EQ(table.exit_code, 0);
  EXPECT_TRUE(contains(table.output, "NAME")) << table.output;
  EXPECT_TRUE(contains(table.output, "ROLE")) << table.output;
  EXPECT_TRUE(contains(table.output, alice)) << table.output;

  // Refusals by the session service: exit 1 with its error kind and reason.
  RunResult duplicate = user_add(alice, "standard", "correct horse battery");
  EXPECT_EQ(duplicate.exit_code, 1) << duplicate.output;
  EXPECT_TRUE(contains(duplicate.output, "invalid")) << duplicate.output;
  RunResult weak = user_add("bob", "standard", "short");
  EXPECT_EQ(weak.exit_code, 1) << weak.output;
  EXPECT_TRUE(contains(weak.output, "password")) << weak.output;

  // Refusals by mpctl itself: exit 2 with a reason.
  RunResult empty = user_add("carol", "standard", "\n");
  EXPECT_EQ(empty.exit_code, 2);
  EXPECT_TRUE(contains(empty.output, "no password")) << empty.output;
  RunResult role = user_add("dave", "superuser", "correct horse battery");
  EXPECT_EQ(role.exit_code, 2);
  EXPECT_TRUE(contains(role.output, "superuser")) << role.output;
}

TEST_F(MpctlOnHost, UserSetRoleAndPasswd) {
  host.start();
  ASSERT_TRUE(host.wait_until_up({"bus", "session"}));
  UniqueAccounts accounts;
  const std::string erin = accounts.name("erin");
  ASSERT_EQ(user_add(erin, "standard", "first good passphrase").exit_code, 0);

  RunResult promoted = host.mpctl({"user", "set-role", erin, "dashboard"});
  ASSERT_EQ(promoted.exit_code, 0) << promoted.output;
  EXPECT_TRUE(contains(promoted.output, "role changed")) << promoted.output;
  json users = json::parse(host.mpctl({"user", "list", "--json"}).output);
  for (const auto& user : users) {
    if (user["name"] == erin) {
      EXPECT_EQ(user["role"], "dashboard");
    }
  }

  ChildProcess::Options new_password;
  new_password.stdin_text = "second good passphrase\n";
  RunResult reset = host.mpctl({"user", "passwd", erin, "--password-stdin"}, new_password);
  ASSERT_EQ(reset.exit_code, 0) << reset.output;
  EXPECT_TRUE(contains(reset.output, "password reset")) << reset.output;

  ChildProcess::Options weak;
  weak.stdin_text = "short\n";
  RunResult refused = host.mpctl({"user", "passwd", erin, "--password-stdin"}, weak);
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_TRUE(contains(refused.output, "password")) << refused.output;
  RunResult nobody = host.mpctl({"user", "set-role", "nobody" + erin, "admin"});
  EXPECT_EQ(nobody.exit_code, 1) << nobody.output;
  RunResult bad_role = host.mpctl({"user", "set-role", erin, "root"});
  EXPECT_EQ(bad_role.exit_code, 2) << bad_role.output;
}

TEST_F(MpctlOnHost, StationsListsAsTableAndJson) {
  host.start();
  ASSERT_TRUE(host.wait_until_up({"bus", "session"}));
  RunResult json_list = host.mpctl({"stations", "--json"});
  ASSERT_EQ(json_list.exit_code, 0) << json_list.output;
  EXPECT_TRUE(json::parse(json_list.output).is_array());
  RunResult table = host.mpctl({"stations"});
  ASSERT_EQ(table.exit_code, 0) << table.output;
  EXPECT_TRUE(contains(table.output, "KEY")) << table.output;
  EXPECT_TRUE(contains(table.output, "TRANSPORT")) << table.output;
}

TEST_F(MpctlOnHost, StationAdmissionIsSetAndShown) {
  host.start();
  ASSERT_TRUE(host.wait_until_up({"bus", "session"}));
  RunResult shown = host.mpctl({"station", "allow-new"});
  ASSERT_EQ(shown.exit_code, 0) << shown.output;
  EXPECT_TRUE(contains(shown.output, "new stations may log on")) << shown.output;
  RunResult closed = host.mpctl({"station", "allow-new", "off"});
  ASSERT_EQ(closed.exit_code, 0) << closed.output;
  EXPECT_TRUE(contains(closed.output, "new stations may not log on")) << closed.output;
  RunResult admitted = host.mpctl({"station", "admit", "rdp:lab-9"});
  ASSERT_EQ(admitted.exit_code, 0) << admitted.output;
  EXPECT_TRUE(contains(admitted.output, "rdp:lab-9: admitted")) << admitted.output;
  RunResult listed = host.mpctl({"stations", "--json"});
  EXPECT_TRUE(contains(listed.output, "rdp:lab-9")) << listed.output;
  EXPECT_EQ(host.mpctl({"station", "allow-new", "maybe"}).exit_code, 2);
  EXPECT_EQ(host.mpctl({"station", "admit", "not a key"}).exit_code, 1);
}

TEST_F(MpctlOnHost, StatusFallsBackToTheBusWithoutSupervisor) {
  // The bus alone, as when services run as systemd units.
  ChildProcess::Options options;
  options.output_file = host.dir() / "bus.log";
  ChildProcess bus(bin_dir() / "mp-bus", {"--runtime-dir", host.runtime_dir().string()}, options);
  ASSERT_TRUE(
      eventually([&] { return std::filesystem::exists(host.runtime_dir() / "requests"); }, 10s));
  json status;
  ASSERT_TRUE(eventually(
      [&] {
        status = host.status();
        return status.is_array();
      },
      10s));
  ASSERT_GE(status.size(), 1u);
  EXPECT_EQ(status[0]["service"], "bus");
  EXPECT_TRUE(status[0]["restarts"].is_null());
  RunResult restart = host.mpctl({"restart", "session"});
  EXPECT_EQ(restart.exit_code, 3) << "no supervisor to ask: unavailable, as for every verb";
  EXPECT_TRUE(contains(restart.output, "unavailable")) << restart.output;
}

TEST_F(MpctlOnHost, TapPrintsJsonLines) {
  host.start({"--services", "bus"});
  ASSERT_TRUE(host.wait_until_up({"bus"}));
  ChildProcess::Options options;
  options.output_file = host.dir() / "tap.out";
  ChildProcess tap(bin_dir() / "mpctl",
                   {"--runtime-dir", host.runtime_dir().string(), "tap", "--json", "--count", "2",
                    "req.supervisor"},
                   options);
  // The tap subscribes asynchronously: ask until it has seen two requests.
  ASSERT_TRUE(eventually(
      [&] {
        host.mpctl({"status"});
        return !tap.running();
      },
      15s));
  EXPECT_EQ(tap.wait(1s), std::optional<int>(0));
  std::istringstream lines(read_file(host.dir() / "tap.out"));
  std::string line;
  int count = 0;
  while (std::getline(lines, line)) {
    json message = json::parse(line);  // each line on its own is JSON
    EXPECT_EQ(message["topic"], "req.supervisor");
    EXPECT_EQ(message["message"]["header"]["source"], "mpctl");
    EXPECT_TRUE(message["message"].contains("statusRequest")) << line;
    ++count;
  }
  EXPECT_EQ(count, 2);
}

TEST_F(MpctlOnHost, TapPrintsTextLinesWithTopic) {
  host.start({"--services", "bus"});
  ASSERT_TRUE(host.wait_until_up({"bus"}));
  ChildProcess::Options options;
  options.output_file = host.dir() / "tap.out";
  ChildProcess tap(
      bin_dir() / "mpctl",
      {"--runtime-dir", host.runtime_dir().string(), "tap", "--count", "1", "rep.supervisor"},
      options);
  ASSERT_TRUE(eventually(
      [&] {
        host.mpctl({"status"});
        return !tap.running();
      },
      15s));
  std::string output = read_file(host.dir() / "tap.out");
  EXPECT_TRUE(output.starts_with("rep.supervisor  (")) << output;
  EXPECT_TRUE(contains(output, "statusReport")) << output;
}

}  // namespace
}  // namespace mp::test
