#include "webfilter_support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <future>
#include <stdexcept>

#include "mp/bus/testing.h"
#include "peer_identity.h"
#include "webfilter_service.h"

namespace mp::webfilter::test {

namespace {

int listen_on(const std::string& address, std::uint16_t port, std::uint16_t& bound) {
  sockaddr_storage a{};
  if (!parse_numeric_address(address, port, a)) throw std::invalid_argument(address);
  int fd = socket(a.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  socklen_t length = a.ss_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), length) != 0 || listen(fd, 1024) != 0) {
    close(fd);
    throw std::runtime_error("cannot listen on " + address + ": " + std::strerror(errno));
  }
  sockaddr_storage b{};
  length = sizeof b;
  getsockname(fd, reinterpret_cast<sockaddr*>(&b), &length);
  bound = ntohs(b.ss_family == AF_INET ? reinterpret_cast<sockaddr_in&>(b).sin_port
                                       : reinterpret_cast<sockaddr_in6&>(b).sin6_port);
  return fd;
}

bool send_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) {
      if (w < 0 && errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Header fields of a head, names lowercased.
std::map<std::string, std::string> fields_of(const std::string& head) {
  std::map<std::string, std::string> fields;
  std::size_t pos = head.find("\r\n");
  while (pos != std::string::npos && pos + 2 < head.size()) {
    std::size_t next = head.find("\r\n", pos + 2);
    if (next == std::string::npos) break;
    std::string line = head.substr(pos + 2, next - pos - 2);
    auto colon = line.find(':');
    if (colon != std::string::npos) {
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      fields[lower(line.substr(0, colon))] = value;
    }
    pos = next;
  }
  return fields;
}

// Reads from `fd` into `buffer` until it holds `want` bytes; false on close/error.
bool read_until(int fd, std::string& buffer, std::size_t want) {
  char chunk[65536];
  while (buffer.size() < want) {
    ssize_t n = recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buffer.append(chunk, static_cast<std::size_t>(n));
  }
  return true;
}

bool read_line(int fd, std::string& buffer, std::string& line) {
  std::size_t end;
  char chunk[4096];
  while ((end = buffer.find("\r\n")) == std::string::npos) {
    ssize_t n = recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buffer.append(chunk, static_cast<std::size_t>(n));
  }
  line = buffer.substr(0, end);
  buffer.erase(0, end + 2);
  return true;
}

}  // namespace

std::uint8_t pattern_byte(std::uint64_t i) {
  std::uint64_t x = i * 0x9E3779B97F4A7C15ull;
  return static_cast<std::uint8_t>((x >> 29) ^ (x >> 47) ^ i);
}

std::uint64_t fnv1a(std::uint64_t hash, const void* data, std::size_t size) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < size; ++i) {
    hash ^= p[i];
    hash *= 1099511628211ull;
  }
  return hash;
}

std::uint64_t pattern_hash(std::uint64_t size) {
  std::uint64_t hash = kFnvBasis;
  std::vector<unsigned char> block(65536);
  for (std::uint64_t at = 0; at < size; at += block.size()) {
    std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(block.size(), size - at));
    for (std::size_t i = 0; i < n; ++i) block[i] = pattern_byte(at + i);
    hash = fnv1a(hash, block.data(), n);
  }
  return hash;
}

// Origin ---------------------------------------------------------------------------------------

Origin::Origin(const std::string& address, std::uint16_t port) {
  listen_fd_ = listen_on(address, port, port_);
  acceptor_ = std::thread([this] { accept_loop(); });
}

Origin::~Origin() {
  stopping_ = true;
  shutdown(listen_fd_, SHUT_RDWR);
  acceptor_.join();
  {
    std::lock_guard lock(mutex_);
    for (int fd : open_) shutdown(fd, SHUT_RDWR);
  }
  for (auto& t : threads_) t.join();
  close(listen_fd_);
}

std::string Origin::last_host() {
  std::lock_guard lock(mutex_);
  return last_host_;
}

void Origin::accept_loop() {
  while (!stopping_) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (stopping_) return;
      continue;
    }
    ++connections_;
    std::lock_guard lock(mutex_);
    open_.insert(fd);
    threads_.emplace_back([this, fd] { serve(fd); });
  }
}

