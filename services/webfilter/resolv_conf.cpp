#include "resolv_conf.h"

#include <fstream>
#include <sstream>

#include "mp/hostname/host_name.h"

namespace mp::webfilter {

std::vector<std::string> nameservers_in(std::string_view text) {
  std::vector<std::string> out;
  std::istringstream lines{std::string(text)};
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string keyword, address;
    if (!(words >> keyword >> address) || keyword != "nameserver") continue;
    if (auto zone = address.find('%'); zone != std::string::npos) address.resize(zone);
    mp::hostname::Host host;
    if (address.empty() || !mp::hostname::normalize_host(address, host) || !host.is_ip()) {
      continue;
    }
    // Only dotted quads for IPv4: a numeric form glibc would not read is no resolver of its.
    bool dotted = host.kind != mp::hostname::HostKind::ipv4 ||
                  address.find(':') != std::string::npos || host.text == address;
    if (!dotted) continue;
    bool known = false;
    for (const auto& seen : out) known |= seen == host.text;
    if (!known) out.push_back(host.text);
  }
  if (out.empty()) out = {"127.0.0.1", "::1"};
  return out;
}

std::vector<std::string> read_nameservers(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return nameservers_in(text.str());
}

}  // namespace mp::webfilter
