// mp-webfilter as a real process on a real mp-bus: a kill -9 under load resumes the same
// decisions; as root, nftables in a network namespace forces a station user's web traffic
// through the proxy (with a real mp-session saying who is at which station).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "support/process.h"
#include "support/temp_dir.h"
#include "tls_sni.h"
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

// Root only: a network namespace with a veth pair to this one, nftables inside it. ----------

class Namespace {
 public:
  Namespace() {
    std::string id = std::to_string(getpid());
    name = "mpwf" + id;
    host_link = "wfh" + id;
    std::string octet = std::to_string(getpid() % 250 + 1);
    host_address = "10.249." + octet + ".1";
    inner_address = "10.249." + octet + ".2";
    ok = ip({"netns", "add", name}) &&
         ip({"link", "add", host_link, "type", "veth", "peer", "name", "wfn" + id}) &&
         ip({"link", "set", "wfn" + id, "netns", name}) &&
         ip({"addr", "add", host_address + "/30", "dev", host_link}) &&
         ip({"link", "set", host_link, "up"}) &&
         ip({"-n", name, "addr", "add", inner_address + "/30", "dev", "wfn" + id}) &&
         ip({"-n", name, "link", "set", "wfn" + id, "up"}) &&
         ip({"-n", name, "link", "set", "lo", "up"});
  }
  ~Namespace() {
    ip({"link", "del", host_link});
    ip({"netns", "del", name});
  }
  static bool ip(const std::vector<std::string>& args) {
    auto r = mp::test::run("/usr/sbin/ip", args);
    if (r.exit_code != 0) std::fprintf(stderr, "ip %s: %s", args[0].c_str(), r.output.c_str());
    return r.exit_code == 0;
  }
  // Runs a program inside the namespace (as `uid` unless it is -1).
  mp::test::RunResult run(std::vector<std::string> command, int uid = -1, int gid = -1) {
    std::vector<std::string> args = {"netns", "exec", name};
    if (uid >= 0) {
      args.insert(args.end(), {"/usr/bin/setpriv", "--reuid=" + std::to_string(uid),
                               "--regid=" + std::to_string(gid), "--clear-groups"});
    }
    args.insert(args.end(), command.begin(), command.end());
    return mp::test::run("/usr/sbin/ip", args, {}, 30s);
  }
  std::string name, host_link, host_address, inner_address;
  bool ok = false;
};

// A student account: mp-session creates the Linux account at userAdd (as root); the test
// looks it up afterwards and removes it, with anything still running as it, at the end.
class UnixUser {
 public:
  UnixUser() : name("mpwf" + std::to_string(getpid())) {}
  bool look_up() {
    passwd* entry = getpwnam(name.c_str());
    if (!entry) return false;
    uid = static_cast<int>(entry->pw_uid);
    gid = static_cast<int>(entry->pw_gid);
    return true;
  }
  ~UnixUser() {
    if (uid < 0) return;
    mp::test::remove_linux_account(name);
  }
  std::string name;
  int uid = -1, gid = -1;
};

std::string curl_status(Namespace& ns, const UnixUser* user,
                        const std::vector<std::string>& extra) {
  std::vector<std::string> command = {"/usr/bin/curl", "-s",        "-o", "/dev/null",  "-w",
                                      "%{http_code}",  "--noproxy", "*",  "--max-time", "4"};
  command.insert(command.end(), extra.begin(), extra.end());
  auto r = user ? ns.run(command, user->uid, user->gid) : ns.run(command);
  return r.output;
}