void Origin::serve(int fd) {
  std::string buffer;
  while (!stopping_) {
    std::size_t end;
    char chunk[16384];
    while ((end = buffer.find("\r\n\r\n")) == std::string::npos) {
      ssize_t n = recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) goto done;
      buffer.append(chunk, static_cast<std::size_t>(n));
    }
    {
      std::string head = buffer.substr(0, end + 4);
      buffer.erase(0, end + 4);
      auto fields = fields_of(head);
      std::string line = head.substr(0, head.find("\r\n"));
      std::string method = line.substr(0, line.find(' '));
      std::string path = line.substr(line.find(' ') + 1);
      path = path.substr(0, path.find(' '));
      ++requests_;
      {
        std::lock_guard lock(mutex_);
        last_host_ = fields["host"];
      }
      std::string body;
      if (fields.count("content-length")) {
        std::size_t n = std::stoul(fields["content-length"]);
        if (!read_until(fd, buffer, n)) goto done;
        body = buffer.substr(0, n);
        buffer.erase(0, n);
      } else if (lower(fields["transfer-encoding"]) == "chunked") {
        while (true) {
          std::string size_line;
          if (!read_line(fd, buffer, size_line)) goto done;
          std::size_t n = std::stoul(size_line, nullptr, 16);
          if (n == 0) {
            std::string trailer;
            do {
              if (!read_line(fd, buffer, trailer)) goto done;
            } while (!trailer.empty());
            break;
          }
          if (!read_until(fd, buffer, n + 2)) goto done;
          body += buffer.substr(0, n);
          buffer.erase(0, n + 2);
        }
      }
      bool close_after = lower(fields["connection"]) == "close";
      auto reply = [&](int status, const std::string& text) {
        std::string r = "HTTP/1.1 " + std::to_string(status) +
                        " X\r\nContent-Length: " + std::to_string(text.size()) + "\r\n" +
                        (close_after ? "Connection: close\r\n" : "") + "\r\n";
        if (method != "HEAD") r += text;
        return send_all(fd, r.data(), r.size());
      };
      bool ok = true;
      if (path == "/hello") {
        ok = reply(200, "hello from origin");
      } else if (path.rfind("/big/", 0) == 0) {
        std::uint64_t size = std::stoull(path.substr(5));
        std::string r = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(size) + "\r\n\r\n";
        ok = send_all(fd, r.data(), r.size());
        std::vector<char> block(65536);
        for (std::uint64_t at = 0; ok && at < size; at += block.size()) {
          std::size_t n =
              static_cast<std::size_t>(std::min<std::uint64_t>(block.size(), size - at));
          for (std::size_t i = 0; i < n; ++i) block[i] = static_cast<char>(pattern_byte(at + i));
          ok = send_all(fd, block.data(), n);
        }
      } else if (path == "/chunked") {
        std::string r =
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            "6\r\nhello \r\n8;ext=1\r\nchunked \r\n5\r\nworld\r\n0\r\n\r\n";
        ok = send_all(fd, r.data(), r.size());
      } else if (path == "/close") {
        std::string r = "HTTP/1.1 200 OK\r\n\r\nuntil the origin closes";
        send_all(fd, r.data(), r.size());
        goto done;
      } else if (path == "/host") {
        ok = reply(200, fields["host"]);
      } else if (path == "/echo") {
        ok = reply(200, body);
      } else {
        ok = reply(404, "not found");
      }
      if (!ok || close_after) goto done;
    }
  }
done : {
  std::lock_guard lock(mutex_);
  open_.erase(fd);
}
  close(fd);
}

// TlsEcho --------------------------------------------------------------------------------------

TlsEcho::TlsEcho(const std::string& address, std::uint16_t port) {
  listen_fd_ = listen_on(address, port, port_);
  acceptor_ = std::thread([this] { accept_loop(); });
}

TlsEcho::~TlsEcho() {
  stopping_ = true;
  shutdown(listen_fd_, SHUT_RDWR);
  acceptor_.join();
  {
    std::lock_guard lock(mutex_);
    for (int fd : open_) shutdown(fd, SHUT_RDWR);
  }
  for (auto& t : threads_) t.join();
  close(listen_fd_);
}

std::vector<std::string> TlsEcho::first_bytes() {
  std::lock_guard lock(mutex_);
  return first_;
}

void TlsEcho::accept_loop() {
  while (!stopping_) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (stopping_) return;
      continue;
    }
    ++connections_;
    std::lock_guard lock(mutex_);
    open_.insert(fd);
    threads_.emplace_back([this, fd] { serve(fd); });
  }
}

