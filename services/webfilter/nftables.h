// Forces station users' web traffic through the proxy with nftables (`nft -f -`): one table,
// inet multipoint_webfilter, where a set of station uids has outbound IPv4 TCP 80/443
// redirected to the transparent listener, DNS-over-TLS (853) and QUIC (UDP 443) dropped, and
// IPv6 TCP 80/443 reset (so clients fall back to IPv4). The proxy's own uid is never in the set,
// so its upstream connections pass. The table is replaced atomically on every change.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <set>
#include <string>

namespace mp::webfilter {

inline constexpr const char* kNftTable = "multipoint_webfilter";

// The whole table, for `nft -f -`: deletes any old one (e.g. left by a kill -9) first.
std::string nft_install_script(std::uint16_t transparent_port, const std::set<uid_t>& station_uids,
                               uid_t proxy_uid);
std::string nft_remove_script();

class Nftables {
 public:
  Nftables(std::uint16_t transparent_port, uid_t proxy_uid, std::string nft_program = "nft");
  ~Nftables();  // removes the table if installed

  // Installs or replaces the rules for these uids; false (and logged) when nft failed.
  bool apply(const std::set<uid_t>& station_uids);
  bool remove();
  bool installed() const { return installed_; }
  const std::set<uid_t>& uids() const { return uids_; }

 private:
  bool run(const std::string& script);

  std::uint16_t port_;
  uid_t proxy_uid_;
  std::string program_;
  bool installed_ = false;
  std::set<uid_t> uids_;
};

}  // namespace mp::webfilter
