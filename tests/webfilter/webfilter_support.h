// Test support for mp-webfilter: a real origin server (HTTP, and a TLS-shaped echo that needs
// no real TLS, since the proxy only reads the ClientHello), ClientHello bytes made by hand, a
// raw-socket HTTP client, fake "policy" and "session" authorities on the bus, and a World
// thread that runs them (and an in-process webfilter) on one reactor.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "client_hello.h"
#include "host_rules.h"
#include "mp/bus/client.h"
#include "mp/bus/endpoints.h"
#include "proxy.h"
#include "resolver.h"
#include "station_firewall.h"
#include "station_map.h"
#include "webfilter_service.h"

namespace mp::webfilter::test {

using namespace std::chrono_literals;

// Bytes of the test download: deterministic, so both ends can check them.
std::uint8_t pattern_byte(std::uint64_t i);
std::uint64_t fnv1a(std::uint64_t hash, const void* data, std::size_t size);
inline constexpr std::uint64_t kFnvBasis = 1469598103934665603ull;
std::uint64_t pattern_hash(std::uint64_t size);

// A tiny HTTP/1.1 origin on 127.0.0.1 (or `address`), one thread per connection, keep-alive.
//   /hello          200 "hello from origin" (Content-Length)
//   /big/N          N pattern bytes (Content-Length)
//   /chunked        "hello " "chunked " "world" in three chunks
//   /close          a body delimited by closing the connection
//   /host           the Host field it received, as the body
//   /echo           the request body (Content-Length or chunked)
//   anything else   404
class Origin {
 public:
  explicit Origin(const std::string& address = "127.0.0.1", std::uint16_t port = 0);
  ~Origin();
  std::uint16_t port() const { return port_; }
  int requests() const { return requests_; }
  int connections() const { return connections_; }
  std::string last_host();

 private:
  void accept_loop();
  void serve(int fd);

  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> requests_{0};
  std::atomic<int> connections_{0};
  std::mutex mutex_;
  std::string last_host_;
  std::set<int> open_;
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

// Echoes every byte back, and keeps the first bytes of each connection (the ClientHello).
class TlsEcho {
 public:
  explicit TlsEcho(const std::string& address = "127.0.0.1", std::uint16_t port = 0);
  ~TlsEcho();
  std::uint16_t port() const { return port_; }
  int connections() const { return connections_; }
  std::vector<std::string> first_bytes();

 private:
  void accept_loop();
  void serve(int fd);

  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  std::mutex mutex_;
  std::vector<std::string> first_;
  std::set<int> open_;
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

// Raw-socket client --------------------------------------------------------------------------

class Connection {
 public:
  explicit Connection(std::uint16_t port, const std::string& address = "127.0.0.1");
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  bool send(std::string_view bytes);
  // Reads what arrives within `timeout` (until close, or `want` bytes if given).
  std::string receive(std::chrono::milliseconds timeout, std::size_t want = SIZE_MAX);
  // True once the peer closed (reads return 0 or reset) within `timeout`.
  bool closed_within(std::chrono::milliseconds timeout);

  struct Response {
    int status = 0;
    std::string head;
    std::string body;
    bool close = false;
  };
  // One response: by Content-Length, chunked, or until close. nullopt on timeout/garbage.
  std::optional<Response> response(std::chrono::milliseconds timeout = 5s, bool head = false);

 private:
  bool fill(std::chrono::steady_clock::time_point deadline);
  int fd_ = -1;
  std::string pending_;
  bool eof_ = false;
};

// One request on a new connection; the response (status 0 when none came).
Connection::Response fetch(std::uint16_t proxy_port, const std::string& request,
                           std::chrono::milliseconds timeout = 5s);
// "GET http://HOST/PATH HTTP/1.1\r\nHost: HOST\r\n\r\n"
std::string get(const std::string& host_port, const std::string& path = "/hello");

// Fake authorities ---------------------------------------------------------------------------

struct StationPolicy {
  std::string station;  // "" = all stations
  mp::schema::WebMode mode = mp::schema::WebMode::OFF;
  std::vector<std::string> domains;
  std::string source = "all";
};

// Serves snapshotRequest "policy" and publishes numbered "policy.effective" updates. Lists go
// as mp-policy sends them: named by key and served by DomainListFetch in pages of
// `page_size`; with `inline_lists`, inside the policy as a peer from before schema 0.2 does.
class FakePolicy {
 public:
  explicit FakePolicy(mp::bus::Client& client, bool inline_lists = false,
                      std::uint32_t page_size = 3);
  void set(const StationPolicy& policy);  // publishes an update
  std::uint64_t version() const { return version_; }
  std::uint64_t list_fetches() const { return list_fetches_; }
  // While held, list fetches are answered `unavailable` (a policy service restarting).
  void hold_lists(bool held) { lists_held_ = held; }

