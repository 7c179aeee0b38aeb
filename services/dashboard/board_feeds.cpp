#include "board_feeds.h"
#include "capnp_text.h"

namespace mp::dashboard {

using mp::bus::Incoming;
using nlohmann::json;

namespace {}  // namespace

json message_reply_json(mp::schema::MessageReply::Reader reply) {
  return json{{"station", text(reply.getStationKey())},
              {"user", text(reply.getUser())},
              {"message_id", reply.getMessageId()},
              {"text", text(reply.getText())},
              {"at_ms", reply.getAtNs() / 1000000}};
}

BoardFeeds::BoardFeeds(mp::bus::Client& client, StationBoard& board, StationBoard::Publish publish)
    : client_(client), board_(board), publish_(std::move(publish)) {
  sessions_ = std::make_unique<mp::bus::Replica>(
      client, "session", "session",
      [](const Incoming& snapshot) -> std::uint64_t {
        auto e = snapshot.envelope();
        return e.isSessionSnapshot() ? e.getSessionSnapshot().getInfo().getVersion() : 0;
      },
      mp::bus::Replica::Callbacks{
          .on_snapshot =
              [this](const Incoming& snapshot, std::uint64_t) {
                auto e = snapshot.envelope();
                if (e.isSessionSnapshot()) board_.session_snapshot(e.getSessionSnapshot());
              },
          .on_update =
              [this](std::string_view, const Incoming& update) {
                auto e = update.envelope();
                if (e.isStationUpdate()) {
                  board_.station_update(e.getStationUpdate());
                } else if (e.isSessionUpdate()) {
                  board_.session_update(e.getSessionUpdate());
                } else if (e.isUserUpdate()) {
                  board_.user_update(e.getUserUpdate());
                }
              },
      });
  policy_ = std::make_unique<mp::bus::Replica>(
      client, "policy", "policy",
      [](const Incoming& snapshot) -> std::uint64_t {
        auto e = snapshot.envelope();
        return e.isPolicySnapshot() ? e.getPolicySnapshot().getInfo().getVersion() : 0;
      },
      mp::bus::Replica::Callbacks{
          .on_snapshot =
              [this](const Incoming& snapshot, std::uint64_t) {
                auto e = snapshot.envelope();
                if (e.isPolicySnapshot()) board_.policy_snapshot(e.getPolicySnapshot());
              },
          .on_update =
              [this](std::string_view, const Incoming& update) {
                auto e = update.envelope();
                if (e.isEffectivePolicy()) board_.effective_update(e.getEffectivePolicy());
              },
      });
}

void BoardFeeds::start() {
  sessions_->start();
  policy_->start();
  // Replies carry no state version: the replica would drop them, so they get their own
  // subscription.
  client_.subscribe("session.reply", [this](std::string_view, const Incoming& event) {
    auto e = event.envelope();
    if (!e.isMessageReply()) return;
    publish_({"reply", message_reply_json(e.getMessageReply())
                           .dump(-1, ' ', false, json::error_handler_t::replace)});
  });
}

}  // namespace mp::dashboard