TEST(WebfilterProcess, NftablesForceStationUsersThroughTheProxy) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: network namespaces, nftables, useradd";
  for (const char* tool : {"/usr/sbin/nft", "/usr/sbin/ip", "/usr/bin/curl", "/usr/bin/setpriv",
                           "/usr/sbin/useradd"}) {
    if (!std::filesystem::exists(tool)) GTEST_SKIP() << tool << " is not installed";
  }
  Namespace ns;
  ASSERT_TRUE(ns.ok) << "could not set up the network namespace";
  UnixUser student;

  mp::test::TempDir dir("mp-wfn");
  auto runtime = dir / "run";
  ChildProcess broker(bin_dir() / "mp-bus", {"--runtime-dir", runtime.string()},
                      {.output_file = dir / "bus.log"});
  ChildProcess session(bin_dir() / "mp-session",
                       {"--runtime-dir", runtime.string(), "--state-dir", (dir / "state").string()},
                       {.output_file = dir / "session.log"});
  WorldOptions w;
  w.in_process_bus = false;
  w.runtime_dir = runtime.string();
  w.webfilter = false;
  w.fake_sessions = false;  // the real mp-session
  w.initial_policy = {
      StationPolicy{"", WebMode::OFF, {}, "all"},
      StationPolicy{"fake:nft-1", WebMode::ALLOW_ONLY, {"allowed.test"}, "station:fake:nft-1"}};
  World world(w);

  // The student logs on at fake:nft-1, through mp-session.
  {
    zmq::context_t context;
    mp::bus::Reactor reactor;
    mp::bus::Client caller(context, reactor, mp::bus::Endpoints::in_directory(runtime),
                           mp::bus::ClientOptions{.service = "test"});
    auto call = [&](const mp::bus::Build& body, const std::string& key) {
      return caller.call("session", body,
                         mp::bus::RequestOptions{.deadline = 3s, .idempotency_key = key});
    };
    auto snapshot = [&] {
      return call(
                 [](mp::schema::Envelope::Builder e) {
                   e.initSnapshotRequest().setTopic("session");
                 },
                 "")
          .ok();
    };
    ASSERT_TRUE(eventually(snapshot, 15s)) << read_file(dir / "session.log");
    auto added = call(
        [&](mp::schema::Envelope::Builder e) {
          auto b = e.initUserAdd();
          b.setName(student.name);
          b.setRole(mp::schema::Role::STANDARD);
          b.setPassword("student-password-1");
        },
        "add");
    ASSERT_TRUE(added.ok()) << added.error_text();
    ASSERT_TRUE(student.look_up()) << "mp-session did not create the Linux account";
    auto attached = call(
        [](mp::schema::Envelope::Builder e) {
          auto info = e.initStationAttach().initStation();
          info.setKey("fake:nft-1");
          info.setTransport("fake");
          info.setClientName("nft-1");
          info.setAddress("192.0.2.1");
          auto caps = info.initCapabilities();
          caps.setVideo(true);
          caps.setKeyboard(true);
          caps.setMouse(true);
        },
        "attach");
    ASSERT_TRUE(attached.ok()) << attached.error_text();
    auto started = call(
        [&](mp::schema::Envelope::Builder e) {
          auto b = e.initSessionStart();
          b.setStationKey("fake:nft-1");
          b.setUser(student.name);
        },
        "start");
    ASSERT_TRUE(started.ok()) << started.error_text();
  }

  // Origins on this side of the veth: web, TLS, and DNS-over-TLS's port.
  Origin web(ns.host_address, 80);
  TlsEcho tls(ns.host_address, 443);
  Origin dot(ns.host_address, 853);

  ChildProcess webfilter("/usr/sbin/ip",
                         {"netns", "exec", ns.name, (bin_dir() / "mp-webfilter").string(),
                          "--runtime-dir", runtime.string(), "--listen", "127.0.0.1:3128",
                          "--transparent-listen", "127.0.0.1:3129", "--log-level", "debug"},
                         {.output_file = dir / "webfilter.log"});
  auto rules_have_student = [&] {
    auto r =
        ns.run({"/usr/sbin/nft", "list", "set", "inet", "multipoint_webfilter", "station_uids"});
    return r.output.find(std::to_string(student.uid)) != std::string::npos;
  };
  ASSERT_TRUE(eventually(rules_have_student, 20s)) << read_file(dir / "webfilter.log");

  std::string web_ip = ns.host_address;
  auto resolve = [&](const std::string& name, int port) {
    return name + ":" + std::to_string(port) + ":" + web_ip;
  };
  // The student's direct connections land in the proxy and are judged by the station policy.
  int before = web.requests();
  EXPECT_EQ(curl_status(ns, &student,
                        {"--resolve", resolve("allowed.test", 80), "http://allowed.test/hello"}),
            "200");
  EXPECT_EQ(web.requests(), before + 1);
  EXPECT_EQ(web.last_host(), "allowed.test");
  EXPECT_EQ(curl_status(ns, &student,
                        {"--resolve", resolve("blocked.test", 80), "http://blocked.test/hello"}),
            "403");
  EXPECT_EQ(curl_status(ns, &student, {"http://" + web_ip + "/hello"}), "403");  // IP, allow-only
  EXPECT_EQ(web.requests(), before + 1);

  // HTTPS: the ClientHello's SNI decides; a refused one never reaches the origin.
  curl_status(ns, &student, {"--resolve", resolve("blocked.test", 443), "https://blocked.test/"});
  EXPECT_EQ(tls.connections(), 0);
  curl_status(ns, &student, {"--resolve", resolve("allowed.test", 443), "https://allowed.test/"});
  ASSERT_EQ(tls.connections(), 1);
  std::string sni;
  EXPECT_EQ(parse_client_hello(tls.first_bytes().at(0), sni), HelloStatus::ok);
  EXPECT_EQ(sni, "allowed.test");

  // DNS-over-TLS is dropped for the student, not for others.
  EXPECT_EQ(curl_status(ns, &student, {"--max-time", "2", "http://" + web_ip + ":853/hello"}),
            "000");
  EXPECT_EQ(dot.requests(), 0);
  EXPECT_EQ(curl_status(ns, nullptr, {"http://" + web_ip + ":853/hello"}), "200");
  // Root is no station user: its traffic goes straight to the origin.
  EXPECT_EQ(curl_status(ns, nullptr,
                        {"--resolve", resolve("blocked.test", 80), "http://blocked.test/hello"}),
            "200");

  // SIGTERM removes the rules: the student's traffic then goes straight to the origin.
  EXPECT_EQ(webfilter.stop(), 0) << read_file(dir / "webfilter.log");
  auto tables = ns.run({"/usr/sbin/nft", "list", "tables"});
  EXPECT_EQ(tables.output.find("multipoint_webfilter"), std::string::npos) << tables.output;
  EXPECT_EQ(curl_status(ns, &student,
                        {"--resolve", resolve("blocked.test", 80), "http://blocked.test/hello"}),
            "200");

  // The student's desktop outlives mp-session by design: end it as `./mp down` does.
  EXPECT_EQ(session.stop(), 0);
  auto ended = mp::test::run(bin_dir() / "mp-session",
                             {"--end-all-sessions", "--runtime-dir", runtime.string(),
                              "--state-dir", (dir / "state").string()});
  EXPECT_EQ(ended.exit_code, 0) << ended.output;
}

}  // namespace
}  // namespace mp::webfilter::test
