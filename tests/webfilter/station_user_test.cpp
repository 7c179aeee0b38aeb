// As root, for real: a station user (a Unix account at a station; its programs run with
// `setpriv` as that uid) tries the ways around the web filter that issue 13 found, inside a
// network namespace where mp-webfilter runs as its own user with its nftables helper. Origins
// listen outside the namespace; which origin saw a connection is what counts. One test has the
// real mp-session make the account and start the desktop; the others fake mp-session's part.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>

#include "mp/service/privileges.h"
#include "netns_support.h"
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
using mp::test::read_file;

constexpr const char* kStation = "fake:st-1";
// A TLS alert: fatal, access_denied.
constexpr const char* kAccessDeniedHex = "15030300020231";

// The fields of /proc/PID/status that say who a process is.
struct ProcessIdentity {
  std::string name, uid, gid, groups, no_new_privs, cap_eff;
  int ppid = 0;
};

std::optional<ProcessIdentity> identity_of(const std::filesystem::path& status_file) {
  std::ifstream file(status_file);
  if (!file) return std::nullopt;
  ProcessIdentity id;
  std::string line;
  auto value = [&](const char* key) { return line.substr(std::strlen(key)); };
  while (std::getline(file, line)) {
    if (line.starts_with("Name:\t")) id.name = value("Name:\t");
    if (line.starts_with("Uid:\t")) id.uid = value("Uid:\t");
    if (line.starts_with("Gid:\t")) id.gid = value("Gid:\t");
    if (line.starts_with("Groups:\t")) id.groups = value("Groups:\t");
    if (line.starts_with("NoNewPrivs:\t")) id.no_new_privs = value("NoNewPrivs:\t");
    if (line.starts_with("CapEff:\t")) id.cap_eff = value("CapEff:\t");
    if (line.starts_with("PPid:\t")) id.ppid = std::stoi(value("PPid:\t"));
  }
  return id;
}

// "1001\t1001\t1001\t1001" for one uid in all four places.
std::string four(int id) {
  std::string n = std::to_string(id);
  return n + "\t" + n + "\t" + n + "\t" + n;
}

class StationUserTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root: network namespaces, nftables, useradd";
    for (const char* tool : {"/usr/sbin/nft", "/usr/sbin/ip", "/usr/bin/curl", "/usr/bin/setpriv",
                             "/usr/sbin/useradd"}) {
      if (!std::filesystem::exists(tool)) GTEST_SKIP() << tool << " is not installed";
    }
    ns = std::make_unique<Namespace>();
    ASSERT_TRUE(ns->ok) << "could not set up the network namespace";
    service_account = mp::service::ensure_system_user("mp-webfilter");
    ASSERT_TRUE(service_account.ok()) << service_account.error;

    dir = std::make_unique<mp::test::TempDir>("mp-wfs");
    chmod(dir->path().c_str(), 0755);  // mp-webfilter, dropped, walks through it to the bus
    runtime = *dir / "run";
    broker = std::make_unique<ChildProcess>(bin_dir() / "mp-bus",
                                            std::vector<std::string>{"--runtime-dir", runtime},
                                            ChildProcess::Options{.output_file = *dir / "bus.log"});
    ASSERT_NO_FATAL_FAILURE(open_bus_to_service_group());
    WorldOptions w;
    w.in_process_bus = false;
    w.runtime_dir = runtime;
    w.webfilter = false;
    if (real_session_) {
      session = std::make_unique<ChildProcess>(
          bin_dir() / "mp-session",
          std::vector<std::string>{"--runtime-dir", runtime, "--state-dir", *dir / "state"},
          ChildProcess::Options{.output_file = *dir / "session.log"});
      w.fake_sessions = false;
    } else {
      // mp-session's part, faked: a multipoint user at the station, backed by a real account.
      student = std::make_unique<UnixUser>("mpws" + std::to_string(getpid()), true);
      ASSERT_GE(student->uid, 0) << "useradd failed";
      w.initial_users = {student->name};
      w.initial_sessions = {FakeSessionRecord{.id = 1, .user = student->name, .station = kStation}};
    }
    w.initial_policy = {
        StationPolicy{"", WebMode::ALLOW_ONLY, {"allowed.test"}, "all"},
        StationPolicy{kStation, WebMode::ALLOW_ONLY, {"allowed.test"}, "station:fake:st-1"}};
    world = std::make_unique<World>(w);

    // Origins outside the namespace: the name's real ones, a foreign server, high ports.
    web = std::make_unique<Origin>(ns->host_address, 80);
    web6 = std::make_unique<Origin>(ns->host_address6, 80);
    tls = std::make_unique<TlsEcho>(ns->host_address, 443);
    tls6 = std::make_unique<TlsEcho>(ns->host_address6, 443);
    foreign_web = std::make_unique<Origin>(ns->foreign_address, 80);
    foreign_tls = std::make_unique<TlsEcho>(ns->foreign_address, 443);
    high = std::make_unique<Origin>(ns->host_address, 8443);
    allowed_port = std::make_unique<Origin>(ns->host_address, 8444);

    start_webfilter();
    if (real_session_) {
      ASSERT_NO_FATAL_FAILURE(log_on_student());
    }
    ASSERT_TRUE(eventually([&] { return rules_hold(student->uid); }, 20s))
        << read_file(*dir / "webfilter.log");
  }

  void TearDown() override {
    if (webfilter) {
      EXPECT_EQ(webfilter->stop(), 0) << read_file(*dir / "webfilter.log");
    }
    webfilter.reset();
    if (session) {
      // The student's desktop outlives mp-session by design: end it as `./mp down` does.
      session->stop();
      mp::test::run(bin_dir() / "mp-session", {"--end-all-sessions", "--runtime-dir", runtime,
                                               "--state-dir", *dir / "state"});
    }
  }

  // Until lib/bus opens the runtime directory to the service group itself, the test does:
  // root:mpoint 0750 and sockets 0660, as a bus reachable by dropped services has them.
  void open_bus_to_service_group() {
    std::vector<std::filesystem::path> sockets = {runtime / "requests", runtime / "events-in",
                                                  runtime / "events-out"};
    ASSERT_TRUE(eventually(
        [&] {
          for (const auto& s : sockets) {
            if (!std::filesystem::exists(s)) return false;
          }
          return true;
        },
        10s));
    gid_t group = service_account.group_gid;
    ASSERT_EQ(chown(runtime.c_str(), 0, group), 0);
    ASSERT_EQ(chmod(runtime.c_str(), 0750), 0);
    for (const auto& s : sockets) {
      ASSERT_EQ(chown(s.c_str(), 0, group), 0);
      ASSERT_EQ(chmod(s.c_str(), 0660), 0);
    }
  }

  void start_webfilter(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {
        (bin_dir() / "mp-webfilter").string(), "--runtime-dir", runtime, "--listen",
        "127.0.0.1:3128", "--log-level", "debug", "--station-allow", "tcp:8444",
        // Not the machine's Chromium policy: the test's own directory.
        "--browser-policy-dir", (*dir / "chromium-policy").string(),
        // allowed.test's real addresses; anything else a client claims is foreign.
        "--resolve", "allowed.test=" + ns->host_address, "--resolve",
        "allowed.test=" + ns->host_address6};
    args.insert(args.end(), extra.begin(), extra.end());
    webfilter = std::make_unique<ChildProcess>(
        "/usr/sbin/ip", ns->command(args),
        ChildProcess::Options{.output_file = *dir / "webfilter.log"});
  }

  mp::bus::Reply call(const std::string& service, const mp::bus::Build& body,
                      const std::string& key) {
    zmq::context_t context;
    mp::bus::Reactor reactor;
    mp::bus::Client caller(context, reactor, mp::bus::Endpoints::in_directory(runtime),
                           mp::bus::ClientOptions{.service = "test"});
    return caller.call(service, body,
                       mp::bus::RequestOptions{.deadline = 5s, .idempotency_key = key});
  }

  // The student logs on at kStation, through mp-session (which creates the Linux account).
  void log_on_student() {
    auto snapshot = [&] {
      return call(
                 "session",
                 [](mp::schema::Envelope::Builder e) {
                   e.initSnapshotRequest().setTopic("session");
                 },
                 "")
          .ok();
    };
    ASSERT_TRUE(eventually(snapshot, 15s)) << read_file(*dir / "session.log");
    student = std::make_unique<UnixUser>("mpws" + std::to_string(getpid()));
    auto added = call(
        "session",
        [&](mp::schema::Envelope::Builder e) {
          auto b = e.initUserAdd();
          b.setName(student->name);
          b.setRole(mp::schema::Role::STANDARD);
          b.setPassword("student-password-1");
        },
        "add");
    ASSERT_TRUE(added.ok()) << added.error_text();
    ASSERT_TRUE(student->look_up()) << "mp-session did not create the Linux account";
    auto attached = call(
        "session",
        [](mp::schema::Envelope::Builder e) {
          auto info = e.initStationAttach().initStation();
          info.setKey(kStation);
          info.setTransport("fake");
          info.setClientName("st-1");
          info.setAddress("192.0.2.1");
          auto caps = info.initCapabilities();
          caps.setVideo(true);
          caps.setKeyboard(true);
          caps.setMouse(true);
        },
        "attach");
    ASSERT_TRUE(attached.ok()) << attached.error_text();
    auto started = call(
        "session",
        [&](mp::schema::Envelope::Builder e) {
          auto b = e.initSessionStart();
          b.setStationKey(kStation);
          b.setUser(student->name);
        },
        "start");
    ASSERT_TRUE(started.ok()) << started.error_text() << read_file(*dir / "session.log");
  }

  bool rules_hold(int uid) {
    auto r =
        ns->run({"/usr/sbin/nft", "list", "set", "inet", "multipoint_webfilter", "station_uids"});
    return r.output.find(" " + std::to_string(uid)) != std::string::npos;
  }

  std::string as_student(const std::vector<std::string>& curl_args) {
    return curl(*ns, student.get(), curl_args);
  }
  std::string resolve(const std::string& name, int port, const std::string& address) {
    std::string a = address.find(':') == std::string::npos ? address : "[" + address + "]";
    return name + ":" + std::to_string(port) + ":" + a;
  }
  // webfilter-probe inside the namespace as the student.
  mp::test::RunResult probe(const std::vector<std::string>& args) {
    std::vector<std::string> command = {(bin_dir() / "webfilter-probe").string()};
    command.insert(command.end(), args.begin(), args.end());
    return ns->run(command, student->uid, student->gid);
  }
  std::string log() { return read_file(*dir / "webfilter.log"); }

  // The real mp-session (which makes the account and starts a desktop as the student), or a
  // fake session authority and an account made here (no desktop: tests run side by side).
  bool real_session_ = false;
  std::unique_ptr<Namespace> ns;
  mp::service::SystemUser service_account;
  std::unique_ptr<UnixUser> student;
  std::unique_ptr<mp::test::TempDir> dir;
  std::filesystem::path runtime;
  std::unique_ptr<ChildProcess> broker;
  std::unique_ptr<ChildProcess> session;
  std::unique_ptr<World> world;
  std::unique_ptr<Origin> web, web6, foreign_web, high, allowed_port;
  std::unique_ptr<TlsEcho> tls, tls6, foreign_tls;
  std::unique_ptr<ChildProcess> webfilter;
};