void TlsEcho::serve(int fd) {
  std::size_t index;
  {
    std::lock_guard lock(mutex_);
    index = first_.size();
    first_.emplace_back();
  }
  char chunk[65536];
  while (true) {
    ssize_t n = recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) break;
    {
      std::lock_guard lock(mutex_);
      std::string& first = first_[index];
      if (first.size() < 65536) first.append(chunk, static_cast<std::size_t>(n));
    }
    if (!send_all(fd, chunk, static_cast<std::size_t>(n))) break;
  }
  {
    std::lock_guard lock(mutex_);
    open_.erase(fd);
  }
  close(fd);
}

// Connection -----------------------------------------------------------------------------------

Connection::Connection(std::uint16_t port, const std::string& address) {
  sockaddr_storage a{};
  if (!parse_numeric_address(address, port, a)) return;
  fd_ = socket(a.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  socklen_t length = a.ss_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
  if (connect(fd_, reinterpret_cast<sockaddr*>(&a), length) != 0) {
    close(fd_);
    fd_ = -1;
    return;
  }
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

Connection::~Connection() {
  if (fd_ >= 0) close(fd_);
}

bool Connection::send(std::string_view bytes) {
  return fd_ >= 0 && send_all(fd_, bytes.data(), bytes.size());
}

bool Connection::fill(std::chrono::steady_clock::time_point deadline) {
  if (eof_ || fd_ < 0) return false;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return false;
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
  char chunk[65536];
  ssize_t n = recv(fd_, chunk, sizeof chunk, 0);
  if (n <= 0) {
    eof_ = true;
    return false;
  }
  pending_.append(chunk, static_cast<std::size_t>(n));
  return true;
}

std::string Connection::receive(std::chrono::milliseconds timeout, std::size_t want) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (pending_.size() < want && fill(deadline)) {
  }
  std::string out = std::move(pending_);
  pending_.clear();
  return out;
}

bool Connection::closed_within(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!eof_ && fill(deadline)) {
  }
  return eof_;
}

std::optional<Connection::Response> Connection::response(std::chrono::milliseconds timeout,
                                                         bool head) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    std::size_t end;
    while ((end = pending_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill(deadline)) return std::nullopt;
    }
    Response r;
    r.head = pending_.substr(0, end + 4);
    pending_.erase(0, end + 4);
    if (r.head.size() < 12 || r.head.rfind("HTTP/1.", 0) != 0) return std::nullopt;
    r.status = std::stoi(r.head.substr(9, 3));
    if (r.status < 200) continue;  // interim
    auto fields = fields_of(r.head);
    r.close = lower(fields["connection"]) == "close";
    if (head || r.status == 204 || r.status == 304) return r;
    if (fields.count("content-length")) {
      std::size_t n = std::stoul(fields["content-length"]);
      while (pending_.size() < n) {
        if (!fill(deadline)) return std::nullopt;
      }
      r.body = pending_.substr(0, n);
      pending_.erase(0, n);
      return r;
    }
    if (lower(fields["transfer-encoding"]) == "chunked") {
      while (true) {
        std::size_t line_end;
        while ((line_end = pending_.find("\r\n")) == std::string::npos) {
          if (!fill(deadline)) return std::nullopt;
        }
        std::size_t n = std::stoul(pending_.substr(0, line_end), nullptr, 16);
        pending_.erase(0, line_end + 2);
        if (n == 0) {
          while ((line_end = pending_.find("\r\n")) != 0) {
            if (line_end != std::string::npos) {
              pending_.erase(0, line_end + 2);
              continue;
            }
            if (!fill(deadline)) return std::nullopt;
          }
          pending_.erase(0, 2);
          return r;
        }
        while (pending_.size() < n + 2) {
          if (!fill(deadline)) return std::nullopt;
        }
        r.body += pending_.substr(0, n);
        pending_.erase(0, n + 2);
      }
    }
    while (fill(deadline)) {
    }
    r.body = std::move(pending_);
    pending_.clear();
    if (!eof_) return std::nullopt;
    return r;
  }
}

Connection::Response fetch(std::uint16_t proxy_port, const std::string& request,
                           std::chrono::milliseconds timeout) {
  Connection c(proxy_port);
  if (!c.send(request)) return {};
  bool head = request.rfind("HEAD ", 0) == 0;
  return c.response(timeout, head).value_or(Connection::Response{});
}

std::string get(const std::string& host_port, const std::string& path) {
  return "GET http://" + host_port + path + " HTTP/1.1\r\nHost: " + host_port + "\r\n\r\n";
}

