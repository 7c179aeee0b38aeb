// The bypass suite's web half: a student in a real session (their desktop started by mp-session
// with the web filter required, their programs run as their Unix user with runuser) tries the
// ways around an allow-only web limit. Each must be refused. The origins are the test's, on
// loopback addresses of their own; mp-webfilter may reach them (--allow-loopback-upstream), the
// student may not. Root only: nftables, accounts.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <iostream>

#include "desktop_system.h"
#include "webfilter/webfilter_support.h"

namespace mp::test {
namespace {

using namespace std::chrono_literals;
using mp::webfilter::test::Origin;
using nlohmann::json;

constexpr const char* kAllowedAddress = "127.13.0.1";  // allowed.test really is here
constexpr const char* kForeignAddress = "127.13.0.2";  // a server a student claims it is

// The desktop's autostart: before anything else, one connection out to a port that is not the
// web's; the answer goes to the student's home. Then the usual test pattern.
std::string autostart_script(const std::filesystem::path& file) {
  std::ofstream(file) << "#!/bin/bash\n"
                      << "curl -s -o /dev/null -w '%{http_code} %{exitcode}' --max-time 5 "
                      << "--noproxy '*' http://" << kAllowedAddress
                      << ":8443/hello > \"$HOME/first-second.txt\" 2>/dev/null\n"
                      << "exec " << (bin_dir() / "mp-workload").string()
                      << " --pattern --print-input\n";
  chmod(file.c_str(), 0755);
  return file.string();
}

class BypassWeb : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root: nftables for the student's uid, accounts";
    if (auto missing = missing_desktop_prerequisites(); !missing.empty()) GTEST_SKIP() << missing;
    for (const char* tool : {"/usr/sbin/runuser", "/usr/sbin/nft", "/usr/bin/curl"}) {
      if (access(tool, X_OK) != 0) GTEST_SKIP() << "no " << tool;
    }
    allowed = std::make_unique<Origin>(kAllowedAddress, 80);
    allowed_high = std::make_unique<Origin>(kAllowedAddress, 8443);
    foreign = std::make_unique<Origin>(kForeignAddress, 80);
    // Outside the test's private (0700) directory: the student's desktop runs it.
    script = std::filesystem::path("/tmp") / ("mp-autostart-" + std::to_string(getpid()));
    int proxy = free_port(), transparent = free_port();
    system = std::make_unique<DesktopSystem>(DesktopSystemOptions{
        .session_command = {autostart_script(script)},
        .session_args = {"--web-filter", "required"},
        .webfilter = true,
        .webfilter_args = {
            "--listen", "127.0.0.1:" + std::to_string(proxy), "--transparent-listen",
            "127.0.0.1:" + std::to_string(transparent) + ",[::1]:" + std::to_string(transparent),
            "--allow-loopback-upstream", "--resolve",
            std::string("allowed.test=") + kAllowedAddress, "--resolve",
            std::string("blocked.test=") + kAllowedAddress, "--remove-rules-on-stop",
            "--browser-policy-dir",
            (std::filesystem::path("/tmp") / ("mp-chromium-" + std::to_string(getpid())))
                .string()}});
    auto allow = system->mpctl({"web", "allow", "--all", "allowed.test"});
    ASSERT_EQ(allow.exit_code, 0) << allow.output;
    client = system->start_client({"/nsc", "-gfx"});
    ASSERT_TRUE(eventually([&] { return session().value("agent_up", false); }, 30s))
        << system->log();
  }
  void TearDown() override {
    if (HasFailure() && system) std::cerr << "--- system log (tail) ---\n" << system->log_tail();
    client.reset();
    system.reset();
    std::error_code ec;
    std::filesystem::remove(script, ec);
    std::filesystem::remove_all("/tmp/mp-chromium-" + std::to_string(getpid()), ec);
  }

  json session() { return system->only_session(); }

  // curl as the student, no proxy configured: "HTTP_CODE EXIT_CODE" ("000 7": refused).
  std::string student_curl(std::vector<std::string> args) {
    std::vector<std::string> argv = {"-u",
                                     system->user(),
                                     "--",
                                     "/usr/bin/curl",
                                     "-s",
                                     "-o",
                                     "/dev/null",
                                     "-w",
                                     "%{http_code} %{exitcode}",
                                     "--max-time",
                                     "5",
                                     "--noproxy",
                                     "*"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run("/usr/sbin/runuser", argv, {}, 20s).output;
  }

  std::unique_ptr<Origin> allowed, allowed_high, foreign;
  std::filesystem::path script;
  std::unique_ptr<DesktopSystem> system;
  std::unique_ptr<ChildProcess> client;
};

TEST_F(BypassWeb, EveryWayAroundAnAllowOnlyLimitIsRefused) {
  // The web itself works, through the filter: allowed passes, the rest gets the block page.
  EXPECT_EQ(student_curl({"http://allowed.test/hello", "--resolve",
                          std::string("allowed.test:80:") + kAllowedAddress}),
            "200 0");
  EXPECT_EQ(student_curl({"http://blocked.test/hello", "--resolve",
                          std::string("blocked.test:80:") + kAllowedAddress}),
            "403 0");

  // 1. Another port: not the web, not through the proxy — refused at once.
  EXPECT_EQ(student_curl({std::string("http://") + kAllowedAddress + ":8443/hello"}), "000 7");
  EXPECT_EQ(allowed_high->requests(), 0);

  // 2. IPv6: judged like IPv4, not reset and not around the filter.
  EXPECT_EQ(student_curl({"-6", "http://blocked.test/hello", "--resolve", "blocked.test:80:[::1]"}),
            "403 0");
  EXPECT_EQ(student_curl({"-6", "http://allowed.test/hello", "--resolve", "allowed.test:80:[::1]"}),
            "200 0");

  // 3. A proxy the student starts (a CONNECT relay on 127.0.0.1:1080, run as the student).
  ChildProcess relay(
      "/usr/sbin/runuser",
      {"-u", system->user(), "--", (bin_dir() / "webfilter-probe").string(), "relay", "1080"},
      ChildProcess::Options{.output_file = system->dir() / "relay.log"});
  ASSERT_TRUE(eventually(
      [&] { return read_file(system->dir() / "relay.log").find("listening") != std::string::npos; },
      10s))
      << read_file(system->dir() / "relay.log");
  EXPECT_EQ(student_curl({"-x", "http://127.0.0.1:1080",
                          std::string("http://") + kAllowedAddress + ":8443/hello"}),
            "000 7");
  EXPECT_EQ(allowed_high->requests(), 0);

  // 4. An allowed name in front of another server (transparent mode): the proxy connects to
  //    where the name really is.
  int foreign_before = foreign->requests(), allowed_before = allowed->requests();
  EXPECT_EQ(student_curl({"http://allowed.test/hello", "--resolve",
                          std::string("allowed.test:80:") + kForeignAddress}),
            "200 0");
  EXPECT_EQ(foreign->requests(), foreign_before) << "the foreign server was reached";
  EXPECT_EQ(allowed->requests(), allowed_before + 1);

  // 5. The desktop's autostart, in its first second: already filtered.
  auto home = run("/usr/bin/getent", {"passwd", system->user()}).output;
  ASSERT_TRUE(eventually(
      [&] { return !read_file("/home/" + system->user() + "/first-second.txt").empty(); }, 10s));
  EXPECT_EQ(read_file("/home/" + system->user() + "/first-second.txt"), "000 7")
      << "the autostart program got out before the rules were in";
  EXPECT_EQ(allowed_high->requests(), 0);
}

}  // namespace
}  // namespace mp::test
