#include "message_relay.h"

#include <optional>
#include <vector>

#include "request_limits.h"
#include "validation.h"
#include "wire_text.h"

namespace mp::session {

namespace {

using mp::bus::set_error;
using mp::schema::Envelope;
using mp::schema::Error;
using mp::schema::SessionState;

constexpr std::size_t kMaxMessageBytes = 4096;
constexpr std::size_t kMaxSenderBytes = 128;

}  // namespace

MessageRelay::MessageRelay(SessionStore& store, Desktops& desktops, Publish publish,
                           std::function<std::int64_t()> clock)
    : store_(store),
      desktops_(desktops),
      publish_(std::move(publish)),
      clock_(std::move(clock)),
      // Message ids stay unique across restarts without being stored.
      next_message_id_(static_cast<std::uint64_t>(clock_())) {}

void MessageRelay::send(mp::schema::SendMessage::Reader body, const std::string& operator_name,
                        Envelope::Builder reply) {
  std::string message = wire_text(body.getText());
  std::string from = wire_text(body.getFrom());
  std::string e = message.empty() ? "text is empty" : check_text("text", message, kMaxMessageBytes);
  if (e.empty()) e = check_text("from", from, kMaxSenderBytes);
  if (e.empty() && body.getStations().size() > kMaxStationsPerRequest) e = "too many stations";
  std::vector<std::string> keys;
  for (auto key : body.getStations()) {
    if (!e.empty()) break;
    keys.push_back(wire_text(key));
    e = check_station_key(keys.back());
  }
  if (!e.empty()) {
    set_error(reply, Error::Kind::INVALID, e);
    return;
  }
  if (from.empty()) from = operator_name;
  if (auto oe = check_text("operator", from, kMaxSenderBytes); !oe.empty()) from = "teacher";
  // Empty list: every active session.
  if (keys.empty()) {
    for (const auto& record : store_.open_sessions()) {
      if (record.state == SessionState::ACTIVE) keys.push_back(record.station_key);
    }
  }
  auto delivered = reply.initSendMessageResult().initDelivered(static_cast<unsigned>(keys.size()));
  for (unsigned i = 0; i < keys.size(); ++i) {
    auto out = delivered[i];
    out.setStationKey(keys[i]);
    auto station = store_.station(keys[i]);
    std::optional<SessionRecord> record;
    if (station && station->session_id != 0) record = store_.session(station->session_id);
    if (!station) {
      out.setReason("no such station");
    } else if (!record || record->state != SessionState::ACTIVE) {
      out.setReason("no active session");
    } else {
      std::uint64_t id = ++next_message_id_;
      std::string reason;
      if (desktops_.show_message(record->id, id, from, message, &reason)) {
        out.setMessageId(id);
      } else {
        out.setReason(reason);
      }
    }
  }
}

void MessageRelay::agent_replied(std::uint64_t id, std::uint64_t message_id,
                                 const std::string& reply_text) {
  auto record = store_.session(id);
  if (!record || record->state == SessionState::ENDED) return;
  std::int64_t at = clock_();
  // An event, not state: no version.
  publish_(
      kReplyTopic,
      [&](Envelope::Builder e) {
        auto reply = e.initMessageReply();
        reply.setStationKey(record->station_key);
        reply.setUser(record->user);
        reply.setMessageId(message_id);
        reply.setText(reply_text);
        reply.setAtNs(at);
      },
      0);
}

}  // namespace mp::session
