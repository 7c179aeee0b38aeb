#include <capnp/any.h>
#include <capnp/schema.h>

#include "bus_fixture.h"

namespace mp::bus {
namespace {

using namespace std::chrono_literals;
using mp::schema::Envelope;
using mp::schema::Error;

bool ack_with(const Incoming&, Envelope::Builder reply, const std::string& text) {
  reply.initAck().setDetail(text);
  return true;
}

TEST_F(BusFixture, RequestIsRoutedToTheServiceByName) {
  auto server = make_client("echo");
  serve_and_wait(*server, [](const Incoming& request, Envelope::Builder reply) {
    if (!request.envelope().isProbe()) return false;
    reply.setProbe(request.envelope().getProbe());
    return true;
  });
  auto caller = make_client("caller");
  Reply reply = caller->call(
      "echo", [](Envelope::Builder e) { e.setProbe(kj::StringPtr("ping").asBytes()); });
  ASSERT_TRUE(reply.ok()) << reply.error_text();
  auto probe = reply.envelope().getProbe();
  EXPECT_EQ(std::string(probe.asChars().begin(), probe.size()), "ping");
  EXPECT_EQ(std::string(reply.envelope().getHeader().getSource()), "echo");
}

TEST_F(BusFixture, NoWorkerIsAnsweredUnavailableAtOnce) {
  auto caller = make_client("caller");
  auto started = std::chrono::steady_clock::now();
  Reply reply = caller->call(
      "nobody", [](Envelope::Builder e) { e.initStatusRequest(); }, RequestOptions{.deadline = 5s});
  EXPECT_FALSE(reply.ok());
  ASSERT_TRUE(reply.message) << "the broker, not the deadline, must answer";
  EXPECT_EQ(reply.error_kind(), Error::Kind::UNAVAILABLE);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 4s);
}

TEST_F(BusFixture, DeadlineExpiresWhenTheWorkerNeverAnswers) {
  // A worker registered from a reactor nobody runs afterwards: requests reach it, no reply.
  Reactor silent_reactor;
  Client silent(bus.context(), silent_reactor, bus.endpoints(), ClientOptions{.service = "slow"});
  silent.serve([](const Incoming&, Envelope::Builder) { return false; });
  ASSERT_TRUE(silent_reactor.run_until([&] { return silent.counters().registrations > 0; }, 5s));

  auto caller = make_client("caller");
  Reply reply = caller->call(
      "slow", [](Envelope::Builder e) { e.initStatusRequest(); },
      RequestOptions{.deadline = 300ms});
  EXPECT_FALSE(reply.message);
  EXPECT_EQ(reply.error_kind(), Error::Kind::UNAVAILABLE);
  EXPECT_NE(reply.error_text().find("deadline"), std::string::npos) << reply.error_text();
}

TEST_F(BusFixture, UnknownBodyIsAnsweredUnimplementedWithAnEcho) {
  auto server = make_client("narrow");
  serve_and_wait(*server, [](const Incoming& request, Envelope::Builder reply) {
    switch (request.which()) {
      case Envelope::STATUS_REQUEST:
        reply.initAck();
        return true;
      default:
        return false;
    }
  });
  auto caller = make_client("caller");

  // A body from a newer schema: a union ordinal this build has never heard of.
  const std::uint16_t future_ordinal = 999;
  Reply reply = caller->call("narrow", [&](Envelope::Builder e) {
    auto offset = capnp::Schema::from<Envelope>().getProto().getStruct().getDiscriminantOffset();
    capnp::AnyStruct::Builder any = Envelope::Builder(e);
    auto data = any.getDataSection();
    std::memcpy(data.begin() + offset * 2, &future_ordinal, sizeof future_ordinal);
  });
  ASSERT_TRUE(reply.message);
  EXPECT_EQ(reply.error_kind(), Error::Kind::UNIMPLEMENTED);
  ASSERT_TRUE(reply.envelope().isUnimplemented());
  auto echo = reply.envelope().getUnimplemented();
  EXPECT_EQ(static_cast<std::uint16_t>(echo.which()), future_ordinal);
  EXPECT_EQ(std::string(echo.getHeader().getSource()), "caller");
  EXPECT_EQ(server->counters().unimplemented, 1u);

  // And a known body it does not serve gets the same answer.
  Reply known = caller->call("narrow", [](Envelope::Builder e) { e.initUserListRequest(); });
  EXPECT_EQ(known.error_kind(), Error::Kind::UNIMPLEMENTED);
}

TEST_F(BusFixture, IdempotentRetryIsAppliedOnce) {
  int applied = 0;
  auto server = make_client("counter");
  serve_and_wait(*server, [&](const Incoming& request, Envelope::Builder reply) {
    ++applied;
    return ack_with(request, reply, "applied #" + std::to_string(applied));
  });
  auto caller = make_client("caller");
  RequestOptions mutating{.deadline = 2s, .idempotency_key = "add-user-7f3a"};
  auto build = [](Envelope::Builder e) { e.initUserAdd().setName("alice"); };
  Reply first = caller->call("counter", build, mutating);
  Reply retry = caller->call("counter", build, mutating);
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(retry.ok());
  EXPECT_EQ(applied, 1);
  EXPECT_EQ(std::string(first.envelope().getAck().getDetail()), "applied #1");
  EXPECT_EQ(std::string(retry.envelope().getAck().getDetail()), "applied #1");
  EXPECT_EQ(server->counters().replayed_replies, 1u);

  Reply other = caller->call("counter", build, RequestOptions{.idempotency_key = "other"});
  EXPECT_TRUE(other.ok());
  EXPECT_EQ(applied, 2);

  // A key names one request: reusing it for a different one is refused, not replayed.
  Reply reused = caller->call(
      "counter", [](Envelope::Builder e) { e.initUserRemove().setName("bob"); }, mutating);
  EXPECT_EQ(reused.error_kind(), Error::Kind::INVALID);
  EXPECT_EQ(applied, 2);
}

TEST_F(BusFixture, HandlerExceptionIsAnsweredFailedAndServingGoesOn) {
  auto server = make_client("fragile");
  serve_and_wait(*server, [](const Incoming& request, Envelope::Builder reply) -> bool {
    if (request.envelope().isUserRemove()) throw std::runtime_error("disk on fire");
    reply.initAck();
    return true;
  });
  auto caller = make_client("caller");
  Reply bad = caller->call("fragile", [](Envelope::Builder e) { e.initUserRemove(); });
  EXPECT_EQ(bad.error_kind(), Error::Kind::FAILED);
  EXPECT_NE(bad.error_text().find("disk on fire"), std::string::npos);
  Reply good = caller->call("fragile", [](Envelope::Builder e) { e.initStatusRequest(); });
  EXPECT_TRUE(good.ok());
}

TEST_F(BusFixture, EventsReachSubscribersByTopicPrefix) {
  auto subscriber = make_client("watcher");
  std::vector<std::string> seen;
  subscriber->subscribe("session.", [&](std::string_view topic, const Incoming& event) {
    seen.push_back(std::string(topic) + "@" + std::to_string(event.header().getStateVersion()));
  });
  auto publisher = make_client("session");
  settle();
  publisher->publish(
      "session.station", [](Envelope::Builder e) { e.initStationUpdate(); }, 1);
  publisher->publish("policy.effective", [](Envelope::Builder e) { e.initEffectivePolicy(); });
  publisher->publish(
      "session.user", [](Envelope::Builder e) { e.initUserUpdate(); }, 2);
  ASSERT_TRUE(reactor.run_until([&] { return seen.size() >= 2; }, 5s));
  settle(100ms);
  EXPECT_EQ(seen, (std::vector<std::string>{"session.station@1", "session.user@2"}));
}

TEST_F(BusFixture, PresenceAnnouncesAServiceWithItsIncarnation) {
  auto watcher = make_client("watcher");
  std::vector<std::pair<std::string, std::uint64_t>> up;
  watcher->subscribe("bus.presence", [&](std::string_view, const Incoming& event) {
    auto p = event.envelope().getPresence();
    if (p.getState() == mp::schema::Presence::State::UP) {
      up.emplace_back(p.getService(), p.getIncarnation());
    }
  });
  settle();
  auto server = make_client("policy");
  serve_and_wait(*server, [](const Incoming&, Envelope::Builder) { return false; });
  ASSERT_TRUE(reactor.run_until([&] { return !up.empty(); }, 5s));
  EXPECT_EQ(up.front().first, "policy");
  EXPECT_EQ(up.front().second, server->incarnation());
}

}  // namespace
}  // namespace mp::bus
