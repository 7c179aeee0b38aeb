// Instant messages: an operator's text shown in the sessions of the listed stations (by each
// session's agent), and the students' answers published as events on "session.reply".
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "desktops.h"
#include "envelope.capnp.h"
#include "session_bus.h"
#include "session_store.h"

namespace mp::session {

class MessageRelay {
 public:
  // `clock`: CLOCK_REALTIME in nanoseconds (message ids start there, and answers are stamped).
  MessageRelay(SessionStore& store, Desktops& desktops, Publish publish,
               std::function<std::int64_t()> clock);

  // Per station a message id, or 0 and why it was not shown. `operator_name` (the request's
  // header) signs it when the request names no sender.
  void send(mp::schema::SendMessage::Reader body, const std::string& operator_name,
            mp::schema::Envelope::Builder reply);
  // The student of session `session_id` answered message `message_id`.
  void agent_replied(std::uint64_t session_id, std::uint64_t message_id, const std::string& text);

 private:
  SessionStore& store_;
  Desktops& desktops_;
  Publish publish_;
  std::function<std::int64_t()> clock_;
  std::uint64_t next_message_id_;
};

}  // namespace mp::session