// Fake authorities -----------------------------------------------------------------------------

namespace {

void fill_record(mp::schema::SessionRecord::Builder out, const FakeSessionRecord& r) {
  out.setId(r.id);
  out.setUser(r.user);
  out.setStationKey(r.station);
  out.setState(r.state);
  out.setStartedAtNs(static_cast<std::int64_t>(r.id));
}

}  // namespace

FakePolicy::FakePolicy(mp::bus::Client& client, bool inline_lists, std::uint32_t page_size)
    : client_(client), inline_lists_(inline_lists), page_size_(page_size) {
  client_.serve([this](const mp::bus::Incoming& request, mp::schema::Envelope::Builder reply) {
    if (request.which() == mp::schema::Envelope::DOMAIN_LIST_FETCH) {
      ++list_fetches_;
      auto body = request.envelope().getDomainListFetch();
      auto it = lists_.find(body.getKey());
      if (lists_held_ || it == lists_.end()) {
        mp::bus::set_error(
            reply,
            lists_held_ ? mp::schema::Error::Kind::UNAVAILABLE : mp::schema::Error::Kind::INVALID,
            "no such list");
        return true;
      }
      std::size_t begin = std::min<std::size_t>(body.getOffset(), it->second.size());
      std::size_t end = std::min(it->second.size(), begin + page_size_);
      auto page = reply.initDomainListPage();
      page.setKey(it->first);
      page.setTotal(static_cast<std::uint32_t>(it->second.size()));
      page.setOffset(static_cast<std::uint32_t>(begin));
      auto domains = page.initDomains(static_cast<unsigned>(end - begin));
      for (std::size_t i = begin; i < end; ++i) {
        domains.set(static_cast<unsigned>(i - begin), it->second[i]);
      }
      return true;
    }
    if (request.which() != mp::schema::Envelope::SNAPSHOT_REQUEST) return false;
    auto snapshot = reply.initPolicySnapshot();
    snapshot.initInfo().setTopic("policy");
    snapshot.getInfo().setVersion(version_);
    auto list = snapshot.initEffective(static_cast<unsigned>(policies_.size()));
    unsigned i = 0;
    for (const auto& [station, policy] : policies_) fill(list[i++], policy);
    return true;
  });
}

void FakePolicy::fill(mp::schema::EffectivePolicy::Builder out, const StationPolicy& p) {
  out.setStationKey(p.station);
  out.setWebMode(p.mode);
  out.setWebSource(p.source);
  if (inline_lists_) {
    auto list = out.initDomains(static_cast<unsigned>(p.domains.size()));
    for (unsigned i = 0; i < p.domains.size(); ++i) list.set(i, p.domains[i]);
    return;
  }
  if (p.domains.empty()) return;
  std::string joined;
  for (const auto& d : p.domains) joined += d + "\n";
  std::string key = "fake-" + std::to_string(std::hash<std::string>{}(joined));
  lists_[key] = p.domains;
  out.initDomainList().setKey(key);
  out.getDomainList().setCount(static_cast<std::uint32_t>(p.domains.size()));
}

void FakePolicy::set(const StationPolicy& policy) {
  policies_[policy.station] = policy;
  ++version_;
  client_.publish(
      "policy.effective",
      [&](mp::schema::Envelope::Builder e) { fill(e.initEffectivePolicy(), policy); }, version_);
}

FakeSessions::FakeSessions(mp::bus::Client& client) : client_(client) {
  client_.serve([this](const mp::bus::Incoming& request, mp::schema::Envelope::Builder reply) {
    if (request.which() != mp::schema::Envelope::SNAPSHOT_REQUEST) return false;
    auto snapshot = reply.initSessionSnapshot();
    snapshot.initInfo().setTopic("session");
    snapshot.getInfo().setVersion(version_);
    std::vector<const FakeSessionRecord*> open;
    for (const auto& [id, record] : records_) {
      if (record.state != mp::schema::SessionState::ENDED) open.push_back(&record);
    }
    auto list = snapshot.initSessions(static_cast<unsigned>(open.size()));
    for (unsigned i = 0; i < open.size(); ++i) fill_record(list[i], *open[i]);
    auto users = snapshot.initUsers(static_cast<unsigned>(users_.size()));
    unsigned i = 0;
    for (const auto& name : users_) users[i++].setName(name);
    return true;
  });
}

