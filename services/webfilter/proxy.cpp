#include "proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/netfilter_ipv4.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <system_error>
#include <unordered_map>
#include <vector>

#include "peer_identity.h"
#include "resolver.h"
#include "tls_sni.h"

#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif

namespace mp::webfilter {

namespace {

using Clock = std::chrono::steady_clock;
constexpr uid_t kUnknownUid = static_cast<uid_t>(-1);
constexpr int kMaxEvents = 256;
constexpr std::size_t kMaxFreeBuffers = 1024;
// A TLS alert record: fatal, access_denied. The client learns it was refused, not why.
constexpr std::string_view kTlsAccessDenied("\x15\x03\x03\x00\x02\x02\x31", 7);
constexpr std::string_view kConnectEstablished = "HTTP/1.1 200 Connection established\r\n\r\n";

// Fixed-size byte blocks, reused: a connection holds them only while bytes are in flight.
class BufferPool {
 public:
  explicit BufferPool(std::size_t size) : size_(size) {}
  std::size_t size() const { return size_; }
  std::unique_ptr<char[]> get() {
    if (free_.empty()) return std::unique_ptr<char[]>(new char[size_]);
    auto block = std::move(free_.back());
    free_.pop_back();
    return block;
  }
  void put(std::unique_ptr<char[]> block) {
    if (free_.size() < kMaxFreeBuffers) free_.push_back(std::move(block));
  }

 private:
  std::size_t size_;
  std::vector<std::unique_ptr<char[]>> free_;
};

// Bytes between a socket and the other side: [head, tail) of a pooled block.
class Buffer {
 public:
  explicit Buffer(BufferPool& pool) : pool_(&pool) {}
  bool empty() const { return head_ == tail_; }
  std::size_t size() const { return tail_ - head_; }
  std::size_t space() const { return pool_->size() - size(); }
  const char* data() const { return block_.get() + head_; }
  std::string_view view() const { return {data(), size()}; }

  // Contiguous room for up to space() bytes at the end.
  char* prepare() {
    if (!block_) block_ = pool_->get();
    if (head_ > 0 && tail_ == pool_->size()) compact();
    if (pool_->size() - tail_ < space()) compact();
    return block_.get() + tail_;
  }
  void commit(std::size_t n) { tail_ += n; }
  void consume(std::size_t n) {
    head_ += n;
    if (head_ == tail_) head_ = tail_ = 0;
  }
  std::size_t append(const char* p, std::size_t n) {
    n = std::min(n, space());
    if (n == 0) return 0;
    std::memcpy(prepare(), p, n);
    tail_ += n;
    return n;
  }
  std::size_t append(std::string_view s) { return append(s.data(), s.size()); }
  void clear() { head_ = tail_ = 0; }
  void release() {
    if (block_ && empty()) pool_->put(std::move(block_));
  }

 private:
  void compact() {
    std::memmove(block_.get(), block_.get() + head_, size());
    tail_ -= head_;
    head_ = 0;
  }
  BufferPool* pool_;
  std::unique_ptr<char[]> block_;
  std::size_t head_ = 0;
  std::size_t tail_ = 0;
};

enum class Kind : std::uint8_t { listener, transparent_listener, client, upstream, resolver };

struct Endpoint {
  explicit Endpoint(Kind k) : kind(k) {}
  Kind kind;
};

// One socket and its two buffers: `in` what it sent us, `out` what waits to be sent to it.
struct Side {
  explicit Side(BufferPool& pool) : in(pool), out(pool) {}
  int fd = -1;
  Buffer in;
  Buffer out;
  bool eof = false;
  bool failed = false;
  bool shut_write = false;
  // What epoll last said, so no syscall is spent on a socket with nothing to read or no room:
  // cleared by a short read, a short write or EAGAIN, set again by the next event.
  bool readable = false;
  bool writable = true;
  std::uint32_t events = 0;
};

void note_events(Side& s, std::uint32_t events) {
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) s.readable = true;
  if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) s.writable = true;
}

struct Client;

struct Upstream : Endpoint {
  explicit Upstream(BufferPool& pool) : Endpoint(Kind::upstream), side(pool) {}
  Side side;
  std::string key;  // destination: "host:port", or "=address:port" for a fixed address
  Client* owner = nullptr;
  bool connecting = false;
  bool closed = false;
  bool parked = false;  // idle in the pool
  bool reused = false;  // taken from the pool for the current exchange
  Clock::time_point idle_since;
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
  Clock::time_point deadline;
  bool closed = false;
  bool head_started = false;

  // The request.
  HeadScanner scanner;
  RequestHead request;
  Host host;     // the destination's name, normalised
  Host scratch;  // a second host to compare with (Host header, SNI)
  std::string sni;
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

bool same_address(const sockaddr_storage& a, const sockaddr_storage& b) {
  if (a.ss_family != b.ss_family) return false;
  if (a.ss_family == AF_INET) {
    const auto& x = reinterpret_cast<const sockaddr_in&>(a);
    const auto& y = reinterpret_cast<const sockaddr_in&>(b);
    return x.sin_port == y.sin_port && x.sin_addr.s_addr == y.sin_addr.s_addr;
  }
  if (a.ss_family == AF_INET6) {
    const auto& x = reinterpret_cast<const sockaddr_in6&>(a);
    const auto& y = reinterpret_cast<const sockaddr_in6&>(b);
    return x.sin6_port == y.sin6_port &&
           std::memcmp(&x.sin6_addr, &y.sin6_addr, sizeof x.sin6_addr) == 0;
  }
  return false;
}

void set_port(sockaddr_storage& a, std::uint16_t port) {
  if (a.ss_family == AF_INET) reinterpret_cast<sockaddr_in&>(a).sin_port = htons(port);
  if (a.ss_family == AF_INET6) reinterpret_cast<sockaddr_in6&>(a).sin6_port = htons(port);
}

std::uint16_t port_of(const sockaddr_storage& a) {
  if (a.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(a).sin_port);
  if (a.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(a).sin6_port);
  return 0;
}

socklen_t length_of(const sockaddr_storage& a) {
  return a.ss_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
}

// The address without port, as text, into `host` (an IP Host).
void address_host(const sockaddr_storage& a, Host& host) {
  char text[INET6_ADDRSTRLEN] = "";
  if (a.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(a).sin_addr, text, sizeof text);
    host.kind = HostKind::ipv4;
  } else {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(a).sin6_addr, text, sizeof text);
    host.kind = HostKind::ipv6;
  }
  host.text.assign(text);
}

