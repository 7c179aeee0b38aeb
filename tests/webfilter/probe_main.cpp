// webfilter-probe: what a student's own programs do, run as the student by the process tests.
//   webfilter-probe send ADDRESS PORT WHAT [BYTES]   connect, send WHAT, print what comes back
//       (until BYTES have come, the peer closes, or 5 s pass without a byte):
//       WHAT = hello:NAME | hello-ech:NAME (a TLS ClientHello, with Encrypted Client Hello) |
//              get:HOST (an HTTP GET / with that Host)
//       prints "connected" or "refused: REASON" (exit 3), then "received HEX" and "closed"
//   webfilter-probe udp ADDRESS PORT   send one datagram: prints "sent" or "refused: REASON"
//       (exit 3)
//   webfilter-probe relay PORT [ADDRESS]   a CONNECT relay on ADDRESS:PORT (default 127.0.0.1;
//       the "SOCKS proxy the student starts"): prints "listening", "accepted" per connection,
//       then "connect HOST:PORT ok" or "connect HOST:PORT refused: REASON"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "client_hello.h"

namespace {

bool address_of(const std::string& host, int port, sockaddr_storage& out, socklen_t& length) {
  out = sockaddr_storage{};
  auto& v4 = reinterpret_cast<sockaddr_in&>(out);
  if (inet_pton(AF_INET, host.c_str(), &v4.sin_addr) == 1) {
    v4.sin_family = AF_INET;
    v4.sin_port = htons(static_cast<std::uint16_t>(port));
    length = sizeof v4;
    return true;
  }
  auto& v6 = reinterpret_cast<sockaddr_in6&>(out);
  if (inet_pton(AF_INET6, host.c_str(), &v6.sin6_addr) == 1) {
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(static_cast<std::uint16_t>(port));
    length = sizeof v6;
    return true;
  }
  return false;
}

// A connected socket, or -1 with errno set.
int connect_to(const std::string& host, int port) {
  sockaddr_storage address;
  socklen_t length;
  if (!address_of(host, port, address, length)) {
    errno = EINVAL;
    return -1;
  }
  int fd = socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  timeval timeout{3, 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), length) != 0) {
    int error = errno;
    close(fd);
    errno = error;
    return -1;
  }
  return fd;
}

int send_probe(const std::string& host, int port, const std::string& what, std::size_t want) {
  std::string payload;
  if (what.starts_with("hello:")) {
    payload = mp::webfilter::test::client_hello(what.substr(6));
  } else if (what.starts_with("hello-ech:")) {
    payload = mp::webfilter::test::client_hello(what.substr(10), 16384, 0, true);
  } else if (what.starts_with("get:")) {
    payload = "GET / HTTP/1.1\r\nHost: " + what.substr(4) + "\r\nConnection: close\r\n\r\n";
  } else {
    std::fprintf(stderr, "unknown payload %s\n", what.c_str());
    return 2;
  }
  int fd = connect_to(host, port);
  if (fd < 0) {
    std::printf("refused: %s\n", std::strerror(errno));
    return 3;
  }
  std::printf("connected\n");
  send(fd, payload.data(), payload.size(), MSG_NOSIGNAL);
  std::string received;
  pollfd p{fd, POLLIN, 0};
  while (received.size() < want && ::poll(&p, 1, 5000) > 0) {
    char chunk[4096];
    ssize_t n = recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) break;
    received.append(chunk, static_cast<std::size_t>(n));
  }
  close(fd);
  std::printf("received ");
  for (unsigned char c : received) std::printf("%02x", c);
  std::printf("\nclosed\n");
  return 0;
}

int send_datagram(const std::string& host, int port) {
  sockaddr_storage address;
  socklen_t length;
  if (!address_of(host, port, address, length)) return 2;
  int fd = socket(address.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sendto(fd, "probe", 5, 0, reinterpret_cast<sockaddr*>(&address), length) < 0) {
    std::printf("refused: %s\n", std::strerror(errno));
    close(fd);
    return 3;
  }
  std::printf("sent\n");
  close(fd);
  return 0;
}

void relay_both_ways(int a, int b) {
  pollfd p[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
  char chunk[16384];
  while (::poll(p, 2, 10000) > 0) {
    for (int i = 0; i < 2; ++i) {
      if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = recv(p[i].fd, chunk, sizeof chunk, 0);
      if (n <= 0) return;
      send(p[1 - i].fd, chunk, static_cast<std::size_t>(n), MSG_NOSIGNAL);
    }
  }
}

void serve_relay_client(int client) {
  std::string head;
  char chunk[4096];
  while (head.find("\r\n\r\n") == std::string::npos && head.size() < 8192) {
    ssize_t n = recv(client, chunk, sizeof chunk, 0);
    if (n <= 0) {
      close(client);
      return;
    }
    head.append(chunk, static_cast<std::size_t>(n));
  }
  // "CONNECT host:port HTTP/1.1"
  std::string target = head.substr(8, head.find(' ', 8) - 8);
  auto colon = target.rfind(':');
  std::string host = target.substr(0, colon);
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  int port = colon == std::string::npos ? 0 : std::atoi(target.c_str() + colon + 1);
  int upstream = head.starts_with("CONNECT ") ? connect_to(host, port) : -1;
  if (upstream < 0) {
    std::printf("connect %s refused: %s\n", target.c_str(), std::strerror(errno));
    std::fflush(stdout);
    std::string answer = "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n";
    send(client, answer.data(), answer.size(), MSG_NOSIGNAL);
    close(client);
    return;
  }
  std::printf("connect %s ok\n", target.c_str());
  std::fflush(stdout);
  std::string answer = "HTTP/1.1 200 Connection established\r\n\r\n";
  send(client, answer.data(), answer.size(), MSG_NOSIGNAL);
  relay_both_ways(client, upstream);
  close(upstream);
  close(client);
}

int relay(int port, const std::string& host) {
  sockaddr_storage address;
  socklen_t length;
  if (!address_of(host, port, address, length)) return 2;
  int fd = socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), length) != 0 || listen(fd, 16) != 0) {
    std::printf("cannot listen: %s\n", std::strerror(errno));
    return 1;
  }
  std::printf("listening\n");
  std::fflush(stdout);
  while (true) {
    int client = accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    std::printf("accepted\n");
    std::fflush(stdout);
    std::thread(serve_relay_client, client).detach();
  }
}

}  // namespace

int main(int argc, char** argv) {
  setvbuf(stdout, nullptr, _IOLBF, 0);
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "send" && (argc == 5 || argc == 6)) {
    std::size_t want = argc == 6 ? std::strtoul(argv[5], nullptr, 10) : 65536;
    return send_probe(argv[2], std::atoi(argv[3]), argv[4], want);
  }
  if (mode == "udp" && argc == 4) return send_datagram(argv[2], std::atoi(argv[3]));
  if (mode == "relay" && (argc == 3 || argc == 4)) {
    return relay(std::atoi(argv[2]), argc == 4 ? argv[3] : "127.0.0.1");
  }
  std::fprintf(stderr,
               "usage: webfilter-probe send ADDRESS PORT WHAT [BYTES] | udp ADDRESS PORT | relay "
               "PORT [ADDRESS]\n");
  return 2;
}
