// The private point-to-point channel over real ipc sockets: both ends on one reactor, and raw
// ZeroMQ sockets in the test where a peer has to misbehave.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "mp/bus/channel.h"
#include "support/temp_dir.h"

namespace mp::bus {
namespace {

using namespace std::chrono_literals;
using mp::schema::Envelope;

std::string probe_text(const Incoming& message) {
  auto probe = message.envelope().getProbe();
  return std::string(probe.asChars().begin(), probe.size());
}

Build probe(const std::string& text) {
  return [text](Envelope::Builder e) { e.setProbe(kj::StringPtr(text.c_str()).asBytes()); };
}

class BusChannelTest : public ::testing::Test {
 protected:
  std::unique_ptr<ChannelServer> make_server(Limits limits = {}) {
    return std::make_unique<ChannelServer>(
        context, reactor, endpoint,
        [this](const ChannelServer::Peer& from, const Incoming& message) {
          last_peer = from;
          server_heard.push_back(probe_text(message));
        },
        ChannelOptions{
            .name = "test server", .source = "server", .incarnation = 77, .limits = limits});
  }
  std::unique_ptr<ChannelClient> make_client(Limits limits = {},
                                             std::chrono::milliseconds rebuild_after = 2000ms) {
    return std::make_unique<ChannelClient>(
        context, reactor, endpoint,
        [this](const Incoming& message) {
          client_heard.push_back(probe_text(message));
          client_header_source = message.header().getSource().cStr();
        },
        ChannelOptions{.name = "test client",
                       .source = "client",
                       .limits = limits,
                       .rebuild_after = rebuild_after});
  }
  // Like a heartbeat: the client sends every 20 ms until `until` holds.
  bool keep_sending_until(ChannelClient& client, const std::function<bool()>& until,
                          std::chrono::milliseconds timeout = 3s) {
    auto timer = reactor.every(20ms, [&client] { client.send(probe("beat")); });
    bool held = reactor.run_until(until, timeout);
    reactor.cancel(timer);
    return held;
  }
  bool server_heard_after(std::size_t count) { return server_heard.size() > count; }