bool is_loopback(const sockaddr_storage& a) {
  if (a.ss_family == AF_INET) {
    return (ntohl(reinterpret_cast<const sockaddr_in&>(a).sin_addr.s_addr) >> 24) == 127;
  }
  const auto& v6 = reinterpret_cast<const sockaddr_in6&>(a).sin6_addr;
  if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
  return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
}

bool is_unspecified(const sockaddr_storage& a) {
  if (a.ss_family == AF_INET) {
    return reinterpret_cast<const sockaddr_in&>(a).sin_addr.s_addr == htonl(INADDR_ANY);
  }
  const auto& v6 = reinterpret_cast<const sockaddr_in6&>(a).sin6_addr;
  if (IN6_IS_ADDR_UNSPECIFIED(&v6)) return true;
  return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 0 && v6.s6_addr[13] == 0 &&
         v6.s6_addr[14] == 0 && v6.s6_addr[15] == 0;
}

// "127.0.0.1:3128", "[::1]:3128"; port 0 takes any free port.
bool parse_listen_address(const std::string& text, sockaddr_storage& address) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 == text.size() || text.size() - colon > 6) {
    return false;
  }
  std::string host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  std::uint32_t port = 0;
  for (char c : text.substr(colon + 1)) {
    if (c < '0' || c > '9') return false;
    port = port * 10 + static_cast<std::uint32_t>(c - '0');
  }
  return port <= 65535 && parse_numeric_address(host, static_cast<std::uint16_t>(port), address);
}

int bind_listener(const std::string& text, sockaddr_storage& bound) {
  sockaddr_storage address;
  if (!parse_listen_address(text, address)) {
    throw std::system_error(EINVAL, std::generic_category(), "listen address '" + text + "'");
  }
  int fd = socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), length_of(address)) != 0 ||
      listen(fd, 4096) != 0) {
    int error = errno;
    close(fd);
    throw std::system_error(error, std::generic_category(), "listen on " + text);
  }
  socklen_t length = sizeof bound;
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length);
  return fd;
}

const char* status_text(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 408:
      return "Request Timeout";
    case 414:
      return "URI Too Long";
    case 431:
      return "Request Header Fields Too Large";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
  }
  return "Error";
}

void append_escaped(std::string& out, std::string_view text) {
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
}

}  // namespace

struct Proxy::Impl {
  Impl(ProxyOptions o, AccessPolicy& p, Resolver& r, PeerIdentity* i)
      : options(std::move(o)), policy(p), resolver(r), identity(i), pool(options.buffer_bytes) {}
  ~Impl();

  void setup();
  void poll();
  void tick();

  // Connections.
  void accept_all(bool transparent);
  void on_client_event(Client& c, std::uint32_t events);
  void on_upstream_event(Upstream& up, std::uint32_t events);
  void on_resolved(const std::string& name, const Resolver::Addresses* addresses);
  void drive(Client& c);
  bool read_into(Side& s);
  bool flush(Side& s);
  std::size_t forward(Side& to, const char* p, std::size_t n);
  void watch(Side& s, Endpoint* endpoint, bool want_read);
  void close_client(Client& c);
  void close_upstream(Upstream& up);

  // The exchange.
  bool advance(Client& c);
  bool sniff(Client& c);
  bool read_head(Client& c);
  void handle_request(Client& c, std::size_t head_size);
  bool read_hello(Client& c);
  void start_upstream(Client& c, bool may_reuse);
  void connect_next(Client& c);
  void on_connected(Client& c);
  bool pump_request(Client& c);
  bool pump_response(Client& c);
  bool start_response(Client& c);
  bool pump_tunnel(Client& c);
  bool linger(Client& c);
  void finish_exchange(Client& c);
  void upstream_failed(Client& c, int status, const char* reason);
  void respond(Client& c, int status, std::string_view message, bool close);
  void refuse_tls(Client& c, const char* reason);
  void on_timeout(Client& c);
  bool destination_allowed(const sockaddr_storage& a) const;
  Upstream* take_idle(const std::string& key);
  void park(Upstream& up);
  void bury();

  ProxyOptions options;
  AccessPolicy& policy;
  Resolver& resolver;
  PeerIdentity* identity;
  BufferPool pool;
  ProxyCounters counters;
  Clock::time_point now = Clock::now();

  int epoll_fd = -1;
  int listen_fd = -1;
  int transparent_fd = -1;
  sockaddr_storage listen_address{};
  sockaddr_storage transparent_address{};
  Endpoint listener{Kind::listener};
  Endpoint transparent_listener{Kind::transparent_listener};
  Endpoint resolver_endpoint{Kind::resolver};
  bool accepting_paused = false;

  std::uint64_t next_id = 1;
  std::unordered_map<std::uint64_t, std::unique_ptr<Client>> clients;
  std::unordered_map<Upstream*, std::unique_ptr<Upstream>> upstreams;
  std::unordered_map<std::string, std::vector<Upstream*>> idle;  // by destination; may be empty
  std::size_t idle_count = 0;
  std::unordered_map<uid_t, std::size_t> per_uid;
  std::unordered_map<std::string, std::vector<std::uint64_t>> waiting_for_dns;
  std::vector<std::unique_ptr<Client>> dead_clients;
  std::vector<std::unique_ptr<Upstream>> dead_upstreams;
  std::string scratch;  // response heads and error pages being built
};

Proxy::Impl::~Impl() {
  for (auto& [id, c] : clients) {
    if (c->side.fd >= 0) close(c->side.fd);
  }
  for (auto& [p, up] : upstreams) {
    if (up->side.fd >= 0) close(up->side.fd);
  }
  if (listen_fd >= 0) close(listen_fd);
  if (transparent_fd >= 0) close(transparent_fd);
  if (epoll_fd >= 0) close(epoll_fd);
}

void Proxy::Impl::setup() {
  epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
  listen_fd = bind_listener(options.listen, listen_address);
  epoll_event event{EPOLLIN, {.ptr = &listener}};
  epoll_ctl(epoll_fd, EPOLL_CTL_ADD, listen_fd, &event);
  if (!options.transparent_listen.empty()) {
    transparent_fd = bind_listener(options.transparent_listen, transparent_address);
    event = epoll_event{EPOLLIN, {.ptr = &transparent_listener}};
    epoll_ctl(epoll_fd, EPOLL_CTL_ADD, transparent_fd, &event);
  }
  event = epoll_event{EPOLLIN, {.ptr = &resolver_endpoint}};
  epoll_ctl(epoll_fd, EPOLL_CTL_ADD, resolver.fd(), &event);
}

