// The agent's protocol with mp-session, independent of X: heartbeats that say which state is
// applied, the desired screen state applied as a whole, messages opened, answers sent back.
// mp-session answers a heartbeat naming another state than its own with that state, so an
// agent that restarted and a session service that restarted both converge without a handshake.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>

#include "agent_screen.h"
#include "mp/bus/frame.h"
#include "mp/bus/reactor.h"
#include "session_link.h"
#include "thumbnail_streams.h"

namespace mp::agent {

inline constexpr std::chrono::milliseconds kHeartbeatInterval{250};

struct AgentIdentity {
  std::uint64_t session_id = 0;
  std::string display;  // as in $DISPLAY
  std::int32_t pid = 0;
};

// Sends one envelope body now; false if it could not go (mp-session away).
using SendBody = std::function<bool(const BodyBuilder&)>;

struct AgentCounters {
  std::uint64_t heartbeats_sent = 0;
  std::uint64_t states_applied = 0;
  std::uint64_t stale_states = 0;     // older than the one applied, from the same incarnation
  std::uint64_t ignored_bodies = 0;   // bodies the agent does not take
  std::uint64_t bad_messages = 0;     // bodies that could not be read
  std::uint64_t answers_dropped = 0;  // replies lost because too many waited for mp-session
};

// Applies an operator's input to the session's display (take control).
using InjectInput = std::function<void(capnp::List<mp::schema::InputEvent>::Reader)>;

class Agent {
 public:
  Agent(AgentIdentity identity, AgentScreen& screen, SendBody send);
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Heartbeats at once (retrying every 10 ms until the channel is up), then every 250 ms.
  void start(mp::bus::Reactor& reactor);
  // What serves thumbnail requests and remote input; without them those bodies are ignored.
  void set_thumbnails(ThumbnailStreams* thumbnails) { thumbnails_ = thumbnails; }
  void set_input(InjectInput inject) { inject_ = std::move(inject); }
  // Every body mp-session sends. Unknown bodies and unreadable ones are logged and ignored.
  void on_message(const mp::bus::Incoming& message);
  // One heartbeat, after sending answers that waited for mp-session. Returns whether it went.
  bool tick();

  std::uint64_t state_incarnation() const { return state_incarnation_; }
  std::uint64_t state_version() const { return state_version_; }
  const AgentCounters& counters() const { return counters_; }

 private:
  void apply_state(mp::schema::AgentState::Reader state);
  void show_message(mp::schema::AgentShowMessage::Reader message);
  void send_answer(BodyBuilder body);
  void send_waiting_answers();

  AgentIdentity identity_;
  AgentScreen& screen_;
  SendBody send_;
  std::uint64_t state_incarnation_ = 0;
  std::uint64_t state_version_ = 0;
  std::string shown_notice_;         // the notice the student has in front of them
  std::string acknowledged_notice_;  // not shown again until mp-session sends another one
  std::deque<BodyBuilder> waiting_answers_;
  mp::bus::Reactor::TimerId first_heartbeat_timer_ = 0;
  ThumbnailStreams* thumbnails_ = nullptr;
  InjectInput inject_;
  AgentCounters counters_;
};

}  // namespace mp::agent
