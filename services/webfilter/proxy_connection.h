// The proxy's connections as its epoll loop sees them (internal to proxy.cpp and its tests):
// listeners, clients with the state of their exchange, and upstream connections to origins.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "host_rules.h"
#include "http_parser.h"
#include "socket_side.h"
#include "tls_sni.h"

namespace mp::webfilter {

using ProxyClock = std::chrono::steady_clock;
inline constexpr uid_t kUnknownUid = static_cast<uid_t>(-1);

// What an epoll event's pointer points at.
enum class Kind : std::uint8_t { listener, client, upstream, resolver };

struct Endpoint {
  explicit Endpoint(Kind k) : kind(k) {}
  Kind kind;
};

struct Listener : Endpoint {
  Listener() : Endpoint(Kind::listener) {}
  int fd = -1;
  sockaddr_storage address{};  // as bound
  bool transparent = false;    // takes connections nftables redirected (SO_ORIGINAL_DST)
};

struct Client;

struct Upstream : Endpoint {
  explicit Upstream(BufferPool& pool) : Endpoint(Kind::upstream), side(pool) {}
  Side side;
  std::string key;  // destination: "host:port"
  Client* owner = nullptr;
  bool connecting = false;
  bool closed = false;
  bool parked = false;  // idle in the pool
  bool reused = false;  // taken from the pool for the current exchange
  ProxyClock::time_point idle_since;
};

enum class State { sniff, reading_head, resolving, connecting, forwarding, hello, tunnel, closing };
enum class Body { none, length, chunked, until_close };
enum class ResponseState { head, body, done };

struct Client : Endpoint {
  Client(BufferPool& pool, const HttpLimits& limits, const HttpLimits& response_limits)
      : Endpoint(Kind::client),
        side(pool),
        scanner(limits, true),
        response_scanner(response_limits, false) {}
  std::uint64_t id = 0;
  Side side;
  uid_t uid = kUnknownUid;
  bool transparent = false;
  sockaddr_storage original_destination{};
  State state = State::reading_head;
  ProxyClock::time_point deadline;
  bool closed = false;
  bool head_started = false;

  // The request.
  HeadScanner scanner;
  RequestHead request;
  Host host;     // the destination's name, normalised
  Host scratch;  // a second host to compare with (Host header, SNI)
  ClientHello hello;
  std::uint16_t port = 0;
  bool tunnel = false;  // CONNECT, or TLS on the transparent listener
  bool is_head = false;
  bool http10 = false;
  bool keep_alive = false;
  std::string head_out;  // the request head as sent to the origin
  Body request_body = Body::none;
  std::uint64_t request_left = 0;
  ChunkedDecoder request_chunks;
  bool request_done = false;
  bool retried = false;

  // The destination.
  std::string key;
  std::vector<sockaddr_storage> addresses;
  std::size_t next_address = 0;
  bool refused_destination = false;
  Upstream* up = nullptr;

  // The response.
  HeadScanner response_scanner;
  ResponseHead response;
  ResponseState response_state = ResponseState::head;
  Body response_body = Body::none;
  std::uint64_t response_left = 0;
  ChunkedDecoder response_chunks;
  bool dechunk = false;           // chunked from the origin, plain to an HTTP/1.0 client
  bool response_seen = false;     // any response bytes arrived
  bool response_started = false;  // response bytes went to the client
  bool upstream_reusable = false;
  bool client_keeps = false;
};

}  // namespace mp::webfilter
