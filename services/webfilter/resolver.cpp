#include "resolver.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

namespace mp::webfilter {

using Clock = std::chrono::steady_clock;

// What the loop and the workers share; it outlives the Resolver while a worker still runs.
struct Resolver::Shared {
  std::mutex mutex;
  std::condition_variable wake;
  std::deque<std::string> queue;
  std::deque<std::pair<std::string, std::optional<Addresses>>> results;
  bool stopping = false;
  int event_fd = -1;
  ~Shared() {
    if (event_fd >= 0) close(event_fd);
  }
};

namespace {

std::optional<Resolver::Addresses> resolve(const std::string& name) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  addrinfo* list = nullptr;
  if (getaddrinfo(name.c_str(), nullptr, &hints, &list) != 0) return std::nullopt;
  Resolver::Addresses addresses;
  for (addrinfo* a = list; a; a = a->ai_next) {
    if ((a->ai_family != AF_INET && a->ai_family != AF_INET6) ||
        a->ai_addrlen > sizeof(sockaddr_storage)) {
      continue;
    }
    sockaddr_storage address{};
    std::memcpy(&address, a->ai_addr, a->ai_addrlen);
    addresses.push_back(address);
  }
  freeaddrinfo(list);
  if (addresses.empty()) return std::nullopt;
  return addresses;
}

void work(std::shared_ptr<Resolver::Shared> shared) {
  while (true) {
    std::string name;
    {
      std::unique_lock lock(shared->mutex);
      shared->wake.wait(lock, [&] { return shared->stopping || !shared->queue.empty(); });
      if (shared->stopping) return;
      name = std::move(shared->queue.front());
      shared->queue.pop_front();
    }
    auto addresses = resolve(name);
    std::lock_guard lock(shared->mutex);
    if (shared->stopping) return;
    shared->results.emplace_back(std::move(name), std::move(addresses));
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = write(shared->event_fd, &one, sizeof one);
  }
}

}  // namespace

Resolver::Resolver(ResolverOptions options)
    : options_(std::move(options)), shared_(std::make_shared<Shared>()) {
  shared_->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (shared_->event_fd < 0) throw std::runtime_error("eventfd failed");
  for (const auto& [name, texts] : options_.static_hosts) {
    Addresses addresses;
    for (const auto& text : texts) {
      sockaddr_storage address;
      if (!parse_numeric_address(text, 0, address)) {
        throw std::invalid_argument("not a numeric address: " + text);
      }
      addresses.push_back(address);
    }
    static_[name] = std::move(addresses);
  }
  for (int i = 0; i < std::max(1, options_.threads); ++i) std::thread(work, shared_).detach();
}

Resolver::~Resolver() {
  std::lock_guard lock(shared_->mutex);
  shared_->stopping = true;
  shared_->wake.notify_all();
}

int Resolver::fd() const { return shared_->event_fd; }

Resolver::Cached Resolver::cached(const std::string& name, const Addresses*& addresses) {
  if (auto it = static_.find(name); it != static_.end()) {
    addresses = &it->second;
    return Cached::hit;
  }
  auto it = cache_.find(name);
  if (it == cache_.end()) return Cached::miss;
  if (it->second.expires <= Clock::now()) {
    cache_.erase(it);
    return Cached::miss;
  }
  addresses = &it->second.addresses;
  return it->second.ok ? Cached::hit : Cached::failed;
}

void Resolver::lookup(const std::string& name) {
  if (!pending_.emplace(name, true).second) return;
  ++started_;
  std::lock_guard lock(shared_->mutex);
  shared_->queue.push_back(name);
  shared_->wake.notify_one();
}

void Resolver::trim_cache(Clock::time_point now) {
  if (cache_.size() < options_.max_entries) return;
  std::erase_if(cache_, [&](const auto& entry) { return entry.second.expires <= now; });
  if (cache_.size() >= options_.max_entries) cache_.clear();  // rare: only fresh entries
}

void Resolver::drain(const std::function<void(const std::string&, const Addresses*)>& done) {
  std::uint64_t count;
  [[maybe_unused]] auto n = read(shared_->event_fd, &count, sizeof count);
  std::deque<std::pair<std::string, std::optional<Addresses>>> results;
  {
    std::lock_guard lock(shared_->mutex);
    results.swap(shared_->results);
  }
  auto now = Clock::now();
  for (auto& [name, addresses] : results) {
    pending_.erase(name);
    trim_cache(now);
    Entry& entry = cache_[name];
    entry.ok = addresses.has_value();
    entry.addresses = addresses ? std::move(*addresses) : Addresses{};
    entry.expires = now + (entry.ok ? options_.ttl : options_.negative_ttl);
    done(name, entry.ok ? &entry.addresses : nullptr);
  }
}

}  // namespace mp::webfilter