void Proxy::Impl::poll() {
  epoll_event events[kMaxEvents];
  for (int round = 0; round < 4; ++round) {
    int n = epoll_wait(epoll_fd, events, kMaxEvents, 0);
    if (n <= 0) break;
    now = Clock::now();
    for (int i = 0; i < n; ++i) {
      auto* endpoint = static_cast<Endpoint*>(events[i].data.ptr);
      switch (endpoint->kind) {
        case Kind::listener:
          accept_all(false);
          break;
        case Kind::transparent_listener:
          accept_all(true);
          break;
        case Kind::resolver:
          resolver.drain([this](const std::string& name, const Resolver::Addresses* addresses) {
            on_resolved(name, addresses);
          });
          break;
        case Kind::client:
          on_client_event(*static_cast<Client*>(endpoint), events[i].events);
          break;
        case Kind::upstream:
          on_upstream_event(*static_cast<Upstream*>(endpoint), events[i].events);
          break;
      }
    }
    bury();
    if (n < kMaxEvents) break;
  }
}

void Proxy::Impl::bury() {
  dead_clients.clear();
  dead_upstreams.clear();
}

void Proxy::Impl::tick() {
  now = Clock::now();
  if (accepting_paused) {
    accepting_paused = false;
    epoll_event event{EPOLLIN, {.ptr = &listener}};
    epoll_ctl(epoll_fd, EPOLL_CTL_MOD, listen_fd, &event);
    if (transparent_fd >= 0) {
      event = epoll_event{EPOLLIN, {.ptr = &transparent_listener}};
      epoll_ctl(epoll_fd, EPOLL_CTL_MOD, transparent_fd, &event);
    }
  }
  std::vector<Client*> due;
  for (auto& [id, c] : clients) {
    if (!c->closed && c->deadline <= now) due.push_back(c.get());
  }
  for (Client* c : due) {
    if (!c->closed) on_timeout(*c);
  }
  std::vector<Upstream*> stale;
  for (auto& [key, list] : idle) {
    for (Upstream* up : list) {
      if (now - up->idle_since >= options.upstream_idle_timeout) stale.push_back(up);
    }
  }
  for (Upstream* up : stale) close_upstream(*up);
  // Empty lists are kept (a destination in use parks and takes without allocating) until
  // there are many.
  if (idle.size() > options.max_idle_upstreams) {
    std::erase_if(idle, [](const auto& entry) { return entry.second.empty(); });
  }
  bury();
}

// Accepting ------------------------------------------------------------------------------------

void Proxy::Impl::accept_all(bool transparent) {
  int fd_listen = transparent ? transparent_fd : listen_fd;
  for (int i = 0; i < 128; ++i) {
    sockaddr_storage peer{};
    socklen_t length = sizeof peer;
    int fd = accept4(fd_listen, reinterpret_cast<sockaddr*>(&peer), &length,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors: stop listening until the next tick instead of spinning.
        spdlog::warn("accept: {}; pausing new connections", std::strerror(errno));
        accepting_paused = true;
        epoll_event event{0, {.ptr = transparent ? &transparent_listener : &listener}};
        epoll_ctl(epoll_fd, EPOLL_CTL_MOD, fd_listen, &event);
      }
      return;
    }
    if (clients.size() >= options.max_connections) {
      ++counters.refused_connections;
      close(fd);
      continue;
    }
    sockaddr_storage server{};
    length = sizeof server;
    getsockname(fd, reinterpret_cast<sockaddr*>(&server), &length);
    sockaddr_storage original{};
    if (transparent) {
      length = sizeof original;
      bool found = server.ss_family == AF_INET
                       ? getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &original, &length) == 0
                       : getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &original, &length) == 0;
      // Without a redirect the "original" destination is this listener itself.
      if (!found || same_address(original, transparent_address) || same_address(original, server)) {
        ++counters.refused_connections;
        close(fd);
        continue;
      }
      server = original;
    }
    uid_t uid = kUnknownUid;
    if (identity) uid = identity->owner(peer, server).value_or(kUnknownUid);
    std::size_t& count = per_uid[uid];
    if (count >= options.max_connections_per_uid) {
      ++counters.refused_connections;
      close(fd);
      continue;
    }
    ++count;
    ++counters.accepted;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto client = std::make_unique<Client>(pool, options.limits, options.response_limits);
    Client& c = *client;
    c.id = next_id++;
    c.side.fd = fd;
    c.uid = uid;
    c.transparent = transparent;
    c.original_destination = original;
    c.state = transparent ? State::sniff : State::reading_head;
    c.deadline = now + options.header_timeout;
    c.side.events = EPOLLIN;
    epoll_event event{EPOLLIN, {.ptr = static_cast<Endpoint*>(&c)}};
    epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event);
    clients.emplace(c.id, std::move(client));
  }
}

// Events and I/O -------------------------------------------------------------------------------

void Proxy::Impl::on_client_event(Client& c, std::uint32_t events) {
  if (c.closed) return;
  if (events & EPOLLERR) c.side.failed = true;
  note_events(c.side, events);
  drive(c);
}

void Proxy::Impl::on_upstream_event(Upstream& up, std::uint32_t events) {
  if (up.closed) return;
  if (!up.owner) {
    // Idle in the pool: the origin closed it (or sent something it should not have).
    close_upstream(up);
    return;
  }
  Client& c = *up.owner;
  if (up.connecting) {
    int error = 0;
    socklen_t length = sizeof error;
    getsockopt(up.side.fd, SOL_SOCKET, SO_ERROR, &error, &length);
    if (error != 0 || (events & (EPOLLERR | EPOLLHUP))) {
      c.up = nullptr;
      close_upstream(up);
      connect_next(c);
      if (!c.closed) drive(c);
      return;
    }
    if (!(events & EPOLLOUT)) return;
    up.connecting = false;
    up.side.writable = true;
    on_connected(c);
  } else {
    if (events & EPOLLERR) up.side.failed = true;
    note_events(up.side, events);
  }
  drive(c);
}

