// The agent's protocol without a display: a recording screen, and the envelopes it sends read
// back through lib/bus framing as mp-session would read them.
#include <gtest/gtest.h>

#include <optional>

#include "agent.h"
#include "text_bounds.h"

namespace mp::agent {
namespace {

using mp::schema::Envelope;

class RecordingScreen : public AgentScreen {
 public:
  void set_answers(ScreenAnswers a) override { answers = std::move(a); }
  void set_lock(bool on, std::string_view message) override {
    locked = on;
    lock_message = std::string(message);
    ++lock_calls;
  }
  bool confirm_lock() override { return locked && grabs_held; }
  void show_message(std::uint64_t id, std::string_view from, std::string_view text) override {
    messages.push_back({id, std::string(from), std::string(text)});
  }
  void show_notice(std::string_view text) override {
    notice = std::string(text);
    ++notice_calls;
  }
  void process_pending() override {}

  struct Message {
    std::uint64_t id;
    std::string from, text;
  };
  ScreenAnswers answers;
  bool locked = false;
  bool grabs_held = true;
  std::string lock_message;
  int lock_calls = 0;
  std::vector<Message> messages;
  std::string notice;
  int notice_calls = 0;
};

class AgentProtocolTest : public ::testing::Test {
 protected:
  AgentProtocolTest()
      : agent_({.session_id = 9, .display = ":12", .pid = 1234}, screen_,
               [this](const BodyBuilder& body) {
                 if (!connected_) return false;
                 mp::bus::Outgoing out;
                 body(out.envelope());
                 auto decoded = mp::bus::Incoming::decode(out.to_frame(), mp::bus::Limits{});
                 sent_.push_back(std::move(*decoded));
                 return true;
               }) {}

  void deliver(const BodyBuilder& body) {
    mp::bus::Outgoing out;
    out.envelope().initHeader().setSource("session");
    body(out.envelope());
    agent_.on_message(*mp::bus::Incoming::decode(out.to_frame(), mp::bus::Limits{}));
  }
  void deliver_state(std::uint64_t incarnation, std::uint64_t version, bool locked,
                     std::string message = "", std::string notice = "") {
    deliver([&](Envelope::Builder e) {
      auto s = e.initAgentState();
      s.setStateIncarnation(incarnation);
      s.setStateVersion(version);
      s.setLocked(locked);
      s.setLockMessage(message);
      s.setPrivacyNotice(notice);
    });
  }
  Envelope::Reader last_sent() { return sent_.back().envelope(); }

