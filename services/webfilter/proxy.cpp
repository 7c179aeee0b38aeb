#include "proxy.h"

#include <arpa/inet.h>  // before linux/netfilter_ipv4.h, which needs netinet/in.h first
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
#include <optional>
#include <system_error>
#include <unordered_map>
#include <vector>

#include "block_page.h"
#include "destinations.h"
#include "listen_address.h"
#include "peer_identity.h"
#include "proxy_connection.h"
#include "resolver.h"
#include "socket_address.h"
#include "tunnel.h"
#include "upstream_pool.h"

#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif

namespace mp::webfilter {

namespace {

using Clock = ProxyClock;
constexpr int kMaxEvents = 256;
// A TLS alert record: fatal, access_denied. The client learns it was refused, not why.
constexpr std::string_view kTlsAccessDenied("\x15\x03\x03\x00\x02\x02\x31", 7);
constexpr std::string_view kConnectEstablished = "HTTP/1.1 200 Connection established\r\n\r\n";

// The destination of a redirected connection, or nullopt if it was not redirected.
std::optional<sockaddr_storage> original_destination(int fd, const sockaddr_storage& local) {
  sockaddr_storage original{};
  socklen_t length = sizeof original;
  bool found = local.ss_family == AF_INET
                   ? getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &original, &length) == 0
                   : getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &original, &length) == 0;
  // Without a redirect the "original" destination is the listener itself.
  if (!found || same_address(original, local)) return std::nullopt;
  return original;
}

}  // namespace

struct Proxy::Impl {
  Impl(ProxyOptions o, AccessPolicy& p, Resolver& r, PeerIdentity* i)
      : options(std::move(o)),
        policy(p),
        resolver(r),
        identity(i),
        pool(options.buffer_bytes),
        idle(options.max_idle_upstreams, options.max_idle_per_destination) {}
  ~Impl();

  void setup();
  void listen_on(const std::string& address, bool transparent);
  void poll();
  void tick();

  // Connections.
  void accept_all(Listener& listener);
  void on_client_event(Client& c, std::uint32_t events);
  void on_upstream_event(Upstream& up, std::uint32_t events);
  void on_resolved(const std::string& name, const Resolver::Addresses* addresses);
  void drive(Client& c);
  void watch(Side& s, Endpoint* endpoint, bool want_read);
  void close_client(Client& c);
  void close_upstream(Upstream& up);
  void bury();

  // The exchange.
  bool advance(Client& c);
  bool sniff(Client& c);
  bool read_head(Client& c);
  void handle_request(Client& c, std::size_t head_size);
  bool read_hello(Client& c);
  bool refuse_encrypted_hello(Client& c);
  void start_upstream(Client& c, bool may_reuse);
  void use_addresses(Client& c, const Resolver::Addresses& resolved);
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
  void park(Upstream& up);

  ProxyOptions options;
  AccessPolicy& policy;
  Resolver& resolver;
  PeerIdentity* identity;
  BufferPool pool;
  ProxyCounters counters;
  Clock::time_point now = Clock::now();

  int epoll_fd = -1;
  std::vector<std::unique_ptr<Listener>> listeners;  // the forward one first
  Endpoint resolver_endpoint{Kind::resolver};
  bool accepting_paused = false;

  std::uint64_t next_id = 1;
  std::unordered_map<std::uint64_t, std::unique_ptr<Client>> clients;
  std::unordered_map<Upstream*, std::unique_ptr<Upstream>> upstreams;
  UpstreamPool<Upstream> idle;
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
  for (auto& listener : listeners) close(listener->fd);
  if (epoll_fd >= 0) close(epoll_fd);
}

void Proxy::Impl::setup() {
  epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
  listen_on(options.listen, false);
  for (const auto& address : options.transparent_listen) {
    try {
      listen_on(address, true);
    } catch (const std::system_error& e) {
      // A host without IPv6 cannot listen on [::1]: its station users have no IPv6 web to
      // redirect (nftables rejects what there is).
      bool no_ipv6 = (e.code().value() == EADDRNOTAVAIL || e.code().value() == EAFNOSUPPORT) &&
                     address.starts_with("[");
      if (!no_ipv6) throw;
      spdlog::warn("no IPv6 transparent listener ({}): {}", address, e.what());
    }
  }
  epoll_event event{EPOLLIN, {.ptr = &resolver_endpoint}};
  epoll_ctl(epoll_fd, EPOLL_CTL_ADD, resolver.fd(), &event);
}

void Proxy::Impl::listen_on(const std::string& address, bool transparent) {
  auto listener = std::make_unique<Listener>();
  listener->fd = bind_listener(address, listener->address);
  listener->transparent = transparent;
  epoll_event event{EPOLLIN, {.ptr = static_cast<Endpoint*>(listener.get())}};
  epoll_ctl(epoll_fd, EPOLL_CTL_ADD, listener->fd, &event);
  listeners.push_back(std::move(listener));
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
          accept_all(*static_cast<Listener*>(endpoint));
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
    for (auto& listener : listeners) {
      epoll_event event{EPOLLIN, {.ptr = static_cast<Endpoint*>(listener.get())}};
      epoll_ctl(epoll_fd, EPOLL_CTL_MOD, listener->fd, &event);
    }
  }
  std::vector<Client*> due;
  for (auto& [id, c] : clients) {
    if (!c->closed && c->deadline <= now) due.push_back(c.get());
  }
  for (Client* c : due) {
    if (!c->closed) on_timeout(*c);
  }
  for (Upstream* up : idle.expired(now, options.upstream_idle_timeout)) close_upstream(*up);
  idle.trim();
  bury();
}

