// A message over the bus's limit is never sent: ZMQ_MAXMSGSIZE would make the broker drop the
// sender's connection, and the requester would only see its deadline pass.
#include "bus_fixture.h"

namespace mp::bus {
namespace {

using namespace std::chrono_literals;
using mp::schema::Envelope;
using mp::schema::Error;

// Over the default 1 MiB limit, with room for the envelope.
constexpr std::size_t kTooLarge = (1 << 20) + 4096;

void set_probe(Envelope::Builder e, std::size_t bytes) {
  auto probe = e.initProbe(static_cast<unsigned>(bytes));
  std::memset(probe.begin(), 'x', probe.size());
}

bool asked_for_big(const Incoming& request) {
  auto probe = request.envelope().getProbe();
  return std::string_view(probe.asChars().begin(), probe.size()) == "big";
}

TEST_F(BusFixture, ReplyOverTheBusLimitIsAnsweredFailedInstead) {
  auto server = make_client("big");
  serve_and_wait(*server, [](const Incoming& request, Envelope::Builder reply) {
    if (!request.envelope().isProbe()) return false;
    set_probe(reply, asked_for_big(request) ? kTooLarge : 16);
    return true;
  });
  auto caller = make_client("caller");
  auto ask = [&](const char* what) {
    return caller->call(
        "big", [&](Envelope::Builder e) { e.setProbe(kj::StringPtr(what).asBytes()); },
        RequestOptions{.deadline = 2s});
  };
  Reply big = ask("big");
  ASSERT_TRUE(big.message) << "the requester must get an answer, not a deadline: "
                           << big.error_text();
  EXPECT_EQ(big.error_kind(), Error::Kind::FAILED);
  EXPECT_NE(big.error_text().find("reply too large ("), std::string::npos) << big.error_text();
  EXPECT_NE(big.error_text().find(" bytes)"), std::string::npos) << big.error_text();
  EXPECT_EQ(server->counters().oversized_messages, 1u);
  // The connection is intact: the next request is served as usual.
  Reply small = ask("small");
  ASSERT_TRUE(small.ok()) << small.error_text();
  EXPECT_EQ(small.envelope().getProbe().size(), 16u);
}

TEST_F(BusFixture, ReplyAnsweredLaterOverTheBusLimitIsAnsweredFailedInstead) {
  auto server = make_client("later");
  std::optional<Responder> responder;
  serve_and_wait(*server, [&](const Incoming&, Envelope::Builder) {
    responder.emplace(server->answer_later());
    return true;
  });
  auto caller = make_client("caller");
  std::optional<Reply> reply;
  caller->request(
      "later", [](Envelope::Builder e) { e.initStatusRequest(); }, RequestOptions{.deadline = 3s},
      [&](Reply r) { reply = std::move(r); });
  ASSERT_TRUE(reactor.run_until([&] { return responder.has_value(); }, 5s));
  responder->reply([](Envelope::Builder e) { set_probe(e, kTooLarge); });
  ASSERT_TRUE(reactor.run_until([&] { return reply.has_value(); }, 5s));
  ASSERT_TRUE(reply->message) << reply->error_text();
  EXPECT_EQ(reply->error_kind(), Error::Kind::FAILED);
  EXPECT_NE(reply->error_text().find("reply too large ("), std::string::npos);
  EXPECT_EQ(server->counters().oversized_messages, 1u);
}

TEST_F(BusFixture, EventOverTheBusLimitIsNotPublished) {
  auto subscriber = make_client("watcher");
  std::vector<std::size_t> sizes;
  subscriber->subscribe("probe.", [&](std::string_view, const Incoming& event) {
    sizes.push_back(event.envelope().getProbe().size());
  });
  auto publisher = make_client("source");
  settle();
  publisher->publish(
      "probe.big", [](Envelope::Builder e) { set_probe(e, kTooLarge); }, 1);
  publisher->publish(
      "probe.small", [](Envelope::Builder e) { set_probe(e, 8); }, 2);
  ASSERT_TRUE(reactor.run_until([&] { return !sizes.empty(); }, 5s));
  settle(100ms);
  EXPECT_EQ(sizes, std::vector<std::size_t>{8});
  EXPECT_EQ(publisher->counters().oversized_messages, 1u);
}

TEST_F(BusFixture, RequestOverTheBusLimitFailsAtOnceWithoutBeingSent) {
  int served = 0;
  auto server = make_client("echo");
  serve_and_wait(*server, [&](const Incoming&, Envelope::Builder reply) {
    ++served;
    reply.initAck();
    return true;
  });
  auto caller = make_client("caller");
  Reply big = caller->call(
      "echo", [](Envelope::Builder e) { set_probe(e, kTooLarge); }, RequestOptions{.deadline = 2s});
  EXPECT_FALSE(big.message);
  EXPECT_EQ(big.error_kind(), Error::Kind::INVALID);
  EXPECT_NE(big.error_text().find("request too large ("), std::string::npos) << big.error_text();
  EXPECT_EQ(caller->counters().oversized_messages, 1u);
  Reply small = caller->call("echo", [](Envelope::Builder e) { e.initStatusRequest(); });
  EXPECT_TRUE(small.ok()) << small.error_text();
  EXPECT_EQ(served, 1);
}

}  // namespace
}  // namespace mp::bus