void FakeSessions::set_user(const std::string& name, bool removed) {
  if (removed) {
    users_.erase(name);
  } else {
    users_.insert(name);
  }
  ++version_;
  client_.publish(
      "session.user",
      [&](mp::schema::Envelope::Builder e) {
        auto update = e.initUserUpdate();
        update.initUser().setName(name);
        update.setRemoved(removed);
      },
      version_);
}

void FakeSessions::set(const FakeSessionRecord& record) {
  records_[record.id] = record;
  ++version_;
  client_.publish(
      "session.session",
      [&record](mp::schema::Envelope::Builder e) {
        fill_record(e.initSessionUpdate().initSession(), record);
      },
      version_);
}

std::optional<std::string> FakeUsers::name_of(uid_t uid) {
  auto it = names.find(uid);
  if (it == names.end()) return std::nullopt;
  return it->second;
}

std::optional<uid_t> FakeUsers::uid_of(const std::string& name) {
  for (const auto& [uid, n] : names) {
    if (n == name) return uid;
  }
  return std::nullopt;
}

// World ----------------------------------------------------------------------------------------

World::World(WorldOptions options) : options_(std::move(options)) {
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  thread_ = std::thread([this] { run(); });
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [this] { return started_; });
  if (!failure_.empty()) {
    lock.unlock();
    thread_.join();
    close(wake_fd_);
    throw std::runtime_error("world: " + failure_);
  }
}

World::~World() {
  call([this] { reactor_->stop(); });
  thread_.join();
  close(wake_fd_);
}

void World::call(const std::function<void()>& f) {
  if (std::this_thread::get_id() == thread_.get_id()) {
    f();
    return;
  }
  std::promise<void> done;
  auto finished = done.get_future();
  {
    std::lock_guard lock(mutex_);
    queue_.push_back([&f, &done] {
      try {
        f();
        done.set_value();
      } catch (...) {
        done.set_exception(std::current_exception());
      }
    });
  }
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = write(wake_fd_, &one, sizeof one);
  finished.get();
}

ProxyCounters World::counters() {
  ProxyCounters copy;
  call([&] { copy = proxy_->counters(); });
  return copy;
}

bool World::ready() {
  bool is = false;
  call([&] { is = service_ && service_->ready(); });
  return is;
}

void World::set_policy(const StationPolicy& policy) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    std::uint64_t target = 0;
    call([&] {
      policy_->set(policy);
      target = policy_->version();
    });
    if (!service_) return;
    for (int i = 0; i < 100; ++i) {
      bool applied = false;
      // Applied: the update, and the shared list it names (fetched after it).
      call([&] {
        applied =
            service_->policy_version() >= target && service_->policies().missing_lists().empty();
      });
      if (applied) return;
      std::this_thread::sleep_for(10ms);
    }
    // The update was lost (a subscription not yet at the broker): the next one shows a gap,
    // and the webfilter resyncs from the snapshot.
  }
  throw std::runtime_error("the webfilter never applied the policy");
}

void World::set_session(const FakeSessionRecord& record) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    std::uint64_t target = 0;
    call([&] {
      sessions_->set(record);
      target = sessions_->version();
    });
    if (!service_) return;
    for (int i = 0; i < 100; ++i) {
      bool applied = false;
      call([&] { applied = service_->session_version() >= target; });
      if (applied) return;
      std::this_thread::sleep_for(10ms);
    }
  }
  throw std::runtime_error("the webfilter never applied the session");
}

void World::set_user(const std::string& name, bool removed) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    std::uint64_t target = 0;
    call([&] {
      sessions_->set_user(name, removed);
      target = sessions_->version();
    });
    if (!service_) return;
    for (int i = 0; i < 100; ++i) {
      bool applied = false;
      call([&] { applied = service_->session_version() >= target; });
      if (applied) return;
      std::this_thread::sleep_for(10ms);
    }
  }
  throw std::runtime_error("the webfilter never applied the user");
}

mp::bus::Reply World::request(const std::string& service, const mp::bus::Build& body,
                              std::chrono::milliseconds deadline) {
  std::mutex mutex;
  std::condition_variable done;
  std::optional<mp::bus::Reply> reply;
  call([&] {
    test_client_->request(service, body, mp::bus::RequestOptions{.deadline = deadline},
                          [&](mp::bus::Reply r) {
                            std::lock_guard lock(mutex);
                            reply = std::move(r);
                            done.notify_all();
                          });
  });
  std::unique_lock lock(mutex);
  done.wait_for(lock, deadline + 2s, [&] { return reply.has_value(); });
  if (!reply) throw std::runtime_error("no reply, not even a deadline");
  return std::move(*reply);
}

