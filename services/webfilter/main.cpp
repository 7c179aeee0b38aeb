// mp-webfilter: the filtering web proxy. Thin: flags, logging, the privileged nftables helper and
// the drop to its own user when root, the bus client, the replicas of sessions and policy, the
// proxy's epoll fd on the service's one reactor.
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <optional>

#include "browser_policy.h"
#include "listen_address.h"
#include "mp/bus/client.h"
#include "mp/bus/endpoints.h"
#include "mp/bus/service_main.h"
#include "mp/service/privileges.h"
#include "nft_helper.h"
#include "peer_identity.h"
#include "proxy.h"
#include "resolver.h"
#include "station_map.h"
#include "webfilter_service.h"

namespace {

constexpr const char* kDefaultUser = "mp-webfilter";

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
  std::vector<std::string> transparent_listen = proxy.transparent_listen;
  std::vector<std::string> station_allow;
  std::vector<std::string> station_dns;
  std::string user = geteuid() == 0 ? kDefaultUser : "";
  int header_timeout_ms = static_cast<int>(proxy.header_timeout.count());
  app.add_option("--listen", proxy.listen, "forward proxy address")->capture_default_str();
  app.add_option("--transparent-listen", transparent_listen,
                 "where nftables redirects station users' web traffic (repeatable or a comma "
                 "list; \"\": none)")
      ->capture_default_str();
  app.add_option("--runtime-dir", runtime_dir, "where the bus sockets live")->capture_default_str();
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->capture_default_str();
  app.add_flag("--no-nftables", no_nftables, "do not install nftables rules even as root");
  std::string browser_policy_dir = mp::webfilter::kChromiumPolicyDir;
  app.add_option("--browser-policy-dir", browser_policy_dir,
                 "as root with nftables: where Chromium's managed policy (ECH and DNS over HTTPS "
                 "off) is written; empty: none")
      ->capture_default_str();
  bool remove_rules_on_stop = false;
  app.add_flag("--remove-rules-on-stop", remove_rules_on_stop,
               "delete the nftables table on SIGTERM (default: it stays, so a restart leaves no "
               "moment in which station users' traffic is unfiltered; `./mp down` deletes it)");
  app.add_option("--nft", nft_program, "the nft program")->capture_default_str();
  app.add_option("--user", user,
                 "as root: the system user to run as (created if missing; \"\": stay root)")
      ->capture_default_str();
  app.add_option("--station-allow", station_allow,
                 "tcp:PORT or udp:PORT station users may reach anywhere (repeatable)");
  app.add_option("--station-dns", station_dns,
                 "the DNS servers station users may ask (repeatable; default: /etc/resolv.conf)");
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
  proxy.transparent_listen = mp::webfilter::split_listen_list(transparent_listen);
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

  // As root: decide who to run as, fork the nftables helper (root, before any thread), drop.
  bool root = geteuid() == 0;
  std::optional<mp::service::SystemUser> account;
  if (root) account = mp::service::service_user_reaching_bus(user, runtime_dir);
  uid_t proxy_uid = account ? account->uid : geteuid();
  std::unique_ptr<mp::webfilter::NftHelper> nftables;
  if (root && !no_nftables && proxy.transparent_listen.empty()) {
    spdlog::warn("nftables: no transparent listener, so no rules");
  } else if (root && !no_nftables) {
    mp::webfilter::StationNetwork network;
    if (std::string error = mp::webfilter::station_network_from(
            proxy.listen, proxy.transparent_listen, station_allow, station_dns, proxy_uid, network);
        !error.empty()) {
      spdlog::critical("{}", error);
      return 2;
    }
    try {
      nftables = mp::webfilter::NftHelper::start(network, nft_program);
    } catch (const std::exception& e) {
      spdlog::critical("{}", e.what());
      return 1;
    }
    if (!browser_policy_dir.empty()) {
      if (std::string error = mp::webfilter::write_chromium_policy(browser_policy_dir);
          !error.empty()) {
        spdlog::warn("Chromium policy: {} (allow-only mode refuses its placeholder ECH)", error);
      }
    }
  }
  if (account) {
    if (std::string error = mp::service::drop_privileges(account->name); !error.empty()) {
      spdlog::critical("cannot drop root for {}: {}", account->name, error);
      return 1;
    }
    spdlog::info(
        "running as {} (uid {}){}", account->name, account->uid,
        nftables ? "; the nftables helper (pid " + std::to_string(nftables->pid()) + ") stays root"
                 : std::string());
  }

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

    mp::webfilter::SystemUsers users;
    mp::webfilter::WebfilterService service(client, users, nftables.get());
    mp::webfilter::Proxy filter(proxy, service, resolver, &identity);
    reactor.watch_fd(filter.fd(), [&filter] { filter.poll(); });
    reactor.every(std::chrono::milliseconds(100), [&filter] { filter.tick(); });
    service.start();
    std::string transparent;
    for (const auto& address : filter.transparent_addresses()) {
      transparent += (transparent.empty() ? "" : ", ") + address;
    }
    spdlog::info("listening on {} (port {}), transparent: {}", proxy.listen, filter.port(),
                 transparent.empty() ? "none" : transparent);
    mp::bus::notify_ready();
    mp::bus::start_watchdog(reactor);
    reactor.run();
    mp::bus::notify_stopping();
    const auto& counters = filter.counters();
    spdlog::info("stopping: {} requests, {} allowed, {} blocked, {} tunnels", counters.requests,
                 counters.allowed, counters.blocked, counters.tunnels);
    // A stop is mostly a restart (`mpctl restart webfilter`, an upgrade): the rules stay and
    // send station users' web to a proxy that is back in a moment, rather than to anywhere.
    if (nftables && remove_rules_on_stop) {
      if (std::string error = nftables->remove(); !error.empty()) {
        spdlog::error("nftables: the rules stay: {}", error);
      }
    } else if (nftables) {
      spdlog::info("nftables: the rules stay in place (station users' web waits for the proxy)");
    }
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return 1;
  }
  return 0;
}
