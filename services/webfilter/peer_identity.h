// Which Unix user owns the client end of a local TCP connection. Stations share one IP, so the
// socket's owner is what tells them apart: the kernel's socket table is asked over
// NETLINK_SOCK_DIAG (inet_diag) for the socket with the client's address pair; its idiag_uid
// is the user that created it. Works unprivileged.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <cstdint>
#include <optional>

namespace mp::webfilter {

class PeerIdentity {
 public:
  PeerIdentity();  // throws std::system_error if no netlink socket can be had
  ~PeerIdentity();
  PeerIdentity(const PeerIdentity&) = delete;
  PeerIdentity& operator=(const PeerIdentity&) = delete;

  // `client`: the connection's remote address as the proxy sees it; `server`: the address the
  // client connected to (the proxy's own, or the original destination of a redirect).
  // nullopt when the client is not a socket on this host (or its namespace).
  std::optional<uid_t> owner(const sockaddr_storage& client, const sockaddr_storage& server);

 private:
  int fd_ = -1;
  std::uint32_t sequence_ = 0;
};

}  // namespace mp::webfilter
