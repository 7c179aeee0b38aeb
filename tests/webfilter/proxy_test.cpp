// The proxy in-process on a real bus (fake "policy" and "session" authorities), a real origin
// on 127.0.0.1, and raw sockets or curl as clients: allowed bytes pass intact, every bypass
// attempt is refused, bad input gets a clear 4xx without hurting anyone else.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "support/process.h"
#include "support/temp_dir.h"
#include "tls_sni.h"
#include "webfilter_service.h"
#include "webfilter_support.h"

namespace mp::webfilter::test {
namespace {

using mp::schema::WebMode;

class ProxyTest : public ::testing::Test {
 protected:
  // Every test name resolves to the origin's address.
  static ResolverOptions resolver() {
    ResolverOptions options;
    for (const char* name : {"allowed.test", "www.allowed.test", "example.com", "www.example.com",
                             "other.test", "xn--bcher-kva.test", "xn--maana-pta.test",
                             "allowed.test.evil.test", "evilallowed.test", "www.wiki.test"}) {
      options.static_hosts[name] = {"127.0.0.1"};
    }
    return options;
  }

  ProxyOptions proxy_options() {
    ProxyOptions options;
    options.listen = "127.0.0.1:0";
    options.transparent_listen = {"127.0.0.1:0"};
    options.allow_loopback_upstream = true;
    options.connect_ports = {443, tls.port()};
    options.header_timeout = 1000ms;
    return options;
  }

  void start(std::vector<StationPolicy> policies, ProxyOptions options,
             std::vector<FakeSessionRecord> sessions = {}) {
    WorldOptions w;
    w.proxy = std::move(options);
    w.resolver = resolver();
    w.users = {{getuid(), "student"}};
    w.initial_policy = std::move(policies);
    w.initial_sessions = std::move(sessions);
    world = std::make_unique<World>(std::move(w));
    port = world->proxy_port();
  }
  void start(std::vector<StationPolicy> policies) { start(std::move(policies), proxy_options()); }

  static StationPolicy block_only(std::vector<std::string> domains, std::string source = "all") {
    return StationPolicy{"", WebMode::BLOCK_ONLY, std::move(domains), std::move(source)};
  }
  static StationPolicy allow_only(std::vector<std::string> domains, std::string source = "all") {
    return StationPolicy{"", WebMode::ALLOW_ONLY, std::move(domains), std::move(source)};
  }

  std::string at(const std::string& host) { return host + ":" + std::to_string(origin.port()); }
  int status(const std::string& request) { return fetch(port, request).status; }

  // CONNECT to the TLS echo as `connect_host`, then a ClientHello naming `sni`; true when the
  // hello came back through the tunnel.
  bool tunnel(const std::string& connect_host, const std::string& sni) {
    Connection c(port);
    std::string target = connect_host + ":" + std::to_string(tls.port());
    c.send("CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n\r\n");
    auto established = c.response(5s, true);
    if (!established || established->status != 200) return false;
    std::string hello = client_hello(sni);
    c.send(hello);
    return c.receive(5s, hello.size()) == hello;
  }