// Accepting ------------------------------------------------------------------------------------

void Proxy::Impl::accept_all(Listener& listener) {
  for (int i = 0; i < 128; ++i) {
    sockaddr_storage peer{};
    socklen_t length = sizeof peer;
    int fd = accept4(listener.fd, reinterpret_cast<sockaddr*>(&peer), &length,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors: stop listening until the next tick instead of spinning.
        spdlog::warn("accept: {}; pausing new connections", std::strerror(errno));
        accepting_paused = true;
        for (auto& each : listeners) {
          epoll_event event{0, {.ptr = static_cast<Endpoint*>(each.get())}};
          epoll_ctl(epoll_fd, EPOLL_CTL_MOD, each->fd, &event);
        }
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
    if (listener.transparent) {
      auto redirected = original_destination(fd, server);
      // A connection made straight to the port carries no destination to judge.
      if (!redirected) {
        ++counters.refused_connections;
        close(fd);
        continue;
      }
      original = server = *redirected;
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
    c.transparent = listener.transparent;
    c.original_destination = original;
    c.state = listener.transparent ? State::sniff : State::reading_head;
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
  idle.remove(up);
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
  HelloStatus status = parse_client_hello(c.side.in.view(), c.hello);
  if (status == HelloStatus::need_more) {
    if (c.side.eof) close_client(c);
    return c.side.eof;
  }
  if (status == HelloStatus::ok) {
    if (!normalize_host(c.hello.server_name, c.scratch) || c.scratch.is_ip()) {
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
  if (refuse_encrypted_hello(c)) return true;
  start_upstream(c, false);
  return true;
}

// With Encrypted Client Hello the name judged is only the provider's public one, and the real
// one is hidden: in allow-only mode that would let any site through behind an allowed name.
bool Proxy::Impl::refuse_encrypted_hello(Client& c) {
  if (!c.hello.encrypted_client_hello) return false;
  if (!policy.ready() || policy.rules_for(c.uid).mode() != WebMode::allow_only) return false;
  ++counters.refused_ech;
  refuse_tls(c, "Encrypted Client Hello is refused in allow-only mode");
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
  for (const auto& listener : listeners) {
    if (same_address(a, listener->address)) return false;
  }
  if (is_loopback(a) && !options.allow_loopback_upstream) return false;
  return true;
}

void Proxy::Impl::start_upstream(Client& c, bool may_reuse) {
  c.key.assign(c.host.text).append(":").append(std::to_string(c.port));
  c.refused_destination = false;
  c.addresses.clear();
  c.next_address = 0;

  if (may_reuse && !c.tunnel) {
    if (Upstream* up = idle.take(c.key)) {
      ++counters.upstream_reuses;
      up->reused = true;
      up->owner = &c;
      c.up = up;
      on_connected(c);
      return;
    }
  }
  if (c.host.is_ip()) {
    // An address is its own answer (for the transparent listener without a name: the original
    // destination).
    sockaddr_storage address;
    if (parse_numeric_address(c.host.text, c.port, address)) c.addresses.push_back(address);
    connect_next(c);
    return;
  }
  const Resolver::Addresses* found = nullptr;
  switch (resolver.cached(c.host.text, found)) {
    case Resolver::Cached::hit:
      use_addresses(c, *found);
      return;
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

// The name's addresses, the client's original destination first if it is one of them.
void Proxy::Impl::use_addresses(Client& c, const Resolver::Addresses& resolved) {
  c.addresses =
      destinations_for(resolved, c.port, c.transparent ? &c.original_destination : nullptr);
  c.next_address = 0;
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
      use_addresses(c, *addresses);
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
    if (spdlog::should_log(spdlog::level::debug)) {
      spdlog::debug("uid {}: {} -> {}", c.uid, c.key, to_string(address));
    }
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

void Proxy::Impl::park(Upstream& up) {
  if (!idle.park(up, now)) {
    close_upstream(up);
    return;
  }
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
  if (c.response_started) {
    close_client(c);  // too late for an answer
    return;
  }
  if (c.tunnel) {
    // Inside a TLS handshake no HTTP answer fits: an alert tells the client it failed.
    c.side.in.clear();
    c.side.out.append(kTlsAccessDenied);
    c.state = State::closing;
    c.deadline = now + options.linger_timeout;
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
  write_error_page(ErrorPage{.status = status,
                             .host = c.host.text,
                             .message = message,
                             .close = close,
                             .head_only = c.is_head},
                   scratch);
  if (c.side.out.append(scratch) < scratch.size()) close = true;  // no room: at least do not hang
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
  TunnelStep step = mp::webfilter::pump_tunnel(c.side, c.up->side);
  if (step.finished) {
    close_client(c);
    return true;
  }
  return step.progress;
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
std::uint16_t Proxy::port() const { return port_of(impl_->listeners.front()->address); }
std::uint16_t Proxy::transparent_port() const {
  for (const auto& listener : impl_->listeners) {
    if (listener->transparent) return port_of(listener->address);
  }
  return 0;
}
std::vector<std::string> Proxy::transparent_addresses() const {
  std::vector<std::string> out;
  for (const auto& listener : impl_->listeners) {
    if (listener->transparent) out.push_back(to_string(listener->address));
  }
  return out;
}
const ProxyCounters& Proxy::counters() const { return impl_->counters; }
std::size_t Proxy::connections() const { return impl_->clients.size(); }
std::size_t Proxy::idle_upstreams() const { return impl_->idle.size(); }

}  // namespace mp::webfilter
