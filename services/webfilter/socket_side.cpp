#include "socket_side.h"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>

namespace mp::webfilter {

void note_events(Side& s, std::uint32_t events) {
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) s.readable = true;
  if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) s.writable = true;
}

bool read_into(Side& s) {
  if (s.fd < 0 || s.eof || s.failed || !s.readable) return false;
  std::size_t room = s.in.space();
  if (room == 0) return false;
  char* p = s.in.prepare();
  ssize_t n = recv(s.fd, p, room, 0);
  if (n > 0) {
    s.in.commit(static_cast<std::size_t>(n));
    if (static_cast<std::size_t>(n) < room) s.readable = false;  // drained, most likely
    return true;
  }
  s.readable = false;
  if (n == 0) {
    s.eof = true;
    return true;
  }
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return false;
  s.failed = true;
  return true;
}

bool flush(Side& s) {
  if (s.fd < 0 || s.failed || s.out.empty() || !s.writable) return false;
  ssize_t n = send(s.fd, s.out.data(), s.out.size(), MSG_NOSIGNAL);
  if (n > 0) {
    if (static_cast<std::size_t>(n) < s.out.size()) s.writable = false;
    s.out.consume(static_cast<std::size_t>(n));
    return true;
  }
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
    s.writable = false;
    return false;
  }
  s.failed = true;
  return true;
}

std::size_t forward(Side& to, const char* p, std::size_t n) {
  if (to.failed) return n;
  std::size_t done = 0;
  if (to.out.empty() && to.writable) {
    ssize_t w = send(to.fd, p, n, MSG_NOSIGNAL);
    if (w > 0) {
      done = static_cast<std::size_t>(w);
    } else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      to.failed = true;
      return n;
    }
    if (done < n) to.writable = false;
  }
  return done + to.out.append(p + done, n - done);
}

}  // namespace mp::webfilter