// With the real mp-session: the account it made, logged on at the station, its desktop running.
class RealSessionTest : public StationUserTest {
 protected:
  RealSessionTest() { real_session_ = true; }
};

TEST_F(RealSessionTest, WebIsRedirectedAndJudgedByTheStationsPolicy) {
  EXPECT_EQ(as_student({"--resolve", resolve("allowed.test", 80, ns->host_address),
                        "http://allowed.test/hello"}),
            "200 0");
  EXPECT_EQ(web->requests(), 1);
  EXPECT_EQ(web->last_host(), "allowed.test");
  EXPECT_EQ(as_student({"--resolve", resolve("blocked.test", 80, ns->host_address),
                        "http://blocked.test/hello"}),
            "403 0");
  EXPECT_EQ(as_student({"http://" + ns->host_address + "/hello"}), "403 0");  // IP, allow-only
  EXPECT_EQ(web->requests(), 1);
  // HTTPS: the ClientHello's SNI decides; a refused one never reaches the origin.
  as_student(
      {"--resolve", resolve("blocked.test", 443, ns->host_address), "https://blocked.test/"});
  EXPECT_EQ(tls->connections(), 0);
  as_student(
      {"--resolve", resolve("allowed.test", 443, ns->host_address), "https://allowed.test/"});
  ASSERT_EQ(tls->connections(), 1);
  std::string sni;
  EXPECT_EQ(parse_client_hello(tls->first_bytes().at(0), sni), HelloStatus::ok);
  EXPECT_EQ(sni, "allowed.test");
  // Root is no station user: its traffic goes straight to the origin.
  EXPECT_EQ(curl(*ns, nullptr,
                 {"--resolve", resolve("blocked.test", 80, ns->host_address),
                  "http://blocked.test/hello"}),
            "200 0");
}

