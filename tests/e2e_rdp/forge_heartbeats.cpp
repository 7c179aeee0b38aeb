// A student's program on their own session's agent socket: connects like mp-agent and sends
// heartbeats claiming the lock is shown, for a while. The bypass tests run it as the student.
//   forge-heartbeats ENDPOINT SESSION_ID SECONDS
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "mp/bus/channel.h"
#include "mp/bus/reactor.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: forge-heartbeats ENDPOINT SESSION_ID SECONDS\n");
    return 2;
  }
  std::uint64_t session = std::strtoull(argv[2], nullptr, 10);
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(std::atoi(argv[3]));
  mp::bus::Context context(1);
  mp::bus::Reactor reactor;
  int answers = 0;
  mp::bus::ChannelClient channel(
      context, reactor, argv[1], [&](const mp::bus::Incoming&) { ++answers; },
      mp::bus::ChannelOptions{.name = "forger", .source = "agent"});
  int sent = 0;
  while (std::chrono::steady_clock::now() < until) {
    sent += channel.send([&](mp::schema::Envelope::Builder e) {
      auto beat = e.initAgentHeartbeat();
      beat.setSessionId(session);
      beat.setPid(static_cast<std::int32_t>(getpid()));
      beat.setLockShown(true);
    });
    reactor.run_until([] { return false; }, std::chrono::milliseconds(50));
  }
  std::printf("sent %d heartbeats, %d answers\n", sent, answers);
  return 0;
}