  RecordingScreen screen_;
  bool connected_ = true;
  std::vector<mp::bus::Incoming> sent_;
  Agent agent_;
};

TEST_F(AgentProtocolTest, HeartbeatNamesTheSessionAndTheAppliedState) {
  ASSERT_TRUE(agent_.tick());
  auto h = last_sent().getAgentHeartbeat();
  EXPECT_EQ(h.getSessionId(), 9u);
  EXPECT_EQ(h.getPid(), 1234);
  EXPECT_EQ(std::string(h.getDisplay()), ":12");
  EXPECT_EQ(h.getStateIncarnation(), 0u);
  EXPECT_FALSE(h.getLockShown());

  deliver_state(77, 3, true, "Eyes up");
  EXPECT_TRUE(screen_.locked);
  EXPECT_EQ(screen_.lock_message, "Eyes up");
  agent_.tick();
  h = last_sent().getAgentHeartbeat();
  EXPECT_EQ(h.getStateIncarnation(), 77u);
  EXPECT_EQ(h.getStateVersion(), 3u);
  EXPECT_TRUE(h.getLockShown());
}

TEST_F(AgentProtocolTest, LockShownIsFalseWhileTheGrabsAreNotHeld) {
  screen_.grabs_held = false;
  deliver_state(1, 1, true);
  agent_.tick();
  EXPECT_FALSE(last_sent().getAgentHeartbeat().getLockShown());
}

TEST_F(AgentProtocolTest, OlderStateOfTheSameIncarnationIsIgnoredButANewIncarnationIsNot) {
  deliver_state(5, 10, true, "ten");
  deliver_state(5, 9, false);
  EXPECT_TRUE(screen_.locked);
  EXPECT_EQ(agent_.counters().stale_states, 1u);
  // A restarted mp-session numbers from scratch under a new incarnation.
  deliver_state(6, 1, false);
  EXPECT_FALSE(screen_.locked);
  EXPECT_EQ(agent_.state_incarnation(), 6u);
  EXPECT_EQ(agent_.state_version(), 1u);
}

TEST_F(AgentProtocolTest, LockMessageIsBounded) {
  deliver_state(1, 1, true, std::string(2000, 'm') + "\x1b");
  EXPECT_EQ(utf8_length(screen_.lock_message), kMaxMessageChars);
}

TEST_F(AgentProtocolTest, AcknowledgedNoticeIsNotShownAgainUntilANewOne) {
  deliver_state(1, 1, false, "", "You may be monitored.");
  EXPECT_EQ(screen_.notice, "You may be monitored.");
  screen_.answers.notice_acknowledged();
  EXPECT_TRUE(last_sent().isAgentNoticeAcknowledged());
  int calls = screen_.notice_calls;
  deliver_state(1, 2, false, "", "You may be monitored.");
  EXPECT_EQ(screen_.notice_calls, calls);
  deliver_state(1, 3, false, "", "New terms.");
  EXPECT_EQ(screen_.notice, "New terms.");
  deliver_state(1, 4, false);
  EXPECT_EQ(screen_.notice, "");
}

TEST_F(AgentProtocolTest, MessageIsShownBoundedAndTheReplyGoesBack) {
  deliver([](Envelope::Builder e) {
    auto m = e.initAgentShowMessage();
    m.setMessageId(31);
    m.setFrom("Ms. Lee");
    m.setText(std::string(900, 't'));
  });
  ASSERT_EQ(screen_.messages.size(), 1u);
  EXPECT_EQ(screen_.messages[0].id, 31u);
  EXPECT_EQ(screen_.messages[0].from, "Ms. Lee");
  EXPECT_EQ(utf8_length(screen_.messages[0].text), kMaxMessageChars);

  screen_.answers.reply(31, std::string(800, 'r'));
  auto reply = last_sent().getAgentReply();
  EXPECT_EQ(reply.getMessageId(), 31u);
  EXPECT_EQ(utf8_length(std::string(reply.getText())), kMaxAnswerChars);
}

TEST_F(AgentProtocolTest, AnswersWaitForMpSessionAndGoFirstWhenItIsBack) {
  connected_ = false;
  screen_.answers.reply(1, "first");
  screen_.answers.reply(2, "second");
  EXPECT_FALSE(agent_.tick());
  EXPECT_TRUE(sent_.empty());
  connected_ = true;
  ASSERT_TRUE(agent_.tick());
  ASSERT_EQ(sent_.size(), 3u);
  EXPECT_EQ(std::string(sent_[0].envelope().getAgentReply().getText()), "first");
  EXPECT_EQ(std::string(sent_[1].envelope().getAgentReply().getText()), "second");
  EXPECT_TRUE(sent_[2].envelope().isAgentHeartbeat());
}

TEST_F(AgentProtocolTest, BodiesTheAgentDoesNotTakeAreIgnored) {
  deliver([](Envelope::Builder e) { e.initStationDetach(); });
  deliver([](Envelope::Builder e) { e.initAgentHeartbeat(); });
  EXPECT_EQ(agent_.counters().ignored_bodies, 2u);
  EXPECT_EQ(screen_.lock_calls, 0);
  EXPECT_TRUE(sent_.empty());  // nothing answered on this channel
}

}  // namespace
}  // namespace mp::agent