TEST_F(StationUserTest, OtherPortsAreRefusedAtOnceExceptWhatTheAdministratorAllows) {
  // Issue 13: `curl` to an origin on port 8443 while allow-only was set went straight out.
  std::string url = "http://" + ns->host_address + ":8443/hello";
  EXPECT_EQ(as_student({url}), "000 7");  // 7: refused at once, not a timeout (28)
  EXPECT_EQ(as_student({"http://[" + ns->host_address6 + "]:8443/hello"}), "000 7");
  EXPECT_EQ(high->requests(), 0);
  // DNS-over-TLS, QUIC, DNS to anyone but the host's resolvers: refused as well.
  for (const char* port : {"853", "443", "53"}) {
    auto udp = probe({"udp", ns->host_address, port});
    EXPECT_EQ(udp.exit_code, 3) << port << ": " << udp.output;
  }
  auto dot = probe({"send", ns->host_address, "853", "get:x"});
  EXPECT_EQ(dot.exit_code, 3) << dot.output;
  // Other users' services on loopback (the dashboard on 127.0.0.1:8080, RDP on 3389) are out
  // of reach; for root, the same one answers.
  ChildProcess dashboard("/usr/sbin/ip",
                         ns->command({(bin_dir() / "webfilter-probe").string(), "relay", "8080"}),
                         ChildProcess::Options{.output_file = *dir / "dashboard.log"});
  ASSERT_TRUE(eventually(
      [&] { return read_file(*dir / "dashboard.log").find("listening") != std::string::npos; },
      10s));
  EXPECT_EQ(as_student({"http://127.0.0.1:8080/"}), "000 7");
  EXPECT_EQ(curl(*ns, nullptr, {"http://127.0.0.1:8080/"}), "502 0");  // it answered root
  // --station-allow tcp:8444 passes, straight (not through the proxy).
  EXPECT_EQ(as_student({"http://" + ns->host_address + ":8444/hello"}), "200 0");
  EXPECT_EQ(allowed_port->requests(), 1);
  // Root is no station user: the same port works for it.
  EXPECT_EQ(curl(*ns, nullptr, {url}), "200 0");
  EXPECT_EQ(high->requests(), 1);
}

