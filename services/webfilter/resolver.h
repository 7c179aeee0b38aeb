// Name resolution off the event loop: a few threads run getaddrinfo, results come back through
// an eventfd the proxy's epoll watches, and are cached briefly (positive and negative).
// Lookups of the same name are coalesced. Not thread-safe apart from its own workers: call
// everything from the loop's thread.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "socket_address.h"

namespace mp::webfilter {

struct ResolverOptions {
  int threads = 2;
  std::chrono::seconds ttl{30};
  std::chrono::seconds negative_ttl{5};
  std::size_t max_entries = 10000;
  // Fixed answers, checked before DNS (tests; --resolve NAME=ADDRESS).
  std::map<std::string, std::vector<std::string>> static_hosts;
};

class Resolver {
 public:
  using Addresses = std::vector<sockaddr_storage>;  // ports are 0

  explicit Resolver(ResolverOptions options);
  ~Resolver();  // workers stuck in getaddrinfo are left to finish on their own
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // Readable when finished lookups wait for drain().
  int fd() const;

  enum class Cached { hit, failed, miss };
  // A fresh cached answer (or a static one) without blocking.
  Cached cached(const std::string& name, const Addresses*& addresses);
  // Starts a lookup unless one for `name` is already running.
  void lookup(const std::string& name);
  // Caches every finished lookup and calls `done(name, addresses or nullptr on failure)`.
  void drain(const std::function<void(const std::string&, const Addresses*)>& done);

  std::size_t lookups_started() const { return started_; }

  struct Shared;  // the queue the workers share (defined in resolver.cpp)

 private:
  struct Entry {
    Addresses addresses;
    bool ok = false;
    std::chrono::steady_clock::time_point expires;
  };
  void trim_cache(std::chrono::steady_clock::time_point now);

  ResolverOptions options_;
  std::shared_ptr<Shared> shared_;
  std::unordered_map<std::string, Entry> cache_;
  std::unordered_map<std::string, Addresses> static_;
  std::unordered_map<std::string, bool> pending_;
  std::size_t started_ = 0;
};

}  // namespace mp::webfilter