bool Proxy::Impl::read_into(Side& s) {
  if (s.fd < 0 || s.eof || s.failed || !s.readable) return false;
  std::size_t room = s.in.space();
  if (room == 0) return false;
  char* p = s.in.prepare();
  ssize_t n = recv(s.fd, p, room, 0);
  if (n > 0) {
    s.in.commit(static_cast<std::size_t>(n));
    if (static_cast<std::size_t>(n) < room) s.readable = false;  // drained, most likely
    return true;
  }
  s.readable = false;
  if (n == 0) {
    s.eof = true;
    return true;
  }
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return false;
  s.failed = true;
  return true;
}

bool Proxy::Impl::flush(Side& s) {
  if (s.fd < 0 || s.failed || s.out.empty() || !s.writable) return false;
  ssize_t n = send(s.fd, s.out.data(), s.out.size(), MSG_NOSIGNAL);
  if (n > 0) {
    if (static_cast<std::size_t>(n) < s.out.size()) s.writable = false;
    s.out.consume(static_cast<std::size_t>(n));
    return true;
  }
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
    s.writable = false;
    return false;
  }
  s.failed = true;
  return true;
}

// Sends what it can at once when nothing is queued, queues what it can of the rest; returns
// how many bytes it took. A broken side takes everything (the caller closes it).
std::size_t Proxy::Impl::forward(Side& to, const char* p, std::size_t n) {
  if (to.failed) return n;
  std::size_t done = 0;
  if (to.out.empty() && to.writable) {
    ssize_t w = send(to.fd, p, n, MSG_NOSIGNAL);
    if (w > 0) {
      done = static_cast<std::size_t>(w);
    } else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      to.failed = true;
      return n;
    }
    if (done < n) to.writable = false;
  }
  return done + to.out.append(p + done, n - done);
}

void Proxy::Impl::watch(Side& s, Endpoint* endpoint, bool want_read) {
  if (s.fd < 0) return;
  std::uint32_t mask = 0;
  if (want_read && !s.eof && !s.failed && s.in.space() > 0) mask |= EPOLLIN;
  if (!s.out.empty()) mask |= EPOLLOUT;
  if (endpoint->kind == Kind::upstream && static_cast<Upstream*>(endpoint)->connecting) {
    mask = EPOLLOUT;
  }
  if (mask == s.events) return;
  epoll_event event{mask, {.ptr = endpoint}};
  epoll_ctl(epoll_fd, EPOLL_CTL_MOD, s.fd, &event);
  s.events = mask;
}

void Proxy::Impl::drive(Client& c) {
  bool moved = false;
  for (int round = 0; round < 16 && !c.closed; ++round) {
    bool progress = read_into(c.side);
    if (c.up && !c.up->connecting) progress |= read_into(c.up->side);
    progress |= advance(c);
    if (c.closed) return;
    progress |= flush(c.side);
    if (c.up && !c.up->connecting) progress |= flush(c.up->side);
    if (c.side.failed) {
      close_client(c);
      return;
    }
    if (!progress) break;
    moved = true;
  }
  if (c.closed) return;
  if (moved) {
    if (c.state == State::forwarding) c.deadline = now + options.response_timeout;
    if (c.state == State::tunnel) c.deadline = now + options.tunnel_idle_timeout;
  }
  if (c.state == State::reading_head && c.side.in.empty() && c.side.out.empty()) {
    c.side.in.release();
    c.side.out.release();
  }
  watch(c.side, &c, true);
  if (c.up) watch(c.up->side, c.up, true);
}

void Proxy::Impl::close_client(Client& c) {
  if (c.closed) return;
  c.closed = true;
  if (c.up) {
    c.up->owner = nullptr;
    close_upstream(*c.up);
    c.up = nullptr;
  }
  close(c.side.fd);
  c.side.fd = -1;
  auto count = per_uid.find(c.uid);
  if (count != per_uid.end() && --count->second == 0) per_uid.erase(count);
  auto it = clients.find(c.id);
  if (it != clients.end()) {
    dead_clients.push_back(std::move(it->second));
    clients.erase(it);
  }
}

void Proxy::Impl::close_upstream(Upstream& up) {
  if (up.closed) return;
  up.closed = true;
  if (up.parked) {
    up.parked = false;
    auto list = idle.find(up.key);
    if (list != idle.end()) {
      auto& v = list->second;
      auto at = std::find(v.begin(), v.end(), &up);
      if (at != v.end()) {
        v.erase(at);
        --idle_count;
      }
    }
  }
  up.owner = nullptr;
  close(up.side.fd);
  up.side.fd = -1;
  auto it = upstreams.find(&up);
  if (it != upstreams.end()) {
    dead_upstreams.push_back(std::move(it->second));
    upstreams.erase(it);
  }
}

// The exchange ---------------------------------------------------------------------------------

bool Proxy::Impl::advance(Client& c) {
  bool progress = false;
  for (int step = 0; step < 64 && !c.closed; ++step) {
    bool moved = false;
    switch (c.state) {
      case State::sniff:
        moved = sniff(c);
        break;
      case State::reading_head:
        moved = read_head(c);
        break;
      case State::resolving:
      case State::connecting:
        break;
      case State::forwarding:
        moved = pump_request(c);
        if (!c.closed && c.state == State::forwarding) moved |= pump_response(c);
        break;
      case State::hello:
        moved = read_hello(c);
        break;
      case State::tunnel:
        moved = pump_tunnel(c);
        break;
      case State::closing:
        moved = linger(c);
        break;
    }
    if (!moved) break;
    progress = true;
  }
  return progress;
}

bool Proxy::Impl::sniff(Client& c) {
  if (c.side.in.empty()) {
    if (c.side.eof) close_client(c);
    return c.side.eof;
  }
  // A TLS handshake record starts with 0x16; anything else is taken for HTTP.
  c.state =
      static_cast<unsigned char>(c.side.in.data()[0]) == 0x16 ? State::hello : State::reading_head;
  c.tunnel = c.state == State::hello;
  return true;
}

