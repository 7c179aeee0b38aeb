#include "peer_identity.h"

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace mp::webfilter {

namespace {

// An IPv4 address seen through an IPv6 socket (::ffff:a.b.c.d) becomes plain IPv4.
sockaddr_storage unmapped(const sockaddr_storage& address) {
  if (address.ss_family != AF_INET6) return address;
  const auto& v6 = reinterpret_cast<const sockaddr_in6&>(address);
  if (!IN6_IS_ADDR_V4MAPPED(&v6.sin6_addr)) return address;
  sockaddr_storage out{};
  auto& v4 = reinterpret_cast<sockaddr_in&>(out);
  v4.sin_family = AF_INET;
  v4.sin_port = v6.sin6_port;
  std::memcpy(&v4.sin_addr, &v6.sin6_addr.s6_addr[12], 4);
  return out;
}

void fill(const sockaddr_storage& address, __be16& port, __be32 (&words)[4]) {
  std::memset(words, 0, sizeof words);
  if (address.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(address);
    port = v4.sin_port;
    std::memcpy(&words[0], &v4.sin_addr, 4);
  } else {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(address);
    port = v6.sin6_port;
    std::memcpy(words, &v6.sin6_addr, 16);
  }
}

}  // namespace

PeerIdentity::PeerIdentity() {
  fd_ = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "NETLINK_SOCK_DIAG");
  // The kernel answers synchronously; the timeout only guards against a lost reply.
  timeval timeout{0, 200 * 1000};
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
}

PeerIdentity::~PeerIdentity() {
  if (fd_ >= 0) close(fd_);
}

std::optional<uid_t> PeerIdentity::owner(const sockaddr_storage& client_in,
                                         const sockaddr_storage& server_in) {
  sockaddr_storage client = unmapped(client_in);
  sockaddr_storage server = unmapped(server_in);
  if (client.ss_family != server.ss_family ||
      (client.ss_family != AF_INET && client.ss_family != AF_INET6)) {
    return std::nullopt;
  }
  struct {
    nlmsghdr header;
    inet_diag_req_v2 request;
  } message{};
  message.header.nlmsg_len = sizeof message;
  message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  message.header.nlmsg_flags = NLM_F_REQUEST;
  message.header.nlmsg_seq = ++sequence_;
  message.request.sdiag_family = static_cast<__u8>(client.ss_family);
  message.request.sdiag_protocol = IPPROTO_TCP;
  message.request.idiag_states = ~0u;
  // The client's socket: its local end is `client`, its remote end `server`.
  fill(client, message.request.id.idiag_sport, message.request.id.idiag_src);
  fill(server, message.request.id.idiag_dport, message.request.id.idiag_dst);
  message.request.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
  message.request.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;

  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (sendto(fd_, &message, sizeof message, 0, reinterpret_cast<sockaddr*>(&kernel),
             sizeof kernel) < 0) {
    return std::nullopt;
  }
  alignas(nlmsghdr) char reply[8192];
  for (int attempt = 0; attempt < 4; ++attempt) {
    ssize_t n = recv(fd_, reply, sizeof reply, 0);
    if (n < 0) return std::nullopt;
    int left = static_cast<int>(n);
    for (auto* h = reinterpret_cast<nlmsghdr*>(reply); NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
      if (h->nlmsg_seq != sequence_) continue;  // a late answer to an earlier question
      if (h->nlmsg_type == NLMSG_ERROR || h->nlmsg_type == NLMSG_DONE) return std::nullopt;
      if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY) continue;
      if (h->nlmsg_len < NLMSG_LENGTH(sizeof(inet_diag_msg))) return std::nullopt;
      const auto* diag = static_cast<const inet_diag_msg*>(NLMSG_DATA(h));
      return static_cast<uid_t>(diag->idiag_uid);
    }
  }
  return std::nullopt;
}

}  // namespace mp::webfilter
