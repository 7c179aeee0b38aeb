#include "nftables.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "listen_address.h"
#include "resolv_conf.h"
#include "socket_address.h"

extern char** environ;

namespace mp::webfilter {

namespace {

template <typename Numbers>
std::string joined(const Numbers& numbers) {
  std::string out;
  for (auto n : numbers) {
    if (!out.empty()) out += ", ";
    out += std::to_string(n);
  }
  return out;
}

// "ip daddr 127.0.0.1 tcp dport 3128 accept"; a listener on every address ("0.0.0.0:3128")
// is reached on any local address.
std::string listener_rule(const sockaddr_storage& listener) {
  std::string port = std::to_string(port_of(listener));
  if (is_unspecified(listener)) {
    std::string family = listener.ss_family == AF_INET ? "ipv4" : "ipv6";
    return "meta nfproto " + family + " fib daddr type local tcp dport " + port + " accept";
  }
  Host address;
  address_host(listener, address);
  std::string match = listener.ss_family == AF_INET ? "ip daddr " : "ip6 daddr ";
  return match + address.text + " tcp dport " + port + " accept";
}

}  // namespace

bool add_allowed_port(const std::string& text, StationNetwork& network) {
  auto colon = text.find(':');
  if (colon == std::string::npos) return false;
  std::string protocol = text.substr(0, colon);
  std::string number = text.substr(colon + 1);
  if (number.empty() || number.size() > 5) return false;
  std::uint32_t port = 0;
  for (char c : number) {
    if (c < '0' || c > '9') return false;
    port = port * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (port == 0 || port > 65535) return false;
  if (protocol == "tcp") {
    network.allowed_tcp.insert(static_cast<std::uint16_t>(port));
  } else if (protocol == "udp") {
    network.allowed_udp.insert(static_cast<std::uint16_t>(port));
  } else {
    return false;
  }
  return true;
}

std::string station_network_from(const std::string& listen,
                                 const std::vector<std::string>& transparent_listen,
                                 const std::vector<std::string>& allow,
                                 const std::vector<std::string>& dns, uid_t proxy_uid,
                                 StationNetwork& network) {
  network = StationNetwork{};
  network.proxy_uid = proxy_uid;
  auto listener = [&](const std::string& text, bool transparent) -> std::string {
    sockaddr_storage address;
    if (!parse_listen_address(text, address)) return "listen address '" + text + "'";
    if (port_of(address) == 0) return "nftables needs fixed ports, not '" + text + "'";
    network.proxy_listeners.push_back(address);
    // nftables redirects to the loopback address of the packet's family.
    if (!transparent || !(is_loopback(address) || is_unspecified(address))) return "";
    std::uint16_t& redirect =
        address.ss_family == AF_INET ? network.redirect_port_v4 : network.redirect_port_v6;
    if (redirect == 0) redirect = port_of(address);
    return "";
  };
  if (std::string error = listener(listen, false); !error.empty()) return error;
  for (const auto& text : transparent_listen) {
    if (std::string error = listener(text, true); !error.empty()) return error;
  }
  for (const auto& text : allow) {
    if (!add_allowed_port(text, network)) {
      return "--station-allow wants tcp:PORT or udp:PORT, not '" + text + "'";
    }
  }
  if (dns.empty()) {
    network.resolvers = read_nameservers();
    return "";
  }
  for (const auto& text : dns) {
    sockaddr_storage address;
    if (!parse_numeric_address(text, 53, address)) return "--station-dns '" + text + "'";
    Host host;
    address_host(address, host);
    network.resolvers.push_back(host.text);
  }
  return "";
}

std::string nft_install_script(const StationNetwork& network, const std::set<uid_t>& station_uids) {
  std::set<uid_t> uids;
  for (uid_t uid : station_uids) {
    if (uid != 0 && uid != network.proxy_uid) uids.insert(uid);
  }
  std::vector<std::string> v4_resolvers, v6_resolvers;
  for (const auto& resolver : network.resolvers) {
    (resolver.find(':') == std::string::npos ? v4_resolvers : v6_resolvers).push_back(resolver);
  }
  auto address_set = [](const std::vector<std::string>& addresses) {
    std::string out;
    for (const auto& a : addresses) out += (out.empty() ? "" : ", ") + a;
    return "{ " + out + " }";
  };

  std::string table = kNftTable;
  std::string s;
  // "add" then "delete" works whether or not the table exists (nft 1.0.6 has no "destroy").
  s += "add table inet " + table + "\n";
  s += "delete table inet " + table + "\n";
  s += "table inet " + table + " {\n";
  s += "  set station_uids {\n    type uid\n";
  if (!uids.empty()) s += "    elements = { " + joined(uids) + " }\n";
  s += "  }\n";
  s += "  chain redirect_web {\n";
  s += "    type nat hook output priority -100; policy accept;\n";
  if (network.redirect_port_v4 != 0) {
    s += "    meta skuid @station_uids meta nfproto ipv4 tcp dport { 80, 443 } redirect to :" +
         std::to_string(network.redirect_port_v4) + "\n";
  }
  if (network.redirect_port_v6 != 0) {
    s += "    meta skuid @station_uids meta nfproto ipv6 tcp dport { 80, 443 } redirect to :" +
         std::to_string(network.redirect_port_v6) + "\n";
  }
  s += "  }\n";
  // Filtering runs after the redirect (priority 0 > -100): redirected packets are addressed
  // to the proxy by then.
  s += "  chain station_output {\n";
  s += "    type filter hook output priority 0; policy accept;\n";
  s += "    meta skuid @station_uids jump station_user\n";
  s += "  }\n";
  s += "  chain station_user {\n";
  for (const auto& listener : network.proxy_listeners) {
    s += "    " + listener_rule(listener) + "\n";
  }
  if (!v4_resolvers.empty()) {
    s += "    ip daddr " + address_set(v4_resolvers) + " meta l4proto { tcp, udp } th dport 53 " +
         "accept\n";
  }
  if (!v6_resolvers.empty()) {
    s += "    ip6 daddr " + address_set(v6_resolvers) + " meta l4proto { tcp, udp } th dport 53 " +
         "accept\n";
  }
  if (!network.allowed_tcp.empty()) {
    s += "    tcp dport { " + joined(network.allowed_tcp) + " } accept\n";
  }
  if (!network.allowed_udp.empty()) {
    s += "    udp dport { " + joined(network.allowed_udp) + " } accept\n";
  }
  s += "    meta l4proto tcp reject with tcp reset\n";
  s += "    reject with icmpx admin-prohibited\n";
  s += "  }\n";
  s += "}\n";
  return s;
}

std::string nft_remove_script() {
  std::string table = kNftTable;
  return "add table inet " + table + "\ndelete table inet " + table + "\n";
}

std::string run_nft(const std::string& program, const std::string& script) {
  int input[2], output[2];
  if (pipe2(input, O_CLOEXEC) != 0) return std::string("pipe: ") + std::strerror(errno);
  if (pipe2(output, O_CLOEXEC) != 0) {
    close(input[0]);
    close(input[1]);
    return std::string("pipe: ") + std::strerror(errno);
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, input[0], 0);
  posix_spawn_file_actions_adddup2(&actions, output[1], 1);
  posix_spawn_file_actions_adddup2(&actions, output[1], 2);
  std::vector<char*> argv = {const_cast<char*>(program.c_str()), const_cast<char*>("-f"),
                             const_cast<char*>("-"), nullptr};
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, program.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(input[0]);
  close(output[1]);
  if (rc != 0) {
    close(input[1]);
    close(output[0]);
    return "cannot run " + program + ": " + std::strerror(rc);
  }
  // nft reads all of its input before it says anything, so writing all first cannot deadlock.
  std::size_t written = 0;
  while (written < script.size()) {
    ssize_t n = write(input[1], script.data() + written, script.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    written += static_cast<std::size_t>(n);
  }
  close(input[1]);
  std::string text;
  char chunk[4096];
  ssize_t n;
  while ((n = read(output[0], chunk, sizeof chunk)) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0 && text.size() < 16384) text.append(chunk, static_cast<std::size_t>(n));
  }
  close(output[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    while (!text.empty() && text.back() == '\n') text.pop_back();
    return "nft failed: " + (text.empty() ? std::string("no output") : text);
  }
  return "";
}

}  // namespace mp::webfilter