bool Proxy::Impl::read_head(Client& c) {
  if (c.side.in.empty()) {
    if (c.side.eof) {
      close_client(c);
      return true;
    }
    return false;
  }
  if (!c.head_started) {
    c.head_started = true;
    c.is_head = false;
    c.deadline = now + options.header_timeout;
  }
  switch (c.scanner.scan(c.side.in.view())) {
    case HeadScanner::State::error:
      ++counters.client_errors;
      respond(c, c.scanner.error().status, c.scanner.error().reason, true);
      return true;
    case HeadScanner::State::incomplete:
      if (c.side.eof) close_client(c);
      return c.side.eof;
    case HeadScanner::State::complete:
      break;
  }
  std::string_view head =
      c.side.in.view().substr(c.scanner.begin(), c.scanner.end() - c.scanner.begin());
  if (auto error = parse_request_head(head, c.request)) {
    ++counters.client_errors;
    respond(c, error.status, error.reason, true);
    return true;
  }
  handle_request(c, c.scanner.end());
  return true;
}

void Proxy::Impl::handle_request(Client& c, std::size_t head_size) {
  ++counters.requests;
  const RequestHead& r = c.request;
  c.is_head = r.is_head();
  c.http10 = r.minor_version == 0;
  c.keep_alive = r.wants_keep_alive();
  c.tunnel = r.is_connect();
  auto bad = [&](const char* reason) {
    ++counters.client_errors;
    respond(c, 400, reason, true);
  };

  std::string_view authority;
  std::string_view path;
  bool absolute = false;
  if (c.tunnel) {
    if (c.transparent) return bad("CONNECT is not served on the transparent port");
    authority = r.target;
  } else if (r.target.front() == '/') {
    if (!r.has_host) return bad("HTTP/1.0 request without Host");
    authority = r.host;
    path = r.target;
  } else if (auto uri = parse_absolute_uri(r.target)) {
    authority = uri->authority;
    path = uri->path;
    absolute = true;
  } else {
    return bad("unsupported request target (only http:// URIs, origin-form or CONNECT)");
  }
  auto parsed = split_authority(authority);
  if (!parsed || !normalize_host(parsed->host, c.host)) return bad("invalid host");
  if (c.tunnel && !parsed->has_port) return bad("CONNECT needs host:port");
  c.port = parsed->has_port ? parsed->port : 80;
  if (absolute && r.has_host) {
    auto host_field = split_authority(r.host);
    if (!host_field || !normalize_host(host_field->host, c.scratch) ||
        c.scratch.text != c.host.text || (host_field->has_port ? host_field->port : 80) != c.port) {
      return bad("the request URI and the Host field name different hosts");
    }
  }
  if (c.transparent) c.port = port_of(c.original_destination);

  if (c.tunnel && !options.connect_ports.contains(c.port)) {
    ++counters.blocked;
    respond(c, 403, "CONNECT to port " + std::to_string(c.port) + " is not allowed", true);
    return;
  }
  if (!policy.ready()) {
    respond(c, 503, "the web policy is not loaded yet; try again in a moment", true);
    return;
  }
  const WebRules& rules = policy.rules_for(c.uid);
  Verdict verdict = rules.decide(c.host);
  if (!verdict.allowed) {
    ++counters.blocked;
    std::string why = rules.describe(verdict);
    spdlog::debug("uid {}: {} {} refused: {}", c.uid, r.method, c.host.text, why);
    // A refused request's body is not read: the connection closes after the page.
    bool close = c.tunnel || r.has_body() || !c.keep_alive;
    c.side.in.consume(head_size);
    c.scanner.reset();
    // A list still on its way is not a decision: 503, as before the policy first arrives.
    respond(c, verdict.reason == Reason::list_loading ? 503 : 403, why, close);
    return;
  }
  ++counters.allowed;
  if (c.tunnel) {
    c.side.in.consume(head_size);
    c.side.out.append(kConnectEstablished);
    c.state = State::hello;
    c.deadline = now + options.header_timeout;
    return;
  }

  // The head for the origin: origin-form, Host first, hop-by-hop fields dropped.
  std::string& h = c.head_out;
  h.clear();
  h.append(r.method).append(" ");
  if (path.empty() || path.front() != '/') h.append("/");
  h.append(path).append(" HTTP/1.1\r\nHost: ").append(authority).append("\r\n");
  for (const auto& field : r.fields) {
    if (iequals(field.name, "host") || is_hop_by_hop(field.name, r.connection_tokens)) continue;
    h.append(field.name).append(": ").append(field.value).append("\r\n");
  }
  h.append("\r\n");
  c.request_body = r.chunked ? Body::chunked : r.content_length ? Body::length : Body::none;
  c.request_left = r.content_length.value_or(0);
  c.request_chunks.reset();
  c.request_done =
      c.request_body == Body::none || (c.request_body == Body::length && c.request_left == 0);
  c.retried = false;
  c.side.in.consume(head_size);
  c.scanner.reset();
  start_upstream(c, true);
}

bool Proxy::Impl::read_hello(Client& c) {
  HelloStatus status = parse_client_hello(c.side.in.view(), c.sni);
  if (status == HelloStatus::need_more) {
    if (c.side.eof) close_client(c);
    return c.side.eof;
  }
  if (status == HelloStatus::ok) {
    if (!normalize_host(c.sni, c.scratch) || c.scratch.is_ip()) {
      refuse_tls(c, "invalid server name");
      return true;
    }
    if (!c.transparent) {
      if (c.host.is_ip() || c.scratch.text != c.host.text) {
        refuse_tls(c, "the TLS server name does not match the CONNECT host");
        return true;
      }
    } else {
      c.host = c.scratch;
    }
  } else if (status == HelloStatus::no_sni) {
    // Without a name only an IP destination is acceptable; its mode's default applies.
    if (!c.transparent && !c.host.is_ip()) {
      refuse_tls(c, "no TLS server name");
      return true;
    }
    if (c.transparent) address_host(c.original_destination, c.host);
  } else {
    refuse_tls(c, to_string(status));
    return true;
  }
  if (c.transparent) {
    ++counters.requests;
    c.port = port_of(c.original_destination);
    if (!policy.ready()) {
      refuse_tls(c, "the web policy is not loaded yet");
      return true;
    }
    const WebRules& rules = policy.rules_for(c.uid);
    Verdict verdict = rules.decide(c.host);
    if (!verdict.allowed) {
      ++counters.blocked;
      spdlog::debug("uid {}: TLS {} refused: {}", c.uid, c.host.text, rules.describe(verdict));
      refuse_tls(c, "blocked by policy");
      return true;
    }
    ++counters.allowed;
  }
  start_upstream(c, false);
  return true;
}

