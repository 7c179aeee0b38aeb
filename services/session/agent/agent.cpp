#include "agent.h"

#include <spdlog/spdlog.h>

#include <kj/exception.h>

#include "text_bounds.h"

namespace mp::agent {

namespace {

using mp::schema::Envelope;

// Answers wait here while mp-session restarts; beyond this, the oldest go.
constexpr std::size_t kMaxWaitingAnswers = 64;

// All of a Text field, even past an embedded NUL (bounded_text drops the NUL).
std::string_view view(capnp::Text::Reader text) { return {text.begin(), text.size()}; }

}  // namespace

Agent::Agent(AgentIdentity identity, AgentScreen& screen, SendBody send)
    : identity_(std::move(identity)), screen_(screen), send_(std::move(send)) {
  screen_.set_answers(ScreenAnswers{
      .reply =
          [this](std::uint64_t message_id, std::string text) {
            std::string answer = bounded_text(text, kMaxAnswerChars, /*keep_newlines=*/false);
            spdlog::info("reply to message {} ({} characters)", message_id, utf8_length(answer));
            send_answer([message_id, answer](Envelope::Builder envelope) {
              auto reply = envelope.initAgentReply();
              reply.setMessageId(message_id);
              reply.setText(answer);
            });
          },
      .notice_acknowledged =
          [this] {
            spdlog::info("privacy notice acknowledged");
            acknowledged_notice_ = shown_notice_;
            shown_notice_.clear();
            send_answer([](Envelope::Builder envelope) { envelope.initAgentNoticeAcknowledged(); });
          },
  });
}

void Agent::start(mp::bus::Reactor& reactor) {
  reactor.every(kHeartbeatInterval, [this] {
    tick();
    screen_.process_pending();
  });
  // The channel connects asynchronously; the first heartbeat goes out the moment it can, so a
  // restarted agent gets its state (and a lock is back) within milliseconds, not a period.
  if (tick()) return;
  first_heartbeat_timer_ = reactor.every(std::chrono::milliseconds(10), [this, &reactor] {
    if (tick() || counters_.heartbeats_sent > 0) reactor.cancel(first_heartbeat_timer_);
    screen_.process_pending();
  });
}

bool Agent::tick() {
  send_waiting_answers();
  bool lock_shown = screen_.confirm_lock();
  bool sent = send_([this, lock_shown](Envelope::Builder envelope) {
    auto heartbeat = envelope.initAgentHeartbeat();
    heartbeat.setSessionId(identity_.session_id);
    heartbeat.setPid(identity_.pid);
    heartbeat.setDisplay(identity_.display);
    heartbeat.setStateIncarnation(state_incarnation_);
    heartbeat.setStateVersion(state_version_);
    heartbeat.setLockShown(lock_shown);
  });
  if (sent) ++counters_.heartbeats_sent;
  return sent;
}

void Agent::on_message(const mp::bus::Incoming& message) {
  try {
    auto envelope = message.envelope();
    switch (envelope.which()) {
      case Envelope::AGENT_STATE:
        apply_state(envelope.getAgentState());
        break;
      case Envelope::AGENT_SHOW_MESSAGE:
        show_message(envelope.getAgentShowMessage());
        break;
      case Envelope::AGENT_THUMBNAIL_REQUEST:
        if (thumbnails_ == nullptr) {
          ++counters_.ignored_bodies;
          break;
        }
        thumbnails_->request(envelope.getAgentThumbnailRequest());
        break;
      case Envelope::AGENT_INPUT:
        if (!inject_) {
          ++counters_.ignored_bodies;
          break;
        }
        inject_(envelope.getAgentInput().getEvents());
        break;
      default:
        ++counters_.ignored_bodies;
        spdlog::warn("ignored a '{}' from the session channel", mp::bus::body_name(envelope));
        break;
    }
  } catch (const kj::Exception& e) {
    ++counters_.bad_messages;
    spdlog::warn("unreadable message from the session channel: {}", e.getDescription().cStr());
  } catch (const std::exception& e) {
    ++counters_.bad_messages;
    spdlog::warn("unreadable message from the session channel: {}", e.what());
  }
  screen_.process_pending();
}

void Agent::apply_state(mp::schema::AgentState::Reader state) {
  std::uint64_t incarnation = state.getStateIncarnation();
  std::uint64_t version = state.getStateVersion();
  if (incarnation == state_incarnation_ && version < state_version_) {
    ++counters_.stale_states;
    return;
  }
  bool locked = state.getLocked();
  std::string lock_message =
      bounded_text(view(state.getLockMessage()), kMaxMessageChars, /*keep_newlines=*/true);
  std::string notice =
      bounded_text(view(state.getPrivacyNotice()), kMaxNoticeChars, /*keep_newlines=*/true);
  // Read everything before acting, so a bad field leaves the screen as it was.
  screen_.set_lock(locked, lock_message);
  if (notice.empty()) {
    acknowledged_notice_.clear();
    shown_notice_.clear();
    screen_.show_notice("");
  } else if (notice != acknowledged_notice_) {
    shown_notice_ = notice;
    screen_.show_notice(notice);
  }
  if (incarnation != state_incarnation_ || version != state_version_ ||
      counters_.states_applied == 0) {
    spdlog::info("state {}/{} applied: {}", incarnation, version, locked ? "locked" : "unlocked");
  }
  state_incarnation_ = incarnation;
  state_version_ = version;
  ++counters_.states_applied;
}

void Agent::show_message(mp::schema::AgentShowMessage::Reader message) {
  std::string from = bounded_text(view(message.getFrom()), kMaxSenderChars,
                                  /*keep_newlines=*/false);
  std::string text = bounded_text(view(message.getText()), kMaxMessageChars,
                                  /*keep_newlines=*/true);
  spdlog::info("message {} from '{}'", message.getMessageId(), from);
  screen_.show_message(message.getMessageId(), from, text);
}

void Agent::send_answer(BodyBuilder body) {
  waiting_answers_.push_back(std::move(body));
  if (waiting_answers_.size() > kMaxWaitingAnswers) {
    waiting_answers_.pop_front();
    ++counters_.answers_dropped;
    spdlog::warn("mp-session away too long: an answer was dropped");
  }
  send_waiting_answers();
}

void Agent::send_waiting_answers() {
  while (!waiting_answers_.empty() && send_(waiting_answers_.front())) {
    waiting_answers_.pop_front();
  }
}

}  // namespace mp::agent
