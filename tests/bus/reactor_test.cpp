// Unit: the reactor's plain descriptors (an epoll set inside zmq_poll), with sockets and timers.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <vector>
#include <zmq.hpp>

#include "mp/bus/reactor.h"

namespace mp::bus {
namespace {

using namespace std::chrono_literals;

struct Pipe {
  Pipe() {
    if (pipe2(fds.data(), O_CLOEXEC | O_NONBLOCK) != 0) throw std::runtime_error("pipe");
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  ~Pipe() {
    for (int fd : fds) {
      if (fd >= 0) close(fd);
    }
  }
  int read_end() const { return fds[0]; }
  void poke() const { ASSERT_EQ(write(fds[1], "x", 1), 1); }
  void drain() const {
    char buffer[64];
    while (read(fds[0], buffer, sizeof buffer) > 0) {
    }
  }
  std::array<int, 2> fds{-1, -1};
};

TEST(Reactor, OnlyTheReadyOneOfManyDescriptorsIsCalled) {
  Reactor reactor;
  std::vector<Pipe> pipes(200);
  std::vector<int> calls(pipes.size(), 0);
  for (std::size_t i = 0; i < pipes.size(); ++i) {
    reactor.watch_fd(pipes[i].read_end(), [&, i] {
      ++calls[i];
      pipes[i].drain();
    });
  }
  pipes[150].poke();
  pipes[7].poke();
  reactor.run_until([&] { return calls[150] == 1 && calls[7] == 1; }, 2s);
  int others = 0;
  for (std::size_t i = 0; i < calls.size(); ++i) {
    if (i != 150 && i != 7) others += calls[i];
  }
  EXPECT_EQ(calls[150], 1);
  EXPECT_EQ(calls[7], 1);
  EXPECT_EQ(others, 0);
}

TEST(Reactor, ADescriptorUnwatchedByAnEarlierCallbackIsNotCalled) {
  Reactor reactor;
  Pipe a, b;
  int a_calls = 0, b_calls = 0;
  // Whichever runs first unwatches the other; the other must not run in the same round.
  reactor.watch_fd(a.read_end(), [&] {
    ++a_calls;
    a.drain();
    reactor.unwatch_fd(b.read_end());
  });
  reactor.watch_fd(b.read_end(), [&] {
    ++b_calls;
    b.drain();
    reactor.unwatch_fd(a.read_end());
  });
  a.poke();
  b.poke();
  reactor.run_until([] { return false; }, 200ms);
  EXPECT_EQ(a_calls + b_calls, 1);
}

TEST(Reactor, LevelTriggeredUntilRead) {
  Reactor reactor;
  Pipe p;
  int calls = 0;
  reactor.watch_fd(p.read_end(), [&] {
    if (++calls == 3) p.drain();  // not read the first two times: called again
  });
  p.poke();
  reactor.run_until([] { return false; }, 200ms);
  EXPECT_EQ(calls, 3);
}

TEST(Reactor, ANumberReusedAfterACloseGetsTheNewCallback) {
  Reactor reactor;
  int old_calls = 0, new_calls = 0;
  int reused = -1;
  {
    Pipe first;
    reactor.watch_fd(first.read_end(), [&] { ++old_calls; });
    reused = first.read_end();
  }  // closed without unwatch_fd
  Pipe second;
  ASSERT_EQ(second.read_end(), reused) << "the kernel gives the lowest free number back";
  reactor.watch_fd(second.read_end(), [&] {
    ++new_calls;
    second.drain();
  });
  second.poke();
  reactor.run_until([&] { return new_calls > 0; }, 1s);
  EXPECT_EQ(new_calls, 1);
  EXPECT_EQ(old_calls, 0);
}

TEST(Reactor, SocketsDescriptorsAndTimersTogether) {
  zmq::context_t context;
  zmq::socket_t pull(context, zmq::socket_type::pull), push(context, zmq::socket_type::push);
  pull.bind("inproc://reactor-test");
  push.connect("inproc://reactor-test");
  Reactor reactor;
  Pipe p;
  int messages = 0, fd_calls = 0, ticks = 0;
  reactor.watch_socket(pull, [&] {
    zmq::message_t m;
    while (pull.recv(m, zmq::recv_flags::dontwait)) ++messages;
  });
  reactor.watch_fd(p.read_end(), [&] {
    ++fd_calls;
    p.drain();
  });
  reactor.every(20ms, [&] { ++ticks; });
  reactor.after(30ms, [&] {
    push.send(zmq::str_buffer("hello"), zmq::send_flags::none);
    p.poke();
  });
  reactor.run_until([&] { return messages == 1 && fd_calls == 1 && ticks >= 3; }, 2s);
  EXPECT_EQ(messages, 1);
  EXPECT_EQ(fd_calls, 1);
  EXPECT_GE(ticks, 3);
}

}  // namespace
}  // namespace mp::bus
