// Requests answered later through a Responder (Client::answer_later), on a real broker.
#include <optional>
#include <stdexcept>
#include <vector>

#include "bus_fixture.h"

namespace mp::bus {
namespace {

using namespace std::chrono_literals;
using mp::schema::Envelope;
using mp::schema::Error;

Build user_add(const std::string& name) {
  return [name](Envelope::Builder e) { e.initUserAdd().setName(name); };
}
Build status_request() {
  return [](Envelope::Builder e) { e.initStatusRequest(); };
}
Build ack(const std::string& detail) {
  return [detail](Envelope::Builder e) { e.initAck().setDetail(detail); };
}
std::string detail_of(const Reply& reply) {
  if (!reply.ok()) return "<error: " + reply.error_text() + ">";
  if (!reply.envelope().isAck()) return "<not an ack>";
  return reply.envelope().getAck().getDetail();
}

// A worker that answers statusRequest at once and keeps every userAdd for later.
class LaterFixture : public BusFixture {
 protected:
  void SetUp() override {
    server = make_client("later");
    serve_and_wait(*server, [this](const Incoming& request, Envelope::Builder reply) {
      if (request.envelope().isStatusRequest()) {
        reply.initAck().setDetail("now");
        return true;
      }
      ++handled;
      held.push_back(server->answer_later());
      return true;
    });
    caller = make_client("caller");
  }

  // Sends without waiting; the reply lands in the returned slot.
  std::shared_ptr<std::optional<Reply>> send(const Build& body, const std::string& key = {},
                                             std::chrono::milliseconds deadline = 5s) {
    auto slot = std::make_shared<std::optional<Reply>>();
    caller->request("later", body, RequestOptions{.deadline = deadline, .idempotency_key = key},
                    [slot](Reply reply) { *slot = std::move(reply); });
    return slot;
  }
  bool wait_for(const std::function<bool()>& condition) { return reactor.run_until(condition, 5s); }

  std::unique_ptr<Client> server, caller;
  std::vector<Responder> held;
  int handled = 0;
};

TEST_F(LaterFixture, AnswerComesWhenReadyAndOtherRequestsAreServedMeanwhile) {
  auto later = send(user_add("alice"));
  ASSERT_TRUE(wait_for([&] { return held.size() == 1; }));
  // While the first waits, the same worker answers others.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(detail_of(caller->call("later", status_request())), "now");
  EXPECT_FALSE(later->has_value());

  held[0].reply(ack("alice added"));
  EXPECT_FALSE(held[0].pending());
  ASSERT_TRUE(wait_for([&] { return later->has_value(); }));
  EXPECT_EQ(detail_of(**later), "alice added");
  EXPECT_EQ(server->counters().answered_later, 1u);
  held[0].reply(ack("twice"));  // a second answer is ignored
  EXPECT_EQ(detail_of(caller->call("later", status_request())), "now");
}

TEST_F(LaterFixture, RetryWithTheSameKeyWaitsForTheFirstAnswerAndIsNotHandledAgain) {
  auto first = send(user_add("bob"), "add-bob");
  ASSERT_TRUE(wait_for([&] { return held.size() == 1; }));
  auto retry = send(user_add("bob"), "add-bob");
  auto reused = send([](Envelope::Builder e) { e.initUserRemove().setName("bob"); }, "add-bob");
  ASSERT_TRUE(wait_for([&] { return reused->has_value(); }));
  EXPECT_EQ((*reused)->error_kind(), Error::Kind::INVALID) << "a key names one request";
  EXPECT_EQ(detail_of(caller->call("later", status_request())), "now");
  EXPECT_FALSE(retry->has_value());
  EXPECT_EQ(handled, 1);

  held[0].reply(ack("bob added once"));
  ASSERT_TRUE(wait_for([&] { return first->has_value() && retry->has_value(); }));
  EXPECT_EQ(detail_of(**first), "bob added once");
  EXPECT_EQ(detail_of(**retry), "bob added once");
  // And one after the answer comes from the cache.
  auto after = caller->call("later", user_add("bob"), RequestOptions{.idempotency_key = "add-bob"});
  EXPECT_EQ(detail_of(after), "bob added once");
  EXPECT_EQ(handled, 1);
  EXPECT_EQ(server->counters().replayed_replies, 2u);
}

TEST_F(LaterFixture, DroppedResponderAnswersFailedAtOnceAndTheKeyStaysRetryable) {
  auto started = std::chrono::steady_clock::now();
  auto dropped = send(user_add("carol"), "add-carol", 20s);
  ASSERT_TRUE(wait_for([&] { return held.size() == 1; }));
  held.clear();
  ASSERT_TRUE(wait_for([&] { return dropped->has_value(); }));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s) << "not left to the deadline";
  ASSERT_TRUE((*dropped)->message) << "answered by the worker, not by the deadline";
  EXPECT_EQ((*dropped)->error_kind(), Error::Kind::FAILED);

  // A failure is transient: the same key is handled again.
  auto again = send(user_add("carol"), "add-carol");
  ASSERT_TRUE(wait_for([&] { return held.size() == 1; }));
  EXPECT_EQ(handled, 2);
  held[0].fail(Error::Kind::INVALID, "no carol here");
  ASSERT_TRUE(wait_for([&] { return again->has_value(); }));
  EXPECT_EQ((*again)->error_kind(), Error::Kind::INVALID);
  EXPECT_EQ((*again)->error_text(), "no carol here");
}

TEST_F(LaterFixture, WorkerGoingAwayAnswersUnavailable) {
  auto pending = send(user_add("dave"), "add-dave", 20s);
  ASSERT_TRUE(wait_for([&] { return held.size() == 1; }));
  server.reset();
  ASSERT_TRUE(wait_for([&] { return pending->has_value(); }));
  ASSERT_TRUE((*pending)->message);
  EXPECT_EQ((*pending)->error_kind(), Error::Kind::UNAVAILABLE);
  EXPECT_NE((*pending)->error_text().find("stopping"), std::string::npos);
  held[0].reply(ack("too late"));  // the Client is gone: nothing happens
  EXPECT_FALSE(held[0].pending());
}

TEST_F(BusFixture, HandlerThatThrowsAfterAnswerLaterAnswersItsFailure) {
  auto server = make_client("fragile");
  std::vector<Responder> kept;
  serve_and_wait(*server, [&](const Incoming&, Envelope::Builder) -> bool {
    kept.push_back(server->answer_later());
    throw std::runtime_error("disk on fire");
  });
  auto caller = make_client("caller");
  Reply reply = caller->call("fragile", user_add("erin"));
  EXPECT_EQ(reply.error_kind(), Error::Kind::FAILED);
  EXPECT_NE(reply.error_text().find("disk on fire"), std::string::npos) << reply.error_text();
  ASSERT_EQ(kept.size(), 1u);
  kept[0].reply(ack("late"));  // already answered: ignored
  EXPECT_EQ(server->counters().handler_failures, 1u);
}

TEST_F(BusFixture, AnsweringLaterFromInsideTheHandlerWorks) {
  auto server = make_client("eager");
  serve_and_wait(*server, [&](const Incoming&, Envelope::Builder) {
    Responder responder = server->answer_later();
    responder.reply(ack("answered before returning"));
    return true;
  });
  auto caller = make_client("caller");
  EXPECT_EQ(detail_of(caller->call("eager", user_add("frank"))), "answered before returning");
  EXPECT_THROW(server->answer_later(), std::logic_error) << "only inside a handler";
}

}  // namespace
}  // namespace mp::bus
