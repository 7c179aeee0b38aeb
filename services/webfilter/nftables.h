// The nftables rules that put station users under the web filter (`nft -f -`): one table,
// inet multipoint_webfilter, replaced atomically on every change, where for every uid in the
// set station_uids
//   - outbound TCP to ports 80 and 443, IPv4 and IPv6, is redirected to the proxy's transparent
//     listeners (127.0.0.1 and ::1);
//   - everything else they send is rejected (TCP with a reset, the rest with ICMP
//     administratively prohibited: quick failures, no timeouts), except to the proxy's own
//     listening sockets, DNS (UDP and TCP 53) to the host's resolvers, and the ports an
//     administrator allows (--station-allow).
// The proxy's own uid and root are never in the set, so the proxy's upstream connections pass.
// Built from numbers and addresses only: nothing from the wire reaches the script as text.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace mp::webfilter {

inline constexpr const char* kNftTable = "multipoint_webfilter";

struct StationNetwork {
  std::uint16_t redirect_port_v4 = 0;  // 0: IPv4 web traffic is rejected instead
  std::uint16_t redirect_port_v6 = 0;  // 0: IPv6 web traffic is rejected instead
  // The proxy's listening sockets station users may connect to (explicit and transparent).
  std::vector<sockaddr_storage> proxy_listeners;
  std::vector<std::string> resolvers;   // canonical IPv4/IPv6 addresses
  std::set<std::uint16_t> allowed_tcp;  // any destination
  std::set<std::uint16_t> allowed_udp;
  uid_t proxy_uid = 0;  // never in the set
};

// Reads "tcp:PORT" or "udp:PORT" (an --station-allow value) into `network`; false if malformed.
bool add_allowed_port(const std::string& text, StationNetwork& network);

// The network from mp-webfilter's flags: the forward and transparent listen addresses (fixed
// ports), --station-allow values, --station-dns addresses (none: /etc/resolv.conf's). Empty on
// success, else what is wrong.
std::string station_network_from(const std::string& listen,
                                 const std::vector<std::string>& transparent_listen,
                                 const std::vector<std::string>& allow,
                                 const std::vector<std::string>& dns, uid_t proxy_uid,
                                 StationNetwork& network);

// The whole table, for `nft -f -`; deletes any old one (e.g. left by a kill -9) first. Uids 0
// and network.proxy_uid are left out whatever `station_uids` holds.
std::string nft_install_script(const StationNetwork& network, const std::set<uid_t>& station_uids);
std::string nft_remove_script();

// Runs `program -f -` with `script` on its stdin. Empty on success, else nft's complaint.
std::string run_nft(const std::string& program, const std::string& script);

}  // namespace mp::webfilter
