// The agent channel of one session, as mp-session guards it: the agent runs as the student, so
// whatever reaches the channel may be anything. Only the agent process mp-session started may
// connect (a ZAP gate on the kernel's peer credentials), an agent that sends too much is held
// to its budget, and thumbnails nobody asked for are dropped.
#include "agent_channel.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>

#include "mp/bus/channel.h"
#include "mp/bus/peer_gate.h"
#include "support/temp_dir.h"

namespace mp::session {
namespace {

using namespace std::chrono_literals;
using mp::schema::Envelope;

constexpr std::uint64_t kSession = 7;

class AgentChannelTest : public ::testing::Test {
 protected:
  AgentChannelTest()
      : gate(context, reactor, [this](const std::string& domain, const mp::bus::IpcPeer& peer) {
          return domain == "session-7" && peer.pid == allowed_pid;
        }) {}

  void open(AgentChannel::Options options = {}) {
    options.gate_domain = "session-7";
    channel = std::make_unique<AgentChannel>(
        context, reactor, dir / "agent", std::nullopt, kSession, 42,
        AgentChannel::Events{
            .up_changed = [this](bool up) { ups.push_back(up); },
            .thumbnail = [this](mp::schema::AgentThumbnail::Reader) { ++thumbnails; }},
        options);
    agent = std::make_unique<mp::bus::ChannelClient>(
        context, reactor, "ipc://" + (dir / "agent").string(), [](const mp::bus::Incoming&) {},
        mp::bus::ChannelOptions{.name = "test agent", .source = "agent"});
  }

  bool heartbeat() {
    return agent->send([](Envelope::Builder e) {
      auto beat = e.initAgentHeartbeat();
      beat.setSessionId(kSession);
      beat.setPid(static_cast<std::int32_t>(getpid()));
      beat.setLockShown(true);
    });
  }

  bool send_thumbnail() {
    return agent->send([](Envelope::Builder e) {
      auto image = e.initAgentThumbnail();
      image.setWidth(32);
      image.setHeight(24);
      auto jpeg = image.initJpeg(16);
      jpeg[0] = 0xFF;
      jpeg[1] = 0xD8;
    });
  }

  // Heartbeats until the channel counts the agent up (or the time is over).
  bool beat_until_up(std::chrono::milliseconds timeout) {
    auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      heartbeat();
      if (reactor.run_until([&] { return channel->up(); }, 100ms)) return true;
    }
    return false;
  }

  mp::test::TempDir dir{"mp-agent-channel"};
  mp::bus::Context context{1};
  mp::bus::Reactor reactor;
  pid_t allowed_pid = 1;  // init: never this test
  mp::bus::PeerGate gate;
  std::unique_ptr<AgentChannel> channel;
  std::unique_ptr<mp::bus::ChannelClient> agent;
  std::vector<bool> ups;
  int thumbnails = 0;
};

TEST_F(AgentChannelTest, OnlyTheAgentProcessMayTalkOnTheChannel) {
  open();
  // Another program of the student's, forging heartbeats that claim the lock is shown.
  EXPECT_FALSE(beat_until_up(1500ms));
  EXPECT_EQ(channel->heartbeats(), 0u);
  EXPECT_TRUE(ups.empty());
  EXPECT_GT(gate.counters().refused, 0u);

  // The process mp-session started (here: this one) gets through.
  allowed_pid = getpid();
  EXPECT_TRUE(beat_until_up(5s)) << "the agent's own connection is accepted";
  EXPECT_GT(gate.counters().accepted, 0u);
}

TEST_F(AgentChannelTest, AFloodingAgentIsHeldToItsBudget) {
  allowed_pid = getpid();
  open({.messages_per_second = 50});
  ASSERT_TRUE(beat_until_up(5s));
  std::uint64_t before = channel->heartbeats();
  auto start = std::chrono::steady_clock::now();
  int sent = 0;
  // Flood until the channel has refused some (the send queue's high-water mark drops what the
  // loop has not read yet, so a count of sends alone does not guarantee a flood on a loaded
  // machine), at least 2000 tries.
  for (int i = 0; i < 2000 || (channel->over_budget() == 0 && i < 200000); ++i) {
    if (heartbeat()) ++sent;
    if (i % 50 == 0) reactor.run_until([] { return false; }, 1ms);
  }
  reactor.run_until(
      [&] {
        return channel->heartbeats() - before + channel->over_budget() >=
               static_cast<std::uint64_t>(sent) * 9 / 10;
      },
      5s);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::uint64_t taken = channel->heartbeats() - before;
  // A burst of twice the rate, then the rate: never more.
  EXPECT_LE(taken, static_cast<std::uint64_t>(100 + 50 * seconds + 1))
      << sent << " sent in " << seconds << " s";
  EXPECT_GT(channel->over_budget(), 0u);
  EXPECT_TRUE(channel->up()) << "the agent itself stays up";
}

TEST_F(AgentChannelTest, ThumbnailsNobodyAskedForAreDropped) {
  allowed_pid = getpid();
  open();
  ASSERT_TRUE(beat_until_up(5s));
  ASSERT_TRUE(send_thumbnail());
  reactor.run_until([&] { return channel->thumbnails_dropped() > 0; }, 2s);
  EXPECT_EQ(thumbnails, 0);
  EXPECT_EQ(channel->thumbnails_dropped(), 1u);

  std::string reason;
  ASSERT_TRUE(channel->request_thumbnails(
      {.stream = 0, .interval_ms = 10000, .width = 32, .max_bytes = 4096, .lease_ms = 5000},
      &reason))
      << reason;
  ASSERT_TRUE(send_thumbnail());
  ASSERT_TRUE(send_thumbnail());  // far sooner than every 10 s
  reactor.run_until([&] { return thumbnails + channel->thumbnails_dropped() >= 3; }, 2s);
  EXPECT_EQ(thumbnails, 1);
  EXPECT_EQ(channel->thumbnails_dropped(), 2u);
}

}  // namespace
}  // namespace mp::session
