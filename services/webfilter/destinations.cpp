#include "destinations.h"

#include <algorithm>

#include "socket_address.h"

namespace mp::webfilter {

std::vector<sockaddr_storage> destinations_for(const std::vector<sockaddr_storage>& resolved,
                                               std::uint16_t port,
                                               const sockaddr_storage* original) {
  std::vector<sockaddr_storage> out;
  out.reserve(resolved.size());
  for (const auto& address : resolved) {
    out.push_back(address);
    set_port(out.back(), port);
    // The address the client chose, if the name has it: the same server the client meant.
    if (original && same_ip(address, *original) && out.size() > 1) {
      std::rotate(out.begin(), out.end() - 1, out.end());
    }
  }
  return out;
}

}  // namespace mp::webfilter
