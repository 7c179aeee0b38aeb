#include "listen_address.h"

#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <system_error>

#include "socket_address.h"

namespace mp::webfilter {

bool parse_listen_address(const std::string& text, sockaddr_storage& address) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size() ||
      text.size() - colon > 6) {
    return false;
  }
  std::string host = text.substr(0, colon);
  bool bracketed = host.size() > 2 && host.front() == '[' && host.back() == ']';
  if (bracketed) host = host.substr(1, host.size() - 2);
  std::uint32_t port = 0;
  for (char c : text.substr(colon + 1)) {
    if (c < '0' || c > '9') return false;
    port = port * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (port > 65535 || !parse_numeric_address(host, static_cast<std::uint16_t>(port), address)) {
    return false;
  }
  // An IPv6 address needs its brackets ("::1:80" would be ambiguous); IPv4 must not have them.
  return bracketed == (address.ss_family == AF_INET6);
}

std::vector<std::string> split_listen_list(const std::vector<std::string>& values) {
  std::vector<std::string> out;
  for (const auto& value : values) {
    std::size_t start = 0;
    while (start <= value.size()) {
      std::size_t comma = value.find(',', start);
      if (comma == std::string::npos) comma = value.size();
      if (comma > start) out.push_back(value.substr(start, comma - start));
      start = comma + 1;
    }
  }
  return out;
}

int bind_listener(const std::string& text, sockaddr_storage& bound) {
  sockaddr_storage address;
  if (!parse_listen_address(text, address)) {
    throw std::system_error(EINVAL, std::generic_category(), "listen address '" + text + "'");
  }
  int fd = socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "listen on " + text);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  // [::]:P must not take IPv4's P too: 0.0.0.0:P or 127.0.0.1:P may be listened on separately.
  if (address.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), length_of(address)) != 0 ||
      listen(fd, 4096) != 0) {
    int error = errno;
    close(fd);
    throw std::system_error(error, std::generic_category(), "listen on " + text);
  }
  socklen_t length = sizeof bound;
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length);
  return fd;
}

}  // namespace mp::webfilter
