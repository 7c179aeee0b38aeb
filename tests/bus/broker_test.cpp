#include <zmq.hpp>

#include "bus_fixture.h"
#include "mp/bus/tap.h"

namespace mp::bus {
namespace {

using namespace std::chrono_literals;
using mp::schema::Envelope;
using mp::schema::Error;

std::uint64_t rejected_frames(Client& client) {
  Reply status = client.call("bus", [](Envelope::Builder e) { e.initBusStatusRequest(); });
  EXPECT_TRUE(status.ok()) << status.error_text();
  return status.ok() ? status.envelope().getBusStatus().getRejectedFrames() : 0;
}

TEST_F(BusFixture, GarbageOnEverySocketIsCountedAndHarmsNoOne) {
  auto server = make_client("echo");
  serve_and_wait(*server, [](const Incoming&, Envelope::Builder reply) {
    reply.initAck();
    return true;
  });
  auto caller = make_client("caller");
  std::uint64_t before = rejected_frames(*caller);

  zmq::socket_t publisher(bus.context(), zmq::socket_type::pub);
  publisher.connect(bus.endpoints().events_in);
  zmq::socket_t dealer(bus.context(), zmq::socket_type::dealer);
  dealer.connect(bus.endpoints().requests);
  zmq::socket_t subscriber(bus.context(), zmq::socket_type::xsub);
  subscriber.connect(bus.endpoints().events_out);
  settle();
  // Events: one frame only, garbage body, odd size, empty topic.
  publisher.send(zmq::str_buffer("lonely"), zmq::send_flags::none);
  publisher.send(zmq::str_buffer("t"), zmq::send_flags::sndmore);
  publisher.send(zmq::str_buffer("not capnp at all"), zmq::send_flags::none);
  publisher.send(zmq::str_buffer("t"), zmq::send_flags::sndmore);
  publisher.send(zmq::str_buffer("12345"), zmq::send_flags::none);
  // Requests: wrong frame counts, unknown kind, truncated envelope.
  dealer.send(zmq::str_buffer("Q"), zmq::send_flags::none);
  dealer.send(zmq::str_buffer("X"), zmq::send_flags::sndmore);
  dealer.send(zmq::str_buffer("echo"), zmq::send_flags::sndmore);
  dealer.send(zmq::str_buffer("12345678"), zmq::send_flags::none);
  dealer.send(zmq::str_buffer("Q"), zmq::send_flags::sndmore);
  dealer.send(zmq::str_buffer("echo"), zmq::send_flags::sndmore);
  dealer.send(zmq::str_buffer("\x00\x00\x00\x00\x05\x00\x00\x00"), zmq::send_flags::none);
  dealer.send(zmq::str_buffer("C"), zmq::send_flags::sndmore);
  dealer.send(zmq::str_buffer(""), zmq::send_flags::sndmore);
  dealer.send(zmq::str_buffer("garbage!"), zmq::send_flags::none);
  // Subscriptions: nonsense bytes on the XPUB side.
  subscriber.send(zmq::str_buffer("\x07nonsense"), zmq::send_flags::none);

  ASSERT_TRUE(reactor.run_until([&] { return rejected_frames(*caller) >= before + 6; }, 5s));
  Reply still = caller->call("echo", [](Envelope::Builder e) { e.initStatusRequest(); });
  EXPECT_TRUE(still.ok()) << still.error_text();
  EXPECT_EQ(server->counters().rejected_frames, 0u) << "garbage must stop at the broker";
}

TEST_F(BusFixture, WorkerThatDiesWithARequestInFlightIsAnsweredUnavailable) {
  auto caller = make_client("caller");
  std::optional<Reply> outcome;
  {
    Reactor other;
    Client doomed(bus.context(), other, bus.endpoints(), ClientOptions{.service = "doomed"});
    doomed.serve([](const Incoming&, Envelope::Builder) { return false; });
    ASSERT_TRUE(other.run_until([&] { return doomed.counters().registrations > 0; }, 5s));
    caller->request(
        "doomed", [](Envelope::Builder e) { e.initStatusRequest(); },
        RequestOptions{.deadline = 10s}, [&](Reply r) { outcome = std::move(r); });
    settle(100ms);
  }  // ~Client says unregister: the broker must fail the request at once, not at the deadline.
  ASSERT_TRUE(reactor.run_until([&] { return outcome.has_value(); }, 5s));
  ASSERT_TRUE(outcome->message);
  EXPECT_EQ(outcome->error_kind(), Error::Kind::UNAVAILABLE);
}

TEST_F(BusFixture, SilentWorkerIsDeclaredDeadAfterMissedHeartbeats) {
  auto watcher = make_client("watcher");
  bool down = false;
  watcher->subscribe("bus.presence", [&](std::string_view, const Incoming& event) {
    auto p = event.envelope().getPresence();
    if (p.getService() == "frozen" && p.getState() == mp::schema::Presence::State::DOWN) {
      down = true;
    }
  });
  settle();
  Reactor frozen_reactor;
  Client frozen(bus.context(), frozen_reactor, bus.endpoints(), ClientOptions{.service = "frozen"});
  frozen.serve([](const Incoming&, Envelope::Builder) { return false; });
  ASSERT_TRUE(frozen_reactor.run_until([&] { return frozen.counters().registrations > 0; }, 5s));
  // Nobody runs frozen_reactor from now on: no heartbeats. Dead after 3 missed (~3-4 s).
  EXPECT_TRUE(reactor.run_until([&] { return down; }, 6s));
}

TEST_F(BusFixture, BusAnswersItsOwnStatus) {
  auto server = make_client("session");
  serve_and_wait(*server, [](const Incoming&, Envelope::Builder) { return false; });
  auto caller = make_client("caller");
  Reply status = caller->call("bus", [](Envelope::Builder e) { e.initBusStatusRequest(); });
  ASSERT_TRUE(status.ok());
  auto services = status.envelope().getBusStatus().getServices();
  ASSERT_EQ(services.size(), 1u);
  EXPECT_EQ(std::string(services[0].getName()), "session");
  EXPECT_EQ(services[0].getIncarnation(), server->incarnation());
}

TEST_F(BusFixture, TheTapNeverCarriesPasswords) {
  std::vector<std::string> seen_by_worker;
  auto server = make_client("session");
  serve_and_wait(*server, [&](const Incoming& request, Envelope::Builder reply) {
    auto e = request.envelope();
    if (e.isUserAdd()) seen_by_worker.push_back(e.getUserAdd().getPassword());
    if (e.isCredentials()) seen_by_worker.push_back(e.getCredentials().getPassword());
    if (e.isAuthenticate()) seen_by_worker.push_back(e.getAuthenticate().getPassword());
    if (e.isUserModify()) seen_by_worker.push_back(e.getUserModify().getPassword());
    reply.initAck();
    return true;
  });
  std::vector<std::string> tapped;  // every tapped request and reply, printed
  std::vector<std::string> tapped_passwords;
  TapSubscriber tap(
      bus.context(), reactor, bus.endpoints(), "", Limits{},
      [&](std::string_view topic, const Incoming& message) {
        tapped.push_back(std::string(topic) + " " + envelope_to_text(message.envelope()));
        auto e = message.envelope();
        if (e.isUserAdd()) tapped_passwords.push_back(e.getUserAdd().getPassword());
        if (e.isCredentials()) {
          tapped_passwords.push_back(e.getCredentials().getPassword());
          EXPECT_EQ(std::string(e.getCredentials().getUser()), "alice") << "other fields untouched";
        }
        if (e.isAuthenticate()) {
          tapped_passwords.push_back(e.getAuthenticate().getPassword());
        }
        if (e.isUserModify()) {
          tapped_passwords.push_back(e.getUserModify().getPassword());
        }
      });
  settle();
  auto caller = make_client("caller");
  ASSERT_TRUE(caller
                  ->call("session",
                         [](Envelope::Builder e) {
                           auto body = e.initUserAdd();
                           body.setName("alice");
                           body.setPassword("hunter2 secret");
                         })
                  .ok());
  ASSERT_TRUE(caller
                  ->call("session",
                         [](Envelope::Builder e) {
                           auto body = e.initCredentials();
                           body.setStationKey("rdp:lab-1");
                           body.setUser("alice");
                           body.setPassword("hunter2 secret");
                         })
                  .ok());
  ASSERT_TRUE(caller
                  ->call("session",
                         [](Envelope::Builder e) {
                           auto body = e.initAuthenticate();
                           body.setUser("alice");
                           body.setPassword("hunter2 secret");
                         })
                  .ok());
  ASSERT_TRUE(caller
                  ->call("session",
                         [](Envelope::Builder e) {
                           e.initUserModify().setName("alice");  // no password: stays empty
                         })
                  .ok());
  ASSERT_TRUE(reactor.run_until([&] { return tapped_passwords.size() == 4; }, 5s));
  EXPECT_EQ(seen_by_worker,
            (std::vector<std::string>{"hunter2 secret", "hunter2 secret", "hunter2 secret", ""}))
      << "the service gets the real password";
  EXPECT_EQ(tapped_passwords, (std::vector<std::string>{kRedacted, kRedacted, kRedacted, ""}));
  for (const auto& line : tapped) EXPECT_EQ(line.find("hunter2"), std::string::npos) << line;
}

TEST(TapPrinting, PasswordsArePrintedRedactedAndOtherBodiesAsTheyAre) {
  Outgoing add;
  auto body = add.envelope().initUserAdd();
  body.setName("alice");
  body.setPassword("hunter2 secret");
  std::string json = envelope_to_json(add.envelope().asReader());
  EXPECT_EQ(json.find("hunter2"), std::string::npos) << json;
  EXPECT_NE(json.find(kRedacted), std::string::npos) << json;
  EXPECT_NE(json.find("alice"), std::string::npos) << json;
  EXPECT_EQ(envelope_to_text(add.envelope().asReader()).find("hunter2"), std::string::npos);

  Outgoing message;
  message.envelope().initSendMessage().setText("password: hunter2");  // not a secret field
  EXPECT_NE(envelope_to_json(message.envelope().asReader()).find("hunter2"), std::string::npos);
}

}  // namespace
}  // namespace mp::bus