TEST_F(StationUserTest, Ipv6WebGoesThroughTheProxyAndIsJudged) {
  // Issue 13: IPv6 80/443 was reset (not filtered); now it is redirected like IPv4.
  EXPECT_EQ(as_student({"--resolve", resolve("allowed.test", 80, ns->host_address6),
                        "http://allowed.test/hello"}),
            "200 0");
  EXPECT_EQ(web6->requests(), 1);
  EXPECT_EQ(web6->last_host(), "allowed.test");
  EXPECT_EQ(as_student({"--resolve", resolve("blocked.test", 80, ns->host_address6),
                        "http://blocked.test/hello"}),
            "403 0");
  EXPECT_EQ(as_student({"http://[" + ns->host_address6 + "]/hello"}), "403 0");  // IP, allow-only
  EXPECT_EQ(web6->requests(), 1);
  // HTTPS over IPv6: the SNI decides, and the allowed hello reaches the IPv6 origin.
  as_student(
      {"--resolve", resolve("blocked.test", 443, ns->host_address6), "https://blocked.test/"});
  EXPECT_EQ(tls6->connections(), 0);
  as_student(
      {"--resolve", resolve("allowed.test", 443, ns->host_address6), "https://allowed.test/"});
  ASSERT_EQ(tls6->connections(), 1) << log();
  std::string sni;
  EXPECT_EQ(parse_client_hello(tls6->first_bytes().at(0), sni), HelloStatus::ok);
  EXPECT_EQ(sni, "allowed.test");
  // The station's policy decided (the peer's uid was found without root).
  EXPECT_NE(log().find("not on the allow list of station fake:st-1"), std::string::npos);
}

TEST_F(StationUserTest, ARelayTheStudentStartsGetsNowhere) {
  // The "SOCKS proxy the student starts" (ssh -D and the like), as the student.
  ChildProcess relay("/usr/sbin/ip",
                     ns->command({(bin_dir() / "webfilter-probe").string(), "relay", "1080"},
                                 student->uid, student->gid),
                     ChildProcess::Options{.output_file = *dir / "relay.log"});
  ASSERT_TRUE(eventually(
      [&] { return read_file(*dir / "relay.log").find("listening") != std::string::npos; }, 10s));
  std::string target = "http://" + ns->host_address + ":8443/hello";
  // Reaching it is refused (loopback services other than the proxy's are out of reach) ...
  EXPECT_EQ(as_student({"-p", "-x", "http://127.0.0.1:1080", target}), "000 7");
  EXPECT_EQ(read_file(*dir / "relay.log").find("accepted"), std::string::npos);
  // ... and what it would do for the student, connect out, is refused too.
  auto out = probe({"send", ns->host_address, "8443", "get:x"});
  EXPECT_EQ(out.exit_code, 3) << out.output;
  EXPECT_EQ(high->requests(), 0);
  // Turned around, a LAN host that connects in to a relay the student runs gets no answer:
  // what the student's socket would send back is refused too.
  ChildProcess inbound(
      "/usr/sbin/ip",
      ns->command({(bin_dir() / "webfilter-probe").string(), "relay", "1081", ns->inner_address},
                  student->uid, student->gid),
      ChildProcess::Options{.output_file = *dir / "inbound.log"});
  ASSERT_TRUE(eventually(
      [&] { return read_file(*dir / "inbound.log").find("listening") != std::string::npos; }, 10s));
  auto lan = mp::test::run("/bin/sh", {"-c",
                                       "/usr/bin/curl -s -o /dev/null -w '%{http_code}' "
                                       "--noproxy '*' --connect-timeout 2 http://" +
                                           ns->inner_address + ":1081/; echo \" $?\""});
  EXPECT_EQ(lan.output, "000 28\n") << "the LAN host's connection was answered";
}