  mp::test::TempDir dir{"mp-chan"};
  std::string endpoint = "ipc://" + (dir / "channel").string();
  Context context{1};
  Reactor reactor;
  std::vector<std::string> server_heard, client_heard;
  std::string client_header_source;
  ChannelServer::Peer last_peer;
};

TEST_F(BusChannelTest, MessagesGoBothWaysWithTheHeaderFilled) {
  auto server = make_server();
  auto client = make_client();
  ASSERT_TRUE(keep_sending_until(*client, [&] { return !server_heard.empty(); }));
  EXPECT_EQ(server_heard.front(), "beat");
  EXPECT_TRUE(server->send(last_peer, probe("state")));
  ASSERT_TRUE(reactor.run_until([&] { return !client_heard.empty(); }, 2s));
  EXPECT_EQ(client_heard.front(), "state");
  EXPECT_EQ(client_header_source, "server");
  EXPECT_EQ(server->counters().sent, 1u);
  EXPECT_EQ(client->counters().received, 1u);
  EXPECT_GE(server->counters().received, 1u);
  EXPECT_EQ(server->incarnation(), 77u);
  EXPECT_NE(client->incarnation(), 0u);
  EXPECT_FALSE(server->send("no such peer", probe("lost")));
  EXPECT_EQ(server->counters().not_sent, 1u);
}

TEST_F(BusChannelTest, ServerExposesItsSocketFile) {
  auto server = make_server();
  ASSERT_TRUE(server->socket_file());
  EXPECT_EQ(*server->socket_file(), dir / "channel");
  EXPECT_TRUE(std::filesystem::exists(dir / "channel"));
  server.reset();
  EXPECT_FALSE(std::filesystem::exists(dir / "channel"));
}

TEST_F(BusChannelTest, ClientRefusesToSendWhileNoServerListens) {
  auto client = make_client();
  EXPECT_FALSE(client->send(probe("nobody")));
  EXPECT_EQ(client->counters().not_sent, 1u);
}

TEST_F(BusChannelTest, ServerDropsAndCountsGarbageMultiFrameAndOversize) {
  auto server = make_server(Limits{.max_message_bytes = 4096});
  zmq::socket_t raw(context, zmq::socket_type::dealer);
  raw.set(zmq::sockopt::linger, 0);
  raw.connect(endpoint);
  Outgoing valid;
  valid.envelope().setProbe(kj::StringPtr("valid").asBytes());
  auto valid_frame = valid.to_frame();

  raw.send(zmq::str_buffer("hello"));
  raw.send(zmq::str_buffer("one"), zmq::send_flags::sndmore);
  raw.send(zmq::str_buffer("two"));
  // Past the limit but within ZeroMQ's slack (limit + 1 KiB): seen, decoded, refused.
  raw.send(zmq::buffer(std::string(4096 + 100, '\0')));
  raw.send(valid_frame, zmq::send_flags::none);
  ASSERT_TRUE(reactor.run_until([&] { return !server_heard.empty(); }, 2s));
  EXPECT_EQ(server_heard, std::vector<std::string>{"valid"});
  EXPECT_EQ(server->counters().rejected, 3u);
  EXPECT_EQ(server->counters().received, 1u);

  // A frame past ZMQ_MAXMSGSIZE costs that peer its connection; other clients go on.
  raw.send(zmq::buffer(std::string(64 * 1024, 'A')));
  auto client = make_client();
  std::size_t before = server_heard.size();
  EXPECT_TRUE(keep_sending_until(*client, [&] { return server_heard_after(before); }));
}

TEST_F(BusChannelTest, ClientDropsAndCountsWhatIsNotOneEnvelope) {
  zmq::socket_t raw(context, zmq::socket_type::router);
  raw.set(zmq::sockopt::linger, 0);
  raw.bind(endpoint);
  auto client = make_client();
  zmq::message_t route;
  ASSERT_TRUE(keep_sending_until(
      *client,
      [&] {
        zmq::message_t body;
        if (!raw.recv(route, zmq::recv_flags::dontwait)) return false;
        return raw.recv(body, zmq::recv_flags::dontwait).has_value();
      },
      2s));
  const std::string peer = route.to_string();
  auto send_to_client = [&](std::vector<std::string> frames) {
    raw.send(zmq::buffer(peer), zmq::send_flags::sndmore);
    for (std::size_t i = 0; i < frames.size(); ++i) {
      raw.send(zmq::buffer(frames[i]),
               i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
  };
  Outgoing valid;
  valid.envelope().setProbe(kj::StringPtr("valid").asBytes());
  auto frame = valid.to_frame();
  const std::string valid_bytes = frame.to_string();
  send_to_client({std::string(64, '\xff')});
  send_to_client({valid_bytes, valid_bytes});
  send_to_client({valid_bytes});
  ASSERT_TRUE(reactor.run_until([&] { return !client_heard.empty(); }, 2s));
  EXPECT_EQ(client_heard, std::vector<std::string>{"valid"});
  EXPECT_EQ(client->counters().rejected, 2u);
}

TEST_F(BusChannelTest, RestartedServerHearsTheClientAgain) {
  auto server = make_server();
  auto client = make_client();
  ASSERT_TRUE(keep_sending_until(*client, [&] { return !server_heard.empty(); }));
  server.reset();
  reactor.run_until([] { return false; }, 200ms);
  EXPECT_FALSE(client->send(probe("away")));

  server = make_server();
  std::size_t before = server_heard.size();
  ASSERT_TRUE(keep_sending_until(*client, [&] { return server_heard_after(before); }));
  EXPECT_TRUE(server->send(last_peer, probe("welcome back")));
  ASSERT_TRUE(reactor.run_until([&] { return !client_heard.empty(); }, 2s));
  EXPECT_EQ(client_heard.back(), "welcome back");
}

TEST_F(BusChannelTest, ClientMakesAFreshSocketAfterAnOversizeFrameFromTheServer) {
  auto server = make_server();
  auto client = make_client(Limits{.max_message_bytes = 4096}, 200ms);
  ASSERT_TRUE(keep_sending_until(*client, [&] { return !server_heard.empty(); }));
  // Past the client's ZMQ_MAXMSGSIZE: libzmq drops the connection and never reconnects it.
  EXPECT_TRUE(server->send(last_peer, probe(std::string(64 * 1024, 'A'))));
  ASSERT_TRUE(keep_sending_until(*client, [&] { return client->counters().rebuilt > 0; }));
  EXPECT_TRUE(client_heard.empty());

  // The fresh socket is a new peer to the server.
  const ChannelServer::Peer old_peer = last_peer;
  ASSERT_TRUE(keep_sending_until(*client, [&] { return last_peer != old_peer; }));
  EXPECT_TRUE(server->send(last_peer, probe("small")));
  ASSERT_TRUE(reactor.run_until([&] { return !client_heard.empty(); }, 2s));
  EXPECT_EQ(client_heard.back(), "small");
}

}  // namespace
}  // namespace mp::bus
