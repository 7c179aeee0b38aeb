// mp-webfilter as a real process on a real mp-bus: a kill -9 under load resumes the same
// decisions. (As root, with nftables and a real station user: station_user_test.cpp.)
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "support/process.h"
#include "support/temp_dir.h"
#include "webfilter_support.h"

namespace mp::webfilter::test {
namespace {

using mp::schema::WebMode;
using mp::test::bin_dir;
using mp::test::ChildProcess;
using mp::test::eventually;
using mp::test::free_port;
using mp::test::read_file;

TEST(WebfilterProcess, Kill9UnderLoadResumesTheSamePolicy) {
  mp::test::TempDir dir("mp-wfp");
  auto runtime = dir / "run";
  ChildProcess broker(bin_dir() / "mp-bus", {"--runtime-dir", runtime.string()},
                      {.output_file = dir / "bus.log"});
  Origin origin;
  WorldOptions w;
  w.in_process_bus = false;
  w.runtime_dir = runtime.string();
  w.webfilter = false;
  w.initial_policy = {StationPolicy{"", WebMode::BLOCK_ONLY, {"example.com"}, "all"}};
  World world(w);

  auto port = static_cast<std::uint16_t>(free_port());
  std::string allowed = "allowed.test:" + std::to_string(origin.port());
  std::string blocked = "example.com:" + std::to_string(origin.port());
  auto start = [&] {
    return std::make_unique<ChildProcess>(
        bin_dir() / "mp-webfilter",
        std::vector<std::string>{"--runtime-dir", runtime.string(), "--listen",
                                 "127.0.0.1:" + std::to_string(port), "--transparent-listen", "",
                                 "--no-nftables", "--allow-loopback-upstream", "--resolve",
                                 "allowed.test=127.0.0.1", "--resolve", "example.com=127.0.0.1"},
        ChildProcess::Options{.output_file = dir / "webfilter.log"});
  };
  auto webfilter = start();
  auto serving = [&] { return fetch(port, get(allowed), 2s).status == 200; };
  ASSERT_TRUE(eventually(serving, 20s)) << read_file(dir / "webfilter.log");

  // Load: keep-alive clients alternating an allowed and a blocked request.
  std::atomic<bool> stop{false};
  std::atomic<int> wrong{0}, allowed_ok{0}, blocked_ok{0}, unavailable{0};
  auto load = [&] {
    std::unique_ptr<Connection> c;
    for (int i = 0; !stop; ++i) {
      if (!c || !c->ok()) {
        c = std::make_unique<Connection>(port);
        if (!c->ok()) {
          std::this_thread::sleep_for(5ms);
          continue;
        }
      }
      bool want_allowed = i % 2 == 0;
      if (!c->send(get(want_allowed ? allowed : blocked))) {
        c.reset();
        continue;
      }
      auto r = c->response(3s);
      if (!r) {
        c.reset();
        continue;
      }
      if (r->status == 503) {
        ++unavailable;  // the restarted proxy before its policy came: refused, never allowed
      } else if (want_allowed ? r->status == 200 : r->status == 403) {
        ++(want_allowed ? allowed_ok : blocked_ok);
      } else {
        ++wrong;
      }
      if (r->close) c.reset();
    }
  };
  std::vector<std::thread> clients;
  for (int i = 0; i < 4; ++i) clients.emplace_back(load);
  ASSERT_TRUE(eventually([&] { return allowed_ok > 50 && blocked_ok > 50; }, 10s));

  webfilter->signal(SIGKILL);
  ASSERT_TRUE(webfilter->wait(5s));
  int allowed_before = allowed_ok, blocked_before = blocked_ok;
  webfilter = start();
  EXPECT_TRUE(eventually(
      [&] { return allowed_ok > allowed_before + 50 && blocked_ok > blocked_before + 50; }, 20s))
      << read_file(dir / "webfilter.log");
  stop = true;
  for (auto& t : clients) t.join();
  EXPECT_EQ(wrong, 0) << "a decision differed from the policy";
  EXPECT_EQ(webfilter->stop(), 0);
}

TEST(WebfilterProcess, StaysRootWhenItsUserCouldNotReachTheBus) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: the drop to mp-webfilter";
  // The test's directory is root's alone (0700): as mp-webfilter the bus would be out of reach.
  mp::test::TempDir dir("mp-wfr");
  auto runtime = dir / "run";
  ChildProcess broker(bin_dir() / "mp-bus", {"--runtime-dir", runtime.string()},
                      {.output_file = dir / "bus.log"});
  ASSERT_TRUE(eventually([&] { return std::filesystem::exists(runtime / "requests"); }, 10s));
  auto port = static_cast<std::uint16_t>(free_port());
  ChildProcess webfilter(
      bin_dir() / "mp-webfilter",
      {"--runtime-dir", runtime.string(), "--listen", "127.0.0.1:" + std::to_string(port),
       "--transparent-listen", "", "--no-nftables"},
      {.output_file = dir / "webfilter.log"});
  auto said = [&] {
    return read_file(dir / "webfilter.log").find("listening on") != std::string::npos;
  };
  ASSERT_TRUE(eventually(said, 10s)) << read_file(dir / "webfilter.log");
  std::string log = read_file(dir / "webfilter.log");
  EXPECT_NE(log.find("staying root: as mp-webfilter this process could not reach the bus"),
            std::string::npos)
      << log;
  auto status = read_file("/proc/" + std::to_string(webfilter.pid()) + "/status");
  EXPECT_NE(status.find("\nUid:\t0\t0\t0\t0\n"), std::string::npos) << status;
  EXPECT_EQ(webfilter.stop(), 0);
}

}  // namespace
}  // namespace mp::webfilter::test