  Origin origin;
  TlsEcho tls;
  std::unique_ptr<World> world;
  std::uint16_t port = 0;
};

TEST_F(ProxyTest, AllowedRequestsReachTheOriginIntact) {
  start({block_only({"example.com"})});
  auto r = fetch(port, get(at("allowed.test")));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hello from origin");
  EXPECT_EQ(fetch(port, get(at("allowed.test"), "/host")).body, at("allowed.test"));
  // Origin-form with Host works too (a client that talks to the proxy like to an origin).
  r = fetch(port, "GET /hello HTTP/1.1\r\nHost: " + at("allowed.test") + "\r\n\r\n");
  EXPECT_EQ(r.body, "hello from origin");
  EXPECT_EQ(fetch(port, get(at("allowed.test"), "/chunked")).body, "hello chunked world");
  r = fetch(port, get(at("allowed.test"), "/close"));
  EXPECT_EQ(r.body, "until the origin closes");
  EXPECT_TRUE(r.close);
  r = fetch(port, "HEAD http://" + at("allowed.test") +
                      "/hello HTTP/1.1\r\nHost: " + at("allowed.test") + "\r\n\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "");
}

TEST_F(ProxyTest, RequestBodiesPassBothFramings) {
  start({block_only({"example.com"})});
  std::string body(200000, 'b');
  auto r = fetch(
      port, "POST http://" + at("allowed.test") + "/echo HTTP/1.1\r\nHost: " + at("allowed.test") +
                "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, body);
  r = fetch(port, "POST http://" + at("allowed.test") +
                      "/echo HTTP/1.1\r\nHost: " + at("allowed.test") +
                      "\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n");
  EXPECT_EQ(r.body, "abcdefg");
}

TEST_F(ProxyTest, Http10ClientsGetPlainBodies) {
  start({block_only({"example.com"})});
  Connection c(port);
  c.send("GET http://" + at("allowed.test") + "/chunked HTTP/1.0\r\n\r\n");
  std::string all = c.receive(5s);
  EXPECT_NE(all.find("Connection: close"), std::string::npos) << all;
  EXPECT_EQ(all.find("Transfer-Encoding"), std::string::npos) << all;
  EXPECT_TRUE(all.ends_with("\r\n\r\nhello chunked world")) << all;
}

TEST_F(ProxyTest, LargeDownloadKeepsEveryByte) {
  start({block_only({"example.com"})});
  constexpr std::uint64_t kSize = 50ull << 20;
  Connection c(port);
  c.send(get(at("allowed.test"), "/big/" + std::to_string(kSize)));
  std::string head;
  std::uint64_t hash = kFnvBasis, received = 0;
  std::string chunk = c.receive(10s, 1);
  while (head.empty() || received < kSize) {
    if (head.empty()) {
      auto end = chunk.find("\r\n\r\n");
      if (end == std::string::npos) {
        std::string more = c.receive(10s, 1);
        ASSERT_FALSE(more.empty());
        chunk += more;
        continue;
      }
      head = chunk.substr(0, end + 4);
      chunk.erase(0, end + 4);
    }
    hash = fnv1a(hash, chunk.data(), chunk.size());
    received += chunk.size();
    if (received >= kSize) break;
    chunk = c.receive(10s, 1);
    ASSERT_FALSE(chunk.empty()) << "stalled at " << received;
  }
  EXPECT_EQ(head.substr(0, 12), "HTTP/1.1 200");
  EXPECT_EQ(received, kSize);
  EXPECT_EQ(hash, pattern_hash(kSize));
}

TEST_F(ProxyTest, CurlDownloadsThroughTheProxy) {
  if (!std::filesystem::exists("/usr/bin/curl")) GTEST_SKIP() << "curl is not installed";
  start({block_only({"example.com"})});
  mp::test::TempDir dir("mp-wf-curl");
  constexpr std::uint64_t kSize = 50ull << 20;
  auto file = dir / "download";
  auto result = mp::test::run(
      "/usr/bin/curl",
      {"-sS", "--fail", "-x", "http://127.0.0.1:" + std::to_string(port), "-o", file.string(),
       "http://" + at("allowed.test") + "/big/" + std::to_string(kSize)},
      {}, 60s);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  std::string bytes = mp::test::read_file(file);
  ASSERT_EQ(bytes.size(), kSize);
  EXPECT_EQ(fnv1a(kFnvBasis, bytes.data(), bytes.size()), pattern_hash(kSize));
  // And curl sees the block page as a 403.
  result = mp::test::run("/usr/bin/curl",
                         {"-s", "-o", "/dev/null", "-w", "%{http_code}", "-x",
                          "http://127.0.0.1:" + std::to_string(port),
                          "http://www.example.com:" + std::to_string(origin.port()) + "/"},
                         {}, 30s);
  EXPECT_EQ(result.output, "403");
}

TEST_F(ProxyTest, BlockOnlyRefusesEveryBypass) {
  start({block_only({"example.com", "xn--bcher-kva.test", "mañana.test"}, "group:lab-a")});
  int before = origin.requests();
  std::string p = std::to_string(origin.port());
  auto refused = [&](const std::string& request) { return status(request); };
  // Names as written by someone trying to get around the list.
  EXPECT_EQ(refused(get("example.com:" + p)), 403);
  EXPECT_EQ(refused(get("EXAMPLE.com.:" + p)), 403);        // case, trailing dot
  EXPECT_EQ(refused(get("WwW.ExAmPlE.cOm:" + p)), 403);     // subdomain, case
  EXPECT_EQ(refused(get("xn--bcher-kva.test:" + p)), 403);  // A-label of a U rule
  EXPECT_EQ(refused("GET /hello HTTP/1.1\r\nHost: bücher.test:" + p + "\r\n\r\n"), 403);
  EXPECT_EQ(refused(get("xn--maana-pta.test:" + p)), 403);  // rule written as U-label
  EXPECT_EQ(refused("GET /hello HTTP/1.1\r\nHost: MAÑANA.test.\r\n\r\n"), 403);
  EXPECT_EQ(refused(get("ex%61mple.com:" + p)), 400);  // percent-encoded host
  // Ports do not matter.
  for (const char* port_suffix : {"", ":80", ":443", ":8080"}) {
    EXPECT_EQ(refused(get(std::string("example.com") + port_suffix)), 403) << port_suffix;
    EXPECT_EQ(
        refused("GET /x HTTP/1.1\r\nHost: example.com" + std::string(port_suffix) + "\r\n\r\n"),
        403)
        << port_suffix;
  }
  // The URI and Host must agree; HTTP/1.0 must say where it goes; no credentials in URIs.
  EXPECT_EQ(
      refused("GET http://" + at("allowed.test") + "/hello HTTP/1.1\r\nHost: example.com\r\n\r\n"),
      400);
  EXPECT_EQ(refused("GET http://example.com/ HTTP/1.1\r\nHost: " + at("allowed.test") + "\r\n\r\n"),
            400);
  EXPECT_EQ(
      refused("GET http://" + at("allowed.test") + "/ HTTP/1.1\r\nHost: allowed.test:1\r\n\r\n"),
      400);
  EXPECT_EQ(refused("GET /hello HTTP/1.0\r\n\r\n"), 400);
  EXPECT_EQ(refused("GET http://allowed.test@example.com:" + p +
                    "/ HTTP/1.1\r\nHost: example.com\r\n\r\n"),
            400);
  // CONNECT by name, any spelling; the DoH canary in every form.
  EXPECT_EQ(refused("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"), 403);
  EXPECT_EQ(refused("CONNECT EXAMPLE.COM.:443 HTTP/1.1\r\nHost: x\r\n\r\n"), 403);
  EXPECT_EQ(refused("CONNECT www.example.com:8443 HTTP/1.1\r\nHost: x\r\n\r\n"), 403);
  EXPECT_EQ(refused(get("use-application-dns.net")), 403);
  EXPECT_EQ(refused("CONNECT use-application-dns.net:443 HTTP/1.1\r\nHost: x\r\n\r\n"), 403);
  EXPECT_EQ(origin.requests(), before) << "a refused request reached the origin";

  // IP literals follow block-only's default: allowed, in every spelling.
  EXPECT_EQ(status(get("127.0.0.1:" + p)), 200);
  EXPECT_EQ(status(get("2130706433:" + p)), 200);
  EXPECT_EQ(status(get("0x7f.1:" + p)), 200);

  // HTTPS: the SNI must name the CONNECT host.
  EXPECT_TRUE(tunnel("allowed.test", "allowed.test"));
  EXPECT_FALSE(tunnel("allowed.test", "example.com"));
  EXPECT_FALSE(tunnel("allowed.test", "www.allowed.test"));
  EXPECT_FALSE(tunnel("allowed.test", ""));  // no SNI for a name
  ASSERT_EQ(tls.connections(), 1);
  std::string sni;
  EXPECT_EQ(parse_client_hello(tls.first_bytes().at(0), sni), HelloStatus::ok);
  EXPECT_EQ(sni, "allowed.test");
}

TEST_F(ProxyTest, AllowOnlyRefusesEverythingElse) {
  start({allow_only({"allowed.test", "*.wiki.test"})});
  int before = origin.requests();
  std::string p = std::to_string(origin.port());
  EXPECT_EQ(status(get("other.test:" + p)), 403);
  EXPECT_EQ(status(get("evilallowed.test:" + p)), 403);
  EXPECT_EQ(status(get("allowed.test.evil.test:" + p)), 403);
  EXPECT_EQ(status(get("notwiki.test:" + p)), 403);
  for (std::string ip : {"127.0.0.1", "2130706433", "0x7f000001", "0177.0.0.1", "127.1", "[::1]",
                         "[::ffff:127.0.0.1]"}) {
    EXPECT_EQ(status(get(ip + ":" + p)), 403) << ip;
  }
  EXPECT_EQ(status("CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: x\r\n\r\n"), 403);
  EXPECT_EQ(status("CONNECT [::1]:443 HTTP/1.1\r\nHost: x\r\n\r\n"), 403);
  EXPECT_EQ(status(get("use-application-dns.net")), 403);
  EXPECT_EQ(origin.requests(), before);

  EXPECT_EQ(status(get(at("allowed.test"))), 200);
  EXPECT_EQ(status(get(at("ALLOWED.test."))), 200);
  EXPECT_EQ(status(get(at("www.allowed.test"))), 200);
  EXPECT_EQ(status(get(at("www.wiki.test"))), 200);
  EXPECT_TRUE(tunnel("allowed.test", "allowed.test"));
  EXPECT_FALSE(tunnel("allowed.test", "other.test"));
  EXPECT_FALSE(tunnel("allowed.test", ""));
  EXPECT_EQ(status("CONNECT other.test:443 HTTP/1.1\r\nHost: x\r\n\r\n"), 403);
}

TEST_F(ProxyTest, EncryptedClientHelloIsRefusedInAllowOnlyMode) {
  // The SNI of an ECH hello is only the provider's public name: in allow-only mode the real,
  // hidden name could be anything.
  start({allow_only({"allowed.test"})});
  auto tunnel_with = [&](bool ech) {
    Connection c(port);
    std::string target = "allowed.test:" + std::to_string(tls.port());
    c.send("CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n\r\n");
    auto established = c.response(5s, true);
    if (!established || established->status != 200) return std::string("no tunnel");
    c.send(client_hello("allowed.test", 16384, 0, ech));
    return c.receive(5s, 7);
  };
  EXPECT_EQ(tunnel_with(true), std::string("\x15\x03\x03\x00\x02\x02\x31", 7));
  EXPECT_EQ(tls.connections(), 0);
  EXPECT_EQ(world->counters().refused_ech, 1u);
  EXPECT_EQ(tunnel_with(false).substr(0, 3), "\x16\x03\x01");
  EXPECT_EQ(tls.connections(), 1);
  // In block-only mode the hidden name cannot be judged either, but nothing is allowed only
  // by name there: ECH passes.
  world->set_policy(block_only({"example.com"}));
  EXPECT_EQ(tunnel_with(true).substr(0, 3), "\x16\x03\x01");
  EXPECT_EQ(world->counters().refused_ech, 1u);
}

TEST_F(ProxyTest, BlockPageNamesTheRule) {
  start({block_only({"*.example.com"}, "group:lab-a")});
  auto r = fetch(port, get("www.example.com"));
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("blocked by the block list of group lab-a: *.example.com"),
            std::string::npos)
      << r.body;
  EXPECT_FALSE(r.close);  // a refused GET keeps the connection
  Connection c(port);
  c.send("CONNECT www.example.com:443 HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string all = c.receive(5s);
  EXPECT_TRUE(all.starts_with("HTTP/1.1 403 Forbidden\r\n")) << all;
  EXPECT_TRUE(c.closed_within(2s));
}

TEST_F(ProxyTest, PipelinedRequestsAnswerInOrderOnReusedUpstreams) {
  start({block_only({"example.com"})});
  Connection c(port);
  c.send(get(at("allowed.test")) + get("example.com") + get(at("allowed.test"), "/host") +
         get(at("allowed.test")));
  std::vector<int> statuses;
  std::vector<std::string> bodies;
  for (int i = 0; i < 4; ++i) {
    auto r = c.response();
    ASSERT_TRUE(r) << i;
    statuses.push_back(r->status);
    bodies.push_back(r->body);
  }
  EXPECT_EQ(statuses, (std::vector<int>{200, 403, 200, 200}));
  EXPECT_EQ(bodies[2], at("allowed.test"));
  EXPECT_GE(world->counters().upstream_reuses, 2u);
  EXPECT_EQ(origin.connections(), 1);
}

TEST_F(ProxyTest, PolicyChangesApplyAtOnceWithoutDroppingConnections) {
  start({block_only({"example.com"})});
  Connection keep(port);
  ASSERT_TRUE(keep.send(get(at("allowed.test"))));
  ASSERT_EQ(keep.response()->status, 200);
  // A tunnel opened before the change.
  Connection t(port);
  std::string target = "allowed.test:" + std::to_string(tls.port());
  t.send("CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n\r\n");
  ASSERT_EQ(t.response(5s, true)->status, 200);
  std::string hello = client_hello("allowed.test");
  t.send(hello);
  ASSERT_EQ(t.receive(5s, hello.size()), hello);

  world->set_policy(block_only({"allowed.test"}));
  ASSERT_TRUE(keep.send(get(at("allowed.test"))));
  auto r = keep.response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  EXPECT_EQ(fetch(port, get(at("allowed.test"))).status, 403);
  t.send("still tunnelled");
  EXPECT_EQ(t.receive(5s, 15), "still tunnelled");

  world->set_policy(allow_only({"allowed.test"}));
  ASSERT_TRUE(keep.send(get(at("allowed.test"))));
  EXPECT_EQ(keep.response()->status, 200);
  EXPECT_EQ(status(get("example.com")), 403);
}

TEST_F(ProxyTest, SharedListsAreFetchedInPagesAndAFailedFetchIsRetried) {
  std::vector<std::string> blocked;
  for (int i = 0; i < 10; ++i) blocked.push_back("blocked" + std::to_string(i) + ".test");
  start({block_only(blocked)});  // pages of 3: four fetches
  std::uint64_t fetches = 0;
  world->call([&] { fetches = world->policy().list_fetches(); });
  EXPECT_GE(fetches, 4u);
  for (const auto& host : blocked) EXPECT_EQ(status(get(at(host))), 403) << host;
  EXPECT_EQ(status(get(at("allowed.test"))), 200);

  // mp-policy unavailable while a new list is named: the old rules stay in force, and the
  // list is fetched once it answers again.
  world->call([&] { world->policy().hold_lists(true); });
  world->call([&] { world->policy().set(block_only({"allowed.test"})); });
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(status(get(at("blocked0.test"))), 403) << "the previous list still applies";
  world->call([&] { world->policy().hold_lists(false); });
  bool applied = false;
  for (int i = 0; i < 50 && !applied; ++i) {
    std::this_thread::sleep_for(100ms);
    applied = status(get(at("allowed.test"))) == 403;
  }
  EXPECT_TRUE(applied) << "the new list arrived after the retry";
  // blocked0.test no longer blocked: it reaches the resolver, which does not know it.
  EXPECT_EQ(status(get(at("blocked0.test"))), 502);
}

TEST(ProxyInlineLists, ListsInsideThePolicyStillApply) {
  Origin origin;
  WorldOptions w;
  w.inline_lists = true;
  w.proxy.listen = "127.0.0.1:0";
  w.proxy.transparent_listen = {};
  w.proxy.allow_loopback_upstream = true;
  w.resolver.static_hosts["blocked.test"] = {"127.0.0.1"};
  w.resolver.static_hosts["allowed.test"] = {"127.0.0.1"};
  w.users = {{getuid(), "student"}};
  w.initial_policy = {StationPolicy{"", WebMode::BLOCK_ONLY, {"blocked.test"}, "all"}};
  World world(std::move(w));
  std::string port = ":" + std::to_string(origin.port());
  EXPECT_EQ(fetch(world.proxy_port(), get("blocked.test" + port)).status, 403);
  EXPECT_EQ(fetch(world.proxy_port(), get("allowed.test" + port)).status, 200);
}

TEST_F(ProxyTest, StationUsersGetTheirStationsPolicy) {
  std::vector<StationPolicy> policies = {
      block_only({"example.com"}),
      StationPolicy{"rdp:lab-1", WebMode::ALLOW_ONLY, {"example.com"}, "station:rdp:lab-1"}};
  start(policies, proxy_options(),
        {FakeSessionRecord{.id = 7, .user = "student", .station = "rdp:lab-1"}});
  // This test's uid is "student", at rdp:lab-1: allow-only example.com.
  EXPECT_EQ(status(get(at("allowed.test"))), 403);
  EXPECT_EQ(status(get(at("example.com"))), 200);
  // Log off: back to the all-stations policy, on the same kind of request.
  world->set_session(FakeSessionRecord{.id = 7,
                                       .user = "student",
                                       .station = "rdp:lab-1",
                                       .state = mp::schema::SessionState::ENDED});
  EXPECT_EQ(status(get(at("allowed.test"))), 200);
  EXPECT_EQ(status(get(at("example.com"))), 403);
  // A station without a policy of its own gets the all-stations one.
  world->set_session(FakeSessionRecord{.id = 8, .user = "student", .station = "rdp:lab-9"});
  EXPECT_EQ(status(get(at("example.com"))), 403);
}

TEST_F(ProxyTest, BadInputGetsAClear4xxAndHurtsNoOne) {
  start({block_only({"example.com"})});
  auto good = [&] { return status(get(at("allowed.test"))); };
  EXPECT_EQ(status("GET http://" + at("allowed.test") + "/" + std::string(9000, 'a') +
                   " HTTP/1.1\r\nHost: x\r\n\r\n"),
            414);
  std::string big = "GET " + get(at("allowed.test")).substr(4);
  big.resize(big.size() - 2);
  for (int i = 0; i < 40; ++i)
    big += "X-Pad-" + std::to_string(i) + ": " + std::string(1000, 'p') + "\r\n";
  EXPECT_EQ(status(big + "\r\n"), 431);
  std::string many = get(at("allowed.test"));
  many.resize(many.size() - 2);
  for (int i = 0; i < 120; ++i) many += "X-" + std::to_string(i) + ": 1\r\n";
  EXPECT_EQ(status(many + "\r\n"), 431);
  EXPECT_EQ(status("GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n"), 400);
  EXPECT_EQ(status("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n"), 400);
  EXPECT_EQ(
      status("POST http://" + at("allowed.test") + "/echo HTTP/1.1\r\nHost: " + at("allowed.test") +
             "\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"),
      400);
  EXPECT_EQ(status("\x01\x02garbage\xff\r\n\r\n"), 400);
  EXPECT_EQ(status("GET / HTTP/3\r\nHost: a\r\n\r\n"), 400);
  // Malformed CONNECT.
  for (std::string target : {"allowed.test", "allowed.test:", ":443", "allowed.test:0",
                             "allowed.test:99999", "[::1", "a b:443"}) {
    int s = status("CONNECT " + target + " HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(s, 400) << target;
  }
  // Garbage instead of a ClientHello: the tunnel closes, nothing reaches the origin.
  {
    Connection c(port);
    std::string target = "allowed.test:" + std::to_string(tls.port());
    c.send("CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n\r\n");
    ASSERT_EQ(c.response(5s, true)->status, 200);
    c.send("this is not TLS at all\r\n");
    EXPECT_TRUE(c.closed_within(3s));
    c.send(std::string("\x16\x03\x01\x00\x05hello", 10));
  }
  {
    Connection c(port);
    std::string target = "allowed.test:" + std::to_string(tls.port());
    c.send("CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n\r\n");
    ASSERT_EQ(c.response(5s, true)->status, 200);
    c.send(std::string("\x16\x03\x01\x00\x05\x02\x00\x00\x01\x00", 10));  // a ServerHello
    EXPECT_TRUE(c.closed_within(3s));
  }
  EXPECT_EQ(tls.connections(), 0);
  EXPECT_EQ(good(), 200);
}

TEST_F(ProxyTest, SlowClientsTimeOutWithoutSlowingOthers) {
  start({block_only({"example.com"})});
  // Slowloris: heads that never finish, one byte at a time, from many connections.
  std::vector<std::unique_ptr<Connection>> slow;
  for (int i = 0; i < 50; ++i) {
    slow.push_back(std::make_unique<Connection>(port));
    slow.back()->send("GET http://allowed.test/ HTTP/1.1\r\nHost: allowed.test\r\nX-Slow: ");
  }
  Connection silent(port);  // says nothing at all
  for (int i = 0; i < 5; ++i) {
    for (auto& c : slow) c->send("a");
    EXPECT_EQ(status(get(at("allowed.test"))), 200);
    std::this_thread::sleep_for(100ms);
  }
  // The header deadline (1 s here) holds however the bytes trickle in.
  std::string answer = slow.front()->receive(3s);
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 408 ")) << answer;
  EXPECT_TRUE(silent.closed_within(3s));
  EXPECT_EQ(status(get(at("allowed.test"))), 200);
}

TEST_F(ProxyTest, UpstreamFailuresAre502) {
  start({block_only({"example.com"})});
  int closed_port;
  {
    Origin gone;
    closed_port = gone.port();
  }
  EXPECT_EQ(status(get("allowed.test:" + std::to_string(closed_port))), 502);
  EXPECT_EQ(status(get("does-not-resolve.invalid")), 502);
  EXPECT_EQ(status(get(at("allowed.test"))), 200);
}

TEST_F(ProxyTest, RefusesLoopbackAndItselfUnlessAllowed) {
  ProxyOptions options = proxy_options();
  options.allow_loopback_upstream = false;
  start({block_only({"example.com"})}, options);
  EXPECT_EQ(status(get(at("allowed.test"))), 403);  // resolves to 127.0.0.1
  EXPECT_EQ(status(get("127.0.0.1:" + std::to_string(port))), 403);
  EXPECT_EQ(status(get("0.0.0.0:" + std::to_string(origin.port()))), 403);
  EXPECT_EQ(origin.requests(), 0);
}

TEST_F(ProxyTest, ConnectionLimitsPerUser) {
  ProxyOptions options = proxy_options();
  options.max_connections_per_uid = 5;
  start({block_only({"example.com"})}, options);
  std::vector<std::unique_ptr<Connection>> held;
  for (int i = 0; i < 5; ++i) {
    held.push_back(std::make_unique<Connection>(port));
    held.back()->send("GET");
  }
  auto connections = [&] {
    std::size_t n = 0;
    world->call([&] { n = world->proxy().connections(); });
    return n;
  };
  ASSERT_TRUE(mp::test::eventually([&] { return connections() == 5; }, 2s));
  Connection extra(port);
  EXPECT_TRUE(extra.closed_within(2s));
  held.clear();
  ASSERT_TRUE(mp::test::eventually([&] { return status(get(at("allowed.test"))) == 200; }, 3s));
}

TEST_F(ProxyTest, TransparentPortRefusesConnectionsThatWereNotRedirected) {
  start({block_only({"example.com"})});
  Connection direct(world->transparent_port());
  direct.send(get(at("allowed.test")));
  EXPECT_TRUE(direct.closed_within(2s));
  EXPECT_EQ(origin.requests(), 0);
}

TEST(ProxyStartup, FailsClosedUntilThePolicyIsKnown) {
  Origin origin;
  // A proxy whose AccessPolicy is not ready answers 503.
  class NotReady : public AccessPolicy {
   public:
    bool ready() const override { return false; }
    const WebRules& rules_for(uid_t) override { return rules; }
    WebRules rules;
  } policy;
  Resolver resolver(ResolverOptions{});
  ProxyOptions options;
  options.listen = "127.0.0.1:0";
  options.transparent_listen = {};
  Proxy proxy(options, policy, resolver, nullptr);
  std::thread client([&] {
    auto r = fetch(proxy.port(), get("allowed.test:" + std::to_string(origin.port())));
    EXPECT_EQ(r.status, 503);
  });
  auto until = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < until && proxy.counters().requests == 0) {
    proxy.poll();
    std::this_thread::sleep_for(1ms);
  }
  for (int i = 0; i < 100; ++i) {
    proxy.poll();
    std::this_thread::sleep_for(1ms);
  }
  client.join();
  EXPECT_EQ(origin.requests(), 0);
}

}  // namespace
}  // namespace mp::webfilter::test