void Proxy::Impl::refuse_tls(Client& c, const char* reason) {
  ++counters.refused_tls;
  spdlog::debug("uid {}: TLS to {} refused: {}", c.uid, c.host.text, reason);
  c.side.in.clear();
  c.side.out.append(kTlsAccessDenied);
  c.state = State::closing;
  c.deadline = now + options.linger_timeout;
}

bool Proxy::Impl::destination_allowed(const sockaddr_storage& a) const {
  if (is_unspecified(a)) return false;
  if (same_address(a, listen_address)) return false;
  if (transparent_fd >= 0 && same_address(a, transparent_address)) return false;
  if (is_loopback(a) && !options.allow_loopback_upstream) return false;
  return true;
}

void Proxy::Impl::start_upstream(Client& c, bool may_reuse) {
  c.key.clear();
  if (c.transparent) {
    Host address;
    address_host(c.original_destination, address);
    c.key.append("=").append(address.text);
  } else {
    c.key.append(c.host.text);
  }
  c.key.append(":").append(std::to_string(c.port));
  c.refused_destination = false;
  c.addresses.clear();
  c.next_address = 0;

  if (may_reuse && !c.tunnel) {
    if (Upstream* up = take_idle(c.key)) {
      ++counters.upstream_reuses;
      up->owner = &c;
      c.up = up;
      on_connected(c);
      return;
    }
  }
  if (c.transparent) {
    c.addresses.push_back(c.original_destination);
  } else if (c.host.is_ip()) {
    sockaddr_storage address;
    if (parse_numeric_address(c.host.text, c.port, address)) c.addresses.push_back(address);
  } else {
    const Resolver::Addresses* found = nullptr;
    switch (resolver.cached(c.host.text, found)) {
      case Resolver::Cached::hit:
        c.addresses = *found;
        break;
      case Resolver::Cached::failed:
        upstream_failed(c, 502, "the host name does not resolve");
        return;
      case Resolver::Cached::miss:
        waiting_for_dns[c.host.text].push_back(c.id);
        resolver.lookup(c.host.text);
        c.state = State::resolving;
        c.deadline = now + options.connect_timeout;
        return;
    }
  }
  for (auto& address : c.addresses) set_port(address, c.port);
  connect_next(c);
}

void Proxy::Impl::on_resolved(const std::string& name, const Resolver::Addresses* addresses) {
  auto it = waiting_for_dns.find(name);
  if (it == waiting_for_dns.end()) return;
  std::vector<std::uint64_t> ids = std::move(it->second);
  waiting_for_dns.erase(it);
  for (std::uint64_t id : ids) {
    auto found = clients.find(id);
    if (found == clients.end()) continue;
    Client& c = *found->second;
    if (c.closed || c.state != State::resolving || c.host.text != name) continue;
    if (!addresses) {
      upstream_failed(c, 502, "the host name does not resolve");
    } else {
      c.addresses = *addresses;
      for (auto& address : c.addresses) set_port(address, c.port);
      c.next_address = 0;
      connect_next(c);
    }
    if (!c.closed) drive(c);
  }
}

void Proxy::Impl::connect_next(Client& c) {
  while (c.next_address < c.addresses.size()) {
    const sockaddr_storage& address = c.addresses[c.next_address++];
    if (!destination_allowed(address)) {
      c.refused_destination = true;
      continue;
    }
    int fd = socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int rc = connect(fd, reinterpret_cast<const sockaddr*>(&address), length_of(address));
    if (rc != 0 && errno != EINPROGRESS) {
      close(fd);
      continue;
    }
    ++counters.upstream_connects;
    auto upstream = std::make_unique<Upstream>(pool);
    Upstream& up = *upstream;
    up.side.fd = fd;
    up.key = c.key;
    up.owner = &c;
    up.connecting = rc != 0;
    up.side.events = up.connecting ? EPOLLOUT : EPOLLIN;
    epoll_event event{up.side.events, {.ptr = static_cast<Endpoint*>(&up)}};
    epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event);
    upstreams.emplace(&up, std::move(upstream));
    c.up = &up;
    if (up.connecting) {
      c.state = State::connecting;
      c.deadline = now + options.connect_timeout;
    } else {
      on_connected(c);
    }
    return;
  }
  if (c.refused_destination) {
    ++counters.blocked;
    if (c.tunnel) {
      refuse_tls(c, "destination not reachable through the proxy");
    } else {
      respond(c, 403, "this destination is not reachable through the proxy", true);
    }
    return;
  }
  upstream_failed(c, 502, "cannot connect to the origin");
}

void Proxy::Impl::on_connected(Client& c) {
  if (c.tunnel) {
    ++counters.tunnels;
    c.state = State::tunnel;
    c.deadline = now + options.tunnel_idle_timeout;
    return;
  }
  c.up->side.out.append(c.head_out);
  c.state = State::forwarding;
  c.deadline = now + options.response_timeout;
  c.response_state = ResponseState::head;
  c.response_scanner.reset();
  c.response_seen = false;
  c.response_started = false;
}

bool Proxy::Impl::pump_request(Client& c) {
  if (c.request_done) return false;
  Side& to = c.up->side;
  bool progress = false;
  if (c.request_body == Body::length) {
    std::size_t n = static_cast<std::size_t>(
        std::min<std::uint64_t>(c.request_left, std::min(c.side.in.size(), to.out.space())));
    if (n > 0) {
      to.out.append(c.side.in.data(), n);
      c.side.in.consume(n);
      c.request_left -= n;
      progress = true;
    }
    if (c.request_left == 0) c.request_done = true;
  } else {
    while (!c.request_done && !c.side.in.empty() && to.out.space() > 0) {
      ChunkedDecoder::Step step;
      std::string_view in = c.side.in.view().substr(0, to.out.space());
      if (!c.request_chunks.step(in, step)) {
        ++counters.client_errors;
        if (c.up) close_upstream(*c.up);
        c.up = nullptr;
        respond(c, 400, "malformed chunked request body", true);
        return true;
      }
      if (step.consumed == 0) break;
      to.out.append(c.side.in.data(), step.consumed);
      c.side.in.consume(step.consumed);
      progress = true;
      if (c.request_chunks.done()) c.request_done = true;
    }
  }
  if (!c.request_done && c.side.in.empty() && (c.side.eof || c.side.failed)) {
    close_client(c);  // the client gave up in the middle of its body
    return true;
  }
  return progress;
}

