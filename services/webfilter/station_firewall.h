// What mp-webfilter asks of the firewall: put exactly these Unix users under the web rules.
// The real one is the privileged nftables helper (nft_helper.h); tests give a fake.
#pragma once

#include <sys/types.h>

#include <set>
#include <string>

namespace mp::webfilter {

class StationFirewall {
 public:
  virtual ~StationFirewall() = default;
  // Puts exactly `uids` under the rules (the proxy's own uid and root never are). Returns once
  // the kernel has the rules: empty on success, else why not (the previous rules stay).
  virtual std::string apply(const std::set<uid_t>& uids) = 0;
  // The uid the proxy's upstream connections come from: never filtered.
  virtual uid_t proxy_uid() const = 0;
};

}  // namespace mp::webfilter
