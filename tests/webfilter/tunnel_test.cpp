// Tunnelling over real socketpairs: bytes both ways, half-closes passed on, failures end it.
#include "tunnel.h"

#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace mp::webfilter {
namespace {

// client <-> [proxy: c | u] <-> origin
struct Pair {
  Pair() {
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, client_fds), 0);
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, origin_fds), 0);
    c.fd = client_fds[1];
    u.fd = origin_fds[1];
  }
  ~Pair() {
    for (int fd : {client_fds[0], client_fds[1], origin_fds[0], origin_fds[1]}) close(fd);
  }
  // One round of what the proxy's loop does.
  TunnelStep step() {
    note_events(c, EPOLLIN | EPOLLOUT);
    note_events(u, EPOLLIN | EPOLLOUT);
    read_into(c);
    read_into(u);
    TunnelStep s = pump_tunnel(c, u);
    flush(c);
    flush(u);
    return s;
  }
  std::string drain(int fd) {
    char buffer[4096];
    ssize_t n = recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
    return n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : std::string();
  }
  BufferPool pool{4096};
  Side c{pool}, u{pool};
  int client_fds[2], origin_fds[2];
};

TEST(Tunnel, PassesBytesBothWaysUntouched) {
  Pair p;
  std::string hello("\x16\x03\x01 any bytes\0at all", 19);
  send(p.client_fds[0], hello.data(), hello.size(), 0);
  EXPECT_TRUE(p.step().progress);
  EXPECT_EQ(p.drain(p.origin_fds[0]), hello);
  send(p.origin_fds[0], "answer", 6, 0);
  TunnelStep s = p.step();
  EXPECT_TRUE(s.progress);
  EXPECT_FALSE(s.finished);
  EXPECT_EQ(p.drain(p.client_fds[0]), "answer");
}

TEST(Tunnel, EachDirectionEndsOnItsOwn) {
  Pair p;
  send(p.client_fds[0], "last words", 10, 0);
  shutdown(p.client_fds[0], SHUT_WR);
  p.step();
  TunnelStep s = p.step();
  EXPECT_FALSE(s.finished);  // the origin may still answer
  EXPECT_EQ(p.drain(p.origin_fds[0]), "last words");
  EXPECT_TRUE(p.u.shut_write);
  char byte;
  EXPECT_EQ(recv(p.origin_fds[0], &byte, 1, MSG_DONTWAIT), 0);  // the origin sees the end
  send(p.origin_fds[0], "reply", 5, 0);
  shutdown(p.origin_fds[0], SHUT_WR);
  p.step();
  s = p.step();
  EXPECT_EQ(p.drain(p.client_fds[0]), "reply");
  EXPECT_TRUE(s.finished);
}

TEST(Tunnel, AFailedSideEndsIt) {
  Pair p;
  p.u.failed = true;
  EXPECT_TRUE(pump_tunnel(p.c, p.u).finished);
}

}  // namespace
}  // namespace mp::webfilter