TEST_F(StationUserTest, TheProxyConnectsToTheNamesAddressNotTheOneClaimed) {
  // Issue 13: an allowed name in front of any server. curl is told allowed.test is at the
  // foreign address; the proxy judges the name and connects to allowed.test's real address.
  EXPECT_EQ(as_student({"--resolve", resolve("allowed.test", 80, ns->foreign_address),
                        "http://allowed.test/hello"}),
            "200 0");
  EXPECT_EQ(web->requests(), 1);
  EXPECT_EQ(foreign_web->requests(), 0);
  as_student(
      {"--resolve", resolve("allowed.test", 443, ns->foreign_address), "https://allowed.test/"});
  EXPECT_EQ(tls->connections(), 1);
  EXPECT_EQ(foreign_tls->connections(), 0);
  EXPECT_EQ(foreign_web->connections() + foreign_tls->connections(), 0);
  // An allowed name that does not resolve: 502, or a TLS alert; never the claimed address.
  EXPECT_EQ(as_student({"--resolve", resolve("ghost.allowed.test", 80, ns->foreign_address),
                        "http://ghost.allowed.test/hello"}),
            "502 0");
  auto ghost_tls = probe({"send", ns->foreign_address, "443", "hello:ghost.allowed.test"});
  EXPECT_NE(ghost_tls.output.find("received " + std::string(kAccessDeniedHex)), std::string::npos)
      << ghost_tls.output;
  EXPECT_EQ(foreign_web->connections() + foreign_tls->connections(), 0);
}

TEST_F(StationUserTest, EncryptedClientHelloIsRefusedInAllowOnlyMode) {
  auto ech = probe({"send", ns->host_address, "443", "hello-ech:allowed.test"});
  EXPECT_NE(ech.output.find("received " + std::string(kAccessDeniedHex)), std::string::npos)
      << ech.output;
  EXPECT_EQ(tls->connections(), 0);
  auto plain = probe({"send", ns->host_address, "443", "hello:allowed.test", "4"});
  EXPECT_NE(plain.output.find("received 16030100"), std::string::npos) << plain.output << log();
  EXPECT_EQ(tls->connections(), 1);
}

TEST_F(StationUserTest, AUidAdmittedByWebAdmitIsFilteredRightAfterTheAck) {
  // Another Unix account, no multipoint user: not filtered until it is admitted.
  UnixUser other("mpwo" + std::to_string(getpid()), true);
  ASSERT_GE(other.uid, 0);
  std::string high_url = "http://" + ns->host_address + ":8443/hello";
  EXPECT_EQ(curl(*ns, &other, {high_url}), "200 0");
  auto admit = [&](std::uint32_t uid, const std::string& key) {
    return call(
        "webfilter",
        [&](mp::schema::Envelope::Builder e) {
          auto b = e.initWebAdmit();
          b.setUid(uid);
          b.setUser("someone");
        },
        key);
  };
  auto ack = admit(static_cast<std::uint32_t>(other.uid), "admit-other");
  ASSERT_TRUE(ack.ok()) << ack.error_text();
  ASSERT_TRUE(ack.envelope().isAck());
  // Right after the Ack: redirected and judged (by the all-stations policy), others refused.
  EXPECT_EQ(curl(*ns, &other,
                 {"--resolve", resolve("blocked.test", 80, ns->host_address),
                  "http://blocked.test/hello"}),
            "403 0");
  EXPECT_EQ(curl(*ns, &other, {high_url}), "000 7");
  EXPECT_EQ(high->requests(), 1);

  auto root = admit(0, "admit-root");
  EXPECT_EQ(root.error_kind(), mp::schema::Error::Kind::INVALID) << root.error_text();
  auto own = admit(static_cast<std::uint32_t>(service_account.uid), "admit-own");
  EXPECT_EQ(own.error_kind(), mp::schema::Error::Kind::INVALID) << own.error_text();
  EXPECT_EQ(curl(*ns, nullptr, {high_url}), "200 0");  // root's traffic still goes straight
}

