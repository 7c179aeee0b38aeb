// mp-webfilter: the filtering web proxy. Thin: flags, logging, the bus client, the replicas of
// sessions and policy, the proxy's epoll fd on the service's one reactor, nftables when root.
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>

#include "mp/bus/client.h"
#include "mp/bus/endpoints.h"
#include "mp/bus/service_main.h"
#include "nftables.h"
#include "peer_identity.h"
#include "proxy.h"
#include "resolver.h"
#include "station_map.h"
#include "webfilter_service.h"

namespace {

// Thousands of connections need thousands of descriptors.
void raise_descriptor_limit() {
  rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mp-webfilter: the filtering web proxy of multipoint"};
  mp::webfilter::ProxyOptions proxy;
  std::string runtime_dir = mp::bus::default_runtime_dir();
  std::string log_level = "info";
  bool no_nftables = false;
  std::string nft_program = "nft";
  std::vector<std::uint16_t> connect_ports{443};
  std::vector<std::string> resolve;
  int header_timeout_ms = static_cast<int>(proxy.header_timeout.count());
  app.add_option("--listen", proxy.listen, "forward proxy address")->capture_default_str();
  app.add_option("--transparent-listen", proxy.transparent_listen,
                 "where nftables redirects station users' web traffic (empty: none)")
      ->capture_default_str();
  app.add_option("--runtime-dir", runtime_dir, "where the bus sockets live")->capture_default_str();
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->capture_default_str();
  app.add_flag("--no-nftables", no_nftables, "do not install nftables rules even as root");
  app.add_option("--nft", nft_program, "the nft program")->capture_default_str();
  app.add_option("--connect-port", connect_ports, "ports CONNECT may reach (repeatable)")
      ->capture_default_str();
  app.add_flag("--allow-loopback-upstream", proxy.allow_loopback_upstream,
               "let requests reach 127.0.0.0/8 and ::1 (tests with a local origin)");
  app.add_option("--resolve", resolve, "NAME=ADDRESS: a fixed answer instead of DNS (tests)");
  app.add_option("--header-timeout-ms", header_timeout_ms, "time for a whole request head")
      ->capture_default_str();
  app.add_option("--max-connections", proxy.max_connections)->capture_default_str();
  app.add_option("--max-connections-per-user", proxy.max_connections_per_uid)
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  if (!mp::bus::setup_logging(std::string(mp::webfilter::kServiceName), log_level)) {
    std::fprintf(stderr, "mp-webfilter: unknown log level '%s'\n", log_level.c_str());
    return 2;
  }
  proxy.connect_ports = {connect_ports.begin(), connect_ports.end()};
  proxy.header_timeout = std::chrono::milliseconds(header_timeout_ms);
  mp::webfilter::ResolverOptions resolver_options;
  for (const auto& entry : resolve) {
    auto equals = entry.find('=');
    if (equals == std::string::npos) {
      spdlog::critical("--resolve wants NAME=ADDRESS, not '{}'", entry);
      return 2;
    }
    resolver_options.static_hosts[entry.substr(0, equals)].push_back(entry.substr(equals + 1));
  }
  signal(SIGPIPE, SIG_IGN);
  raise_descriptor_limit();

  try {
    // First, so every thread started later (the resolver's) inherits SIGTERM blocked and the
    // signal reaches the reactor's signalfd instead of killing the process.
    mp::bus::Reactor reactor;
    reactor.stop_on_signals();
    mp::webfilter::Resolver resolver(resolver_options);
    mp::webfilter::PeerIdentity identity;
    zmq::context_t context(1);
    mp::bus::Client client(
        context, reactor, mp::bus::Endpoints::in_directory(runtime_dir),
        mp::bus::ClientOptions{.service = std::string(mp::webfilter::kServiceName)});
    // No requests served yet; registering makes the service's presence visible on the bus.
    client.serve([](const mp::bus::Incoming&, mp::schema::Envelope::Builder) { return false; });

    std::unique_ptr<mp::webfilter::Nftables> nftables;
    if (geteuid() == 0 && !no_nftables && !proxy.transparent_listen.empty()) {
      std::uint16_t port = 0;
      auto colon = proxy.transparent_listen.rfind(':');
      port = static_cast<std::uint16_t>(std::stoi(proxy.transparent_listen.substr(colon + 1)));
      nftables = std::make_unique<mp::webfilter::Nftables>(port, geteuid(), nft_program);
      // Rules from an earlier run that died are replaced; station users are added on sync.
      if (!nftables->apply({})) spdlog::warn("nftables: could not install the rules");
    } else if (geteuid() == 0 && !no_nftables) {
      spdlog::warn("nftables: no transparent listener, so no rules");
    }

    mp::webfilter::SystemUsers users;
    mp::webfilter::WebfilterService service(client, users, nftables.get());
    mp::webfilter::Proxy filter(proxy, service, resolver, &identity);
    reactor.watch_fd(filter.fd(), [&filter] { filter.poll(); });
    reactor.every(std::chrono::milliseconds(100), [&filter] { filter.tick(); });
    service.start();
    spdlog::info("listening on {} (port {}), transparent {} (port {})", proxy.listen, filter.port(),
                 proxy.transparent_listen, filter.transparent_port());
    mp::bus::notify_ready();
    mp::bus::start_watchdog(reactor);
    reactor.run();
    mp::bus::notify_stopping();
    const auto& counters = filter.counters();
    spdlog::info("stopping: {} requests, {} allowed, {} blocked, {} tunnels", counters.requests,
                 counters.allowed, counters.blocked, counters.tunnels);
    if (nftables) nftables->remove();
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return 1;
  }
  return 0;
}
