// The host's DNS resolvers, read from resolv.conf: the only DNS servers station users may ask
// (anything else they send is rejected by nftables).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mp::webfilter {

// Canonical addresses of the "nameserver" lines of `text` (a zone such as "%eth0" is dropped;
// lines that are not addresses are skipped). None listed: glibc's default, the local host
// (127.0.0.1 and ::1).
std::vector<std::string> nameservers_in(std::string_view text);
// The same for a file; a file that cannot be read counts as empty.
std::vector<std::string> read_nameservers(const std::string& path = "/etc/resolv.conf");

}  // namespace mp::webfilter