 private:
  void fill(mp::schema::EffectivePolicy::Builder out, const StationPolicy& p);

  mp::bus::Client& client_;
  bool inline_lists_;
  std::uint32_t page_size_;
  std::map<std::string, StationPolicy> policies_;
  std::map<std::string, std::vector<std::string>> lists_;  // by key
  std::uint64_t version_ = 0;
  std::uint64_t list_fetches_ = 0;
  bool lists_held_ = false;
};

struct FakeSessionRecord {
  std::uint64_t id = 0;
  std::string user;
  std::string station;
  mp::schema::SessionState state = mp::schema::SessionState::ACTIVE;
};

// Serves snapshotRequest "session" (sessions and users) and publishes numbered
// "session.session" and "session.user" updates.
class FakeSessions {
 public:
  explicit FakeSessions(mp::bus::Client& client);
  void set(const FakeSessionRecord& record);
  // A multipoint user added (or removed).
  void set_user(const std::string& name, bool removed = false);
  std::uint64_t version() const { return version_; }

 private:
  mp::bus::Client& client_;
  std::map<std::uint64_t, FakeSessionRecord> records_;
  std::set<std::string> users_;
  std::uint64_t version_ = 0;
};

// The firewall as WebfilterService sees it: remembers every set it was given; fails with
// `fail_with` when that is set. Used on the world thread only.
class FakeFirewall : public StationFirewall {
 public:
  explicit FakeFirewall(uid_t proxy_uid) : proxy_uid_(proxy_uid) {}
  std::string apply(const std::set<uid_t>& uids) override {
    applied.push_back(uids);
    return fail_with;
  }
  uid_t proxy_uid() const override { return proxy_uid_; }
  std::vector<std::set<uid_t>> applied;
  std::string fail_with;

 private:
  uid_t proxy_uid_;
};

class FakeUsers : public UserDirectory {
 public:
  std::map<uid_t, std::string> names;
  std::optional<std::string> name_of(uid_t uid) override;
  std::optional<uid_t> uid_of(const std::string& name) override;
};

// The world thread ---------------------------------------------------------------------------

struct WorldOptions {
  bool in_process_bus = true;  // else connect to `runtime_dir`'s broker
  std::string runtime_dir;
  bool fake_policy = true;
  bool inline_lists = false;  // the fake policy sends lists inline, as before schema 0.2
  bool fake_sessions = true;
  bool webfilter = true;  // an in-process WebfilterService + Proxy
  ProxyOptions proxy;
  ResolverOptions resolver;
  std::map<uid_t, std::string> users;         // FakeUsers for the in-process webfilter
  std::vector<StationPolicy> initial_policy;  // set before the webfilter starts
  std::vector<FakeSessionRecord> initial_sessions;
  std::vector<std::string> initial_users;  // multipoint users in the sessions' snapshot
  StationFirewall* firewall = nullptr;     // the in-process webfilter's (used on the world thread)
};

// Everything bus-side lives on one thread with one reactor; the test thread reaches it only
// through call(), which runs a function there and waits for it.
class World {
 public:
  explicit World(WorldOptions options);
  ~World();

  void call(const std::function<void()>& f);
  FakePolicy& policy() { return *policy_; }
  FakeSessions& sessions() { return *sessions_; }
  Proxy& proxy() { return *proxy_; }
  WebfilterService& service() { return *service_; }
  std::uint16_t proxy_port() const { return proxy_port_; }
  std::uint16_t transparent_port() const { return transparent_port_; }
  ProxyCounters counters();

  // Sets a policy and waits until the in-process webfilter applied it.
  void set_policy(const StationPolicy& policy);
  void set_session(const FakeSessionRecord& record);
  // Adds (or removes) a multipoint user and waits until the in-process webfilter applied it.
  void set_user(const std::string& name, bool removed = false);
  bool ready();
  // A request from a client named "test", answered on the world thread; waits for the reply.
  mp::bus::Reply request(const std::string& service, const mp::bus::Build& body,
                         std::chrono::milliseconds deadline = 3s);

 private:
  void run();

  WorldOptions options_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::function<void()>> queue_;
  int wake_fd_ = -1;
  bool started_ = false;
  std::string failure_;

  // Owned by the world thread (made and destroyed there).
  mp::bus::Reactor* reactor_ = nullptr;
  FakePolicy* policy_ = nullptr;
  FakeSessions* sessions_ = nullptr;
  mp::bus::Client* test_client_ = nullptr;
  Proxy* proxy_ = nullptr;
  WebfilterService* service_ = nullptr;
  std::uint16_t proxy_port_ = 0;
  std::uint16_t transparent_port_ = 0;
};

}  // namespace mp::webfilter::test