bool Proxy::Impl::start_response(Client& c) {
  Upstream& up = *c.up;
  Side& in = up.side;
  if (in.in.empty()) {
    if (in.eof || in.failed) {
      upstream_failed(c, 502, "the origin closed the connection without a response");
      return true;
    }
    return false;
  }
  c.response_seen = true;
  switch (c.response_scanner.scan(in.in.view())) {
    case HeadScanner::State::error:
      upstream_failed(c, 502, c.response_scanner.error().reason);
      return true;
    case HeadScanner::State::incomplete:
      if (in.eof || in.failed) {
        upstream_failed(c, 502, "the origin closed the connection in the middle of a response");
        return true;
      }
      return false;
    case HeadScanner::State::complete:
      break;
  }
  std::size_t end = c.response_scanner.end();
  std::string_view head =
      in.in.view().substr(c.response_scanner.begin(), end - c.response_scanner.begin());
  if (auto error = parse_response_head(head, c.response)) {
    upstream_failed(c, 502, error.reason);
    return true;
  }
  const ResponseHead& r = c.response;
  if (c.side.out.space() < end + 64) return false;  // wait for the client to take what it has
  if (r.status < 200) {
    if (r.status == 101) {
      upstream_failed(c, 502, "the origin switched protocols unasked");
      return true;
    }
    if (!c.http10) c.side.out.append(head);  // interim responses pass, except to HTTP/1.0
    in.in.consume(end);
    c.response_scanner.reset();
    return true;
  }
  bool no_body = c.is_head || r.status == 204 || r.status == 304;
  if (no_body) {
    c.response_body = Body::none;
  } else if (r.chunked) {
    c.response_body = Body::chunked;
  } else if (r.has_transfer_encoding || !r.content_length) {
    c.response_body = Body::until_close;
  } else {
    c.response_body = Body::length;
    c.response_left = *r.content_length;
  }
  c.response_chunks.reset();
  c.upstream_reusable =
      c.response_body != Body::until_close && !r.close && (r.minor_version == 1 || r.keep_alive);
  c.dechunk = c.response_body == Body::chunked && c.http10;
  c.client_keeps = c.keep_alive && c.response_body != Body::until_close && !c.dechunk;

  std::string& h = scratch;
  h.clear();
  h.append(r.status_line).append("\r\n");
  for (const auto& field : r.fields) {
    if (is_hop_by_hop(field.name, r.connection_tokens)) continue;
    if (c.dechunk && iequals(field.name, "transfer-encoding")) continue;
    h.append(field.name).append(": ").append(field.value).append("\r\n");
  }
  if (!c.client_keeps) {
    h.append("Connection: close\r\n");
  } else if (c.http10) {
    h.append("Connection: keep-alive\r\n");
  }
  h.append("\r\n");
  c.side.out.append(h);
  in.in.consume(end);
  c.response_started = true;
  c.response_state =
      c.response_body == Body::none || (c.response_body == Body::length && c.response_left == 0)
          ? ResponseState::done
          : ResponseState::body;
  return true;
}

bool Proxy::Impl::pump_response(Client& c) {
  bool progress = false;
  for (int step = 0; step < 64 && !c.closed && c.up; ++step) {
    Side& from = c.up->side;
    if (c.response_state == ResponseState::head) {
      if (!start_response(c)) return progress;
      progress = true;
      continue;
    }
    if (c.response_state == ResponseState::done) {
      finish_exchange(c);
      return true;
    }
    bool broken = from.failed || (from.eof && from.in.empty());
    switch (c.response_body) {
      case Body::none:
        c.response_state = ResponseState::done;
        continue;
      case Body::length: {
        std::size_t n =
            static_cast<std::size_t>(std::min<std::uint64_t>(c.response_left, from.in.size()));
        if (n == 0) {
          if (broken) close_client(c);  // truncated: the client must not take it as whole
          return progress || broken;
        }
        std::size_t taken = forward(c.side, from.in.data(), n);
        from.in.consume(taken);
        c.response_left -= taken;
        if (c.response_left == 0) c.response_state = ResponseState::done;
        if (taken == 0) return progress;
        progress = true;
        continue;
      }
      case Body::chunked: {
        if (c.response_chunks.done()) {
          c.response_state = ResponseState::done;
          continue;
        }
        if (from.in.empty()) {
          if (broken) close_client(c);
          return progress || broken;
        }
        std::size_t limit = c.side.out.empty() ? pool.size() : c.side.out.space();
        if (limit == 0) return progress;
        ChunkedDecoder::Step s;
        if (!c.response_chunks.step(from.in.view().substr(0, limit), s)) {
          close_client(c);
          return true;
        }
        if (c.dechunk) {
          if (s.data_size > 0) forward(c.side, from.in.data() + s.data_begin, s.data_size);
        } else {
          forward(c.side, from.in.data(), s.consumed);
        }
        from.in.consume(s.consumed);
        if (s.consumed == 0) return progress;
        progress = true;
        continue;
      }
      case Body::until_close: {
        if (!from.in.empty()) {
          std::size_t taken = forward(c.side, from.in.data(), from.in.size());
          from.in.consume(taken);
          if (taken == 0) return progress;
          progress = true;
          continue;
        }
        if (from.eof) {
          c.response_state = ResponseState::done;
          continue;
        }
        if (from.failed) {
          close_client(c);
          return true;
        }
        return progress;
      }
    }
  }
  return progress;
}

void Proxy::Impl::finish_exchange(Client& c) {
  Upstream& up = *c.up;
  bool reusable = c.upstream_reusable && c.request_done && up.side.in.empty() &&
                  up.side.out.empty() && !up.side.eof && !up.side.failed;
  c.up = nullptr;
  up.owner = nullptr;
  if (reusable) {
    park(up);
  } else {
    close_upstream(up);
  }
  if (!c.request_done || !c.client_keeps) {
    c.state = State::closing;
    c.deadline = now + options.linger_timeout;
    return;
  }
  c.state = State::reading_head;
  c.scanner.reset();
  c.head_started = false;
  c.deadline = now + options.idle_timeout;
}

Upstream* Proxy::Impl::take_idle(const std::string& key) {
  auto it = idle.find(key);
  if (it == idle.end() || it->second.empty()) return nullptr;
  Upstream* up = it->second.back();  // the most recently used: the least likely to be closed
  it->second.pop_back();
  --idle_count;
  up->parked = false;
  up->reused = true;
  return up;
}

