// The filtering proxy: an HTTP/1.1 forward proxy (CONNECT for HTTPS) and transparent
// listeners for connections nftables redirects, on one non-blocking epoll loop. Each request is
// judged by the web policy of the station whose Unix user owns the client socket; HTTPS by the
// CONNECT host and the ClientHello's SNI, which must agree. Whatever the client aimed at, the
// proxy connects to an address of the judged name. Keep-alive on both sides, upstream
// connections reused per destination, bodies streamed through fixed-size pooled buffers.
//
// Its parts: socket_address (addresses), listen_address (listen flags, binding), block_page
// (the proxy's own answers), byte_buffer and socket_side (buffers and socket I/O),
// upstream_pool (idle upstream connections), tunnel (CONNECT and TLS relaying), destinations
// (where a judged host is connected to). This file is the exchange: accept, judge, connect,
// forward.
//
// The loop is the caller's: register fd() with the service's Reactor, call poll() when it is
// readable and tick() every ~100 ms. Bus messages and proxy I/O so share one thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "host_rules.h"
#include "http_parser.h"

namespace mp::webfilter {

class PeerIdentity;
class Resolver;

// What the proxy asks for every request.
class AccessPolicy {
 public:
  virtual ~AccessPolicy() = default;
  // False until the station map and the policy are known: requests are then answered 503.
  virtual bool ready() const = 0;
  // The rules for this user now (the station's, or the all-stations policy). The reference
  // is used at once and not kept.
  virtual const WebRules& rules_for(uid_t uid) = 0;
};

struct ProxyOptions {
  std::string listen = "127.0.0.1:3128";  // forward proxy; port 0: any
  // Where nftables redirects station users' web traffic (IPv4 to the first IPv4 one, IPv6 to
  // the first IPv6 one); empty: none. An IPv6 one that cannot be bound because the host has no
  // IPv6 is left out with a warning.
  std::vector<std::string> transparent_listen = {"127.0.0.1:3129", "[::1]:3129"};
  std::set<std::uint16_t> connect_ports{443};  // CONNECT to other ports: 403
  // Off: the proxy refuses to connect to loopback addresses (they would reach local services
  // as the proxy's user). Tests with a local origin turn it on.
  bool allow_loopback_upstream = false;
  HttpLimits limits;
  // Response heads must fit the client's buffer with room to spare.
  HttpLimits response_limits{
      .max_request_line = 4 * 1024, .max_header_bytes = 48 * 1024, .max_header_lines = 200};
  std::chrono::milliseconds header_timeout{10000};  // a whole request head, or a ClientHello
  std::chrono::milliseconds idle_timeout{60000};    // a keep-alive client between requests
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds response_timeout{60000};  // an origin silent while a response is due
  std::chrono::milliseconds tunnel_idle_timeout{600000};
  std::chrono::milliseconds upstream_idle_timeout{30000};
  std::chrono::milliseconds linger_timeout{2000};  // after an error, before the close
  std::size_t max_connections = 10000;
  std::size_t max_connections_per_uid = 1000;
  std::size_t max_idle_upstreams = 1024;
  std::size_t max_idle_per_destination = 64;
  std::size_t buffer_bytes = 64 * 1024;  // per direction and side; holds a whole request head
};

struct ProxyCounters {
  std::uint64_t accepted = 0;
  std::uint64_t refused_connections = 0;  // over a connection limit, or no original destination
  std::uint64_t requests = 0;             // heads parsed, CONNECT included
  std::uint64_t allowed = 0;
  std::uint64_t blocked = 0;        // by the policy (403)
  std::uint64_t refused_tls = 0;    // SNI missing, mismatched, blocked, or not TLS
  std::uint64_t refused_ech = 0;    // Encrypted Client Hello in allow-only mode (also refused_tls)
  std::uint64_t client_errors = 0;  // 4xx other than blocks
  std::uint64_t upstream_errors = 0;  // 502/504
  std::uint64_t upstream_connects = 0;
  std::uint64_t upstream_reuses = 0;
  std::uint64_t tunnels = 0;
};

class Proxy {
 public:
  // Binds the listeners; throws std::system_error if one cannot be bound. `identity` may be
  // null: every client is then a user at no station.
  Proxy(ProxyOptions options, AccessPolicy& policy, Resolver& resolver, PeerIdentity* identity);
  ~Proxy();
  Proxy(const Proxy&) = delete;
  Proxy& operator=(const Proxy&) = delete;

  int fd() const;
  void poll();
  void tick();

  std::uint16_t port() const;              // the bound forward port
  std::uint16_t transparent_port() const;  // the first transparent listener's; 0: none
  // Every bound transparent listener ("127.0.0.1:3129", "[::1]:3129").
  std::vector<std::string> transparent_addresses() const;
  const ProxyCounters& counters() const;
  std::size_t connections() const;
  std::size_t idle_upstreams() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mp::webfilter