void World::run() {
  std::unique_ptr<mp::bus::InProcessBus> bus;
  std::unique_ptr<zmq::context_t> own_context;
  try {
    zmq::context_t* context;
    mp::bus::Endpoints endpoints;
    if (options_.in_process_bus) {
      bus = std::make_unique<mp::bus::InProcessBus>();
      context = &bus->context();
      endpoints = bus->endpoints();
    } else {
      own_context = std::make_unique<zmq::context_t>(1);
      context = own_context.get();
      endpoints = mp::bus::Endpoints::in_directory(options_.runtime_dir);
    }
    mp::bus::Reactor reactor;
    reactor_ = &reactor;
    reactor.watch_fd(wake_fd_, [this] {
      std::uint64_t count;
      [[maybe_unused]] auto n = read(wake_fd_, &count, sizeof count);
      std::vector<std::function<void()>> work;
      {
        std::lock_guard lock(mutex_);
        work.swap(queue_);
      }
      for (auto& f : work) f();
    });
    std::unique_ptr<mp::bus::Client> policy_client, session_client, webfilter_client;
    auto test_client = std::make_unique<mp::bus::Client>(*context, reactor, endpoints,
                                                         mp::bus::ClientOptions{.service = "test"});
    test_client_ = test_client.get();
    std::unique_ptr<FakePolicy> policy;
    std::unique_ptr<FakeSessions> sessions;
    if (options_.fake_policy) {
      policy_client = std::make_unique<mp::bus::Client>(
          *context, reactor, endpoints, mp::bus::ClientOptions{.service = "policy"});
      policy = std::make_unique<FakePolicy>(*policy_client, options_.inline_lists);
      for (const auto& p : options_.initial_policy) policy->set(p);
      policy_ = policy.get();
    }
    if (options_.fake_sessions) {
      session_client = std::make_unique<mp::bus::Client>(
          *context, reactor, endpoints, mp::bus::ClientOptions{.service = "session"});
      sessions = std::make_unique<FakeSessions>(*session_client);
      for (const auto& s : options_.initial_sessions) sessions->set(s);
      for (const auto& name : options_.initial_users) sessions->set_user(name);
      sessions_ = sessions.get();
    }
    bool registered = reactor.run_until(
        [&] {
          return (!policy_client || policy_client->counters().registrations > 0) &&
                 (!session_client || session_client->counters().registrations > 0);
        },
        5s);
    if (!registered) throw std::runtime_error("fake authorities did not register");

    FakeUsers users;
    users.names = options_.users;
    std::unique_ptr<Resolver> resolver;
    std::unique_ptr<PeerIdentity> identity;
    std::unique_ptr<WebfilterService> service;
    std::unique_ptr<Proxy> proxy;
    if (options_.webfilter) {
      resolver = std::make_unique<Resolver>(options_.resolver);
      identity = std::make_unique<PeerIdentity>();
      webfilter_client = std::make_unique<mp::bus::Client>(
          *context, reactor, endpoints, mp::bus::ClientOptions{.service = "webfilter"});
      service = std::make_unique<WebfilterService>(*webfilter_client, users, options_.firewall);
      proxy = std::make_unique<Proxy>(options_.proxy, *service, *resolver, identity.get());
      Proxy* p = proxy.get();
      reactor.watch_fd(proxy->fd(), [p] { p->poll(); });
      reactor.every(50ms, [p] { p->tick(); });
      service->start();
      service_ = service.get();
      proxy_ = proxy.get();
      proxy_port_ = proxy->port();
      transparent_port_ = proxy->transparent_port();
      if (!reactor.run_until(
              [&] { return service->ready() && service->policies().missing_lists().empty(); },
              10s)) {
        throw std::runtime_error("the webfilter did not sync");
      }
      // Let the webfilter's subscriptions reach the broker before tests publish changes.
      reactor.run_until([] { return false; }, 200ms);
    }
    {
      std::lock_guard lock(mutex_);
      started_ = true;
    }
    changed_.notify_all();
    reactor.run();
    reactor.unwatch_fd(wake_fd_);
    proxy_ = nullptr;
    service_ = nullptr;
    test_client_ = nullptr;
  } catch (const std::exception& e) {
    std::lock_guard lock(mutex_);
    failure_ = e.what();
    started_ = true;
    changed_.notify_all();
  }
}

}  // namespace mp::webfilter::test