void Proxy::Impl::park(Upstream& up) {
  auto& list = idle[up.key];
  if (idle_count >= options.max_idle_upstreams || list.size() >= options.max_idle_per_destination) {
    close_upstream(up);
    return;
  }
  list.push_back(&up);
  ++idle_count;
  up.parked = true;
  up.idle_since = now;
  up.side.in.release();
  up.side.out.release();
  watch(up.side, &up, true);
}

void Proxy::Impl::upstream_failed(Client& c, int status, const char* reason) {
  ++counters.upstream_errors;
  bool retry = c.up && c.up->reused && !c.response_seen && !c.retried && !c.tunnel &&
               c.request_body == Body::none;
  if (c.up) {
    c.up->owner = nullptr;
    close_upstream(*c.up);
    c.up = nullptr;
  }
  if (retry) {
    // An idle connection the origin closed just as we reused it: once more on a fresh one.
    --counters.upstream_errors;
    c.retried = true;
    start_upstream(c, false);
    return;
  }
  spdlog::debug("uid {}: {}:{}: {}", c.uid, c.host.text, c.port, reason);
  if (c.response_started || c.tunnel) {
    close_client(c);  // too late for an HTTP answer
    return;
  }
  respond(c, status, reason, true);
}

void Proxy::Impl::respond(Client& c, int status, std::string_view message, bool close) {
  if (c.up) {
    c.up->owner = nullptr;
    close_upstream(*c.up);
    c.up = nullptr;
  }
  std::string body;
  body.reserve(256 + message.size() + c.host.text.size());
  body.append("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>");
  body.append(std::to_string(status)).append(" ").append(status_text(status));
  body.append("</title></head><body>\n<h1>");
  body.append(status == 403 ? "This site is blocked" : status_text(status));
  body.append("</h1>\n");
  if (!c.host.text.empty() && status == 403) {
    body.append("<p><b>");
    append_escaped(body, c.host.text);
    body.append("</b></p>\n");
  }
  body.append("<p>");
  append_escaped(body, message);
  body.append("</p>\n</body></html>\n");

  std::string& h = scratch;
  h.clear();
  h.append("HTTP/1.1 ").append(std::to_string(status)).append(" ").append(status_text(status));
  h.append("\r\nContent-Type: text/html; charset=utf-8\r\nCache-Control: no-store\r\n");
  h.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  if (close) h.append("Connection: close\r\n");
  h.append("\r\n");
  if (!c.is_head) h.append(body);
  if (c.side.out.append(h) < h.size()) close = true;  // no room: at least do not hang
  if (close) {
    c.state = State::closing;
    c.deadline = now + options.linger_timeout;
  } else {
    c.state = State::reading_head;
    c.scanner.reset();
    c.head_started = false;
    c.deadline = now + options.idle_timeout;
  }
}

bool Proxy::Impl::pump_tunnel(Client& c) {
  Upstream& up = *c.up;
  bool progress = false;
  if (!c.side.in.empty()) {
    std::size_t taken = forward(up.side, c.side.in.data(), c.side.in.size());
    c.side.in.consume(taken);
    progress |= taken > 0;
  }
  if (!up.side.in.empty()) {
    std::size_t taken = forward(c.side, up.side.in.data(), up.side.in.size());
    up.side.in.consume(taken);
    progress |= taken > 0;
  }
  // Half-closes pass through: each direction ends on its own.
  if (c.side.eof && c.side.in.empty() && up.side.out.empty() && !up.side.shut_write) {
    shutdown(up.side.fd, SHUT_WR);
    up.side.shut_write = true;
    progress = true;
  }
  if (up.side.eof && up.side.in.empty() && c.side.out.empty() && !c.side.shut_write) {
    shutdown(c.side.fd, SHUT_WR);
    c.side.shut_write = true;
    progress = true;
  }
  if (c.side.failed || up.side.failed || (c.side.shut_write && up.side.shut_write)) {
    close_client(c);
    return true;
  }
  return progress;
}

// After a final answer: send it, stop writing, read and drop what the client still sends (so
// the kernel does not reset the connection before the answer is read), then close.
bool Proxy::Impl::linger(Client& c) {
  c.side.in.clear();
  if (!c.side.out.empty()) return false;
  if (!c.side.shut_write) {
    shutdown(c.side.fd, SHUT_WR);
    c.side.shut_write = true;
    c.deadline = std::min(c.deadline, now + options.linger_timeout);
  }
  if (c.side.eof || c.side.failed) {
    close_client(c);
    return true;
  }
  return false;
}

void Proxy::Impl::on_timeout(Client& c) {
  switch (c.state) {
    case State::reading_head:
      if (c.head_started && !c.side.in.empty()) {
        ++counters.client_errors;
        respond(c, 408, "the request head did not arrive in time", true);
        drive(c);
      } else {
        close_client(c);
      }
      return;
    case State::resolving:
    case State::connecting:
      if (c.tunnel) {
        close_client(c);
        return;
      }
      ++counters.upstream_errors;
      respond(c, 504, "the origin did not accept the connection in time", true);
      drive(c);
      return;
    case State::forwarding:
      if (!c.response_started) {
        ++counters.upstream_errors;
        respond(c, 504, "the origin did not answer in time", true);
        drive(c);
      } else {
        close_client(c);
      }
      return;
    case State::sniff:
    case State::hello:
    case State::tunnel:
    case State::closing:
      close_client(c);
      return;
  }
}

// Proxy ----------------------------------------------------------------------------------------

Proxy::Proxy(ProxyOptions options, AccessPolicy& policy, Resolver& resolver, PeerIdentity* identity)
    : impl_(std::make_unique<Impl>(std::move(options), policy, resolver, identity)) {
  impl_->setup();
}

Proxy::~Proxy() = default;

int Proxy::fd() const { return impl_->epoll_fd; }
void Proxy::poll() { impl_->poll(); }
void Proxy::tick() { impl_->tick(); }
std::uint16_t Proxy::port() const { return port_of(impl_->listen_address); }
std::uint16_t Proxy::transparent_port() const {
  return impl_->transparent_fd >= 0 ? port_of(impl_->transparent_address) : 0;
}
const ProxyCounters& Proxy::counters() const { return impl_->counters; }
std::size_t Proxy::connections() const { return impl_->clients.size(); }
std::size_t Proxy::idle_upstreams() const { return impl_->idle_count; }

}  // namespace mp::webfilter