TEST_F(StationUserTest, RunsAsItsOwnUserAndOnlyItsNftablesHelperIsRoot) {
  auto main = identity_of("/proc/" + std::to_string(webfilter->pid()) + "/status");
  ASSERT_TRUE(main);
  EXPECT_EQ(main->uid, four(static_cast<int>(service_account.uid))) << log();
  EXPECT_EQ(main->gid, four(static_cast<int>(service_account.gid)));
  std::istringstream groups(main->groups);
  std::vector<std::string> group_ids{std::istream_iterator<std::string>(groups), {}};
  EXPECT_NE(
      std::find(group_ids.begin(), group_ids.end(), std::to_string(service_account.group_gid)),
      group_ids.end())
      << main->groups;
  EXPECT_EQ(main->no_new_privs, "1");
  EXPECT_EQ(main->cap_eff, "0000000000000000");
  // Every thread too.
  for (const auto& task :
       std::filesystem::directory_iterator("/proc/" + std::to_string(webfilter->pid()) + "/task")) {
    auto thread = identity_of(task.path() / "status");
    if (thread) {
      EXPECT_EQ(thread->uid, main->uid) << task.path();
    }
  }
  // Its children: exactly one, the nftables helper, as root.
  std::vector<ProcessIdentity> children;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    auto child = identity_of(entry.path() / "status");
    if (child && child->ppid == webfilter->pid()) children.push_back(*child);
  }
  ASSERT_EQ(children.size(), 1u);
  EXPECT_EQ(children[0].name, "mp-wf-nftables");
  EXPECT_EQ(children[0].uid, four(0));
  // And it said why it runs as it does.
  EXPECT_NE(log().find("running as mp-webfilter"), std::string::npos) << log();
}

TEST_F(StationUserTest, RulesStayAfterKill9AndTheNextOneTakesOver) {
  webfilter->signal(SIGKILL);
  ASSERT_TRUE(webfilter->wait(5s));
  // Nobody behind the redirect: the student's web fails, it does not go around.
  EXPECT_TRUE(rules_hold(student->uid));
  EXPECT_EQ(as_student({"--resolve", resolve("blocked.test", 80, ns->host_address),
                        "http://blocked.test/hello"}),
            "000 7");
  EXPECT_EQ(as_student({"http://" + ns->host_address + ":8443/hello"}), "000 7");
  EXPECT_EQ(web->requests() + high->requests(), 0);
  start_webfilter();
  ASSERT_TRUE(eventually(
      [&] {
        return as_student({"--resolve", resolve("allowed.test", 80, ns->host_address),
                           "http://allowed.test/hello"}) == "200 0";
      },
      20s))
      << log();
  EXPECT_EQ(as_student({"--resolve", resolve("blocked.test", 80, ns->host_address),
                        "http://blocked.test/hello"}),
            "403 0");
}

TEST_F(StationUserTest, SigtermLeavesTheRulesInPlace) {
  // A stop is mostly a restart: nothing may pass meanwhile.
  EXPECT_EQ(webfilter->stop(), 0) << log();
  webfilter.reset();
  EXPECT_TRUE(rules_hold(student->uid));
  EXPECT_EQ(as_student({"http://" + ns->host_address + ":8443/hello"}), "000 7");
}

TEST_F(StationUserTest, SigtermRemovesTheRulesWhenAsked) {
  EXPECT_EQ(webfilter->stop(), 0) << log();
  webfilter.reset();
  std::size_t before = log().size();  // the log file is appended to
  start_webfilter({"--remove-rules-on-stop"});
  // Serving (its rules replaced the ones left behind) before it is asked to stop.
  ASSERT_TRUE(
      eventually([&] { return log().find("listening on", before) != std::string::npos; }, 20s))
      << log();
  ASSERT_TRUE(rules_hold(student->uid));
  EXPECT_EQ(webfilter->stop(), 0) << log();
  webfilter.reset();
  auto tables = ns->run({"/usr/sbin/nft", "list", "tables"});
  EXPECT_EQ(tables.output.find("multipoint_webfilter"), std::string::npos) << tables.output;
  EXPECT_EQ(as_student({"http://" + ns->host_address + ":8443/hello"}), "200 0");
}

}  // namespace
}  // namespace mp::webfilter::test
