#include "board_feeds.h"

#include <map>
#include <optional>

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

BoardFeeds::BoardFeeds(mp::bus::Client& client, StationBoard& board, StationBoard::Publish publish,
                       AccountDirectory& accounts, std::function<void()> accounts_changed)
    : client_(client),
      board_(board),
      publish_(std::move(publish)),
      accounts_(accounts),
      accounts_changed_(std::move(accounts_changed)) {
  sessions_ = std::make_unique<mp::bus::Replica>(
      client, "session", "session",
      [](const Incoming& page) -> std::optional<mp::schema::SnapshotResponse::Reader> {
        auto e = page.envelope();
        if (!e.isSessionSnapshot()) return std::nullopt;
        return e.getSessionSnapshot().getInfo();
      },
      mp::bus::Replica::Callbacks{
          .on_snapshot =
              [this](const Incoming& snapshot, std::uint64_t) {
                auto e = snapshot.envelope();
                if (!e.isSessionSnapshot()) return;
                board_.session_snapshot(e.getSessionSnapshot());
                std::map<std::string, Account> now;
                for (auto user : e.getSessionSnapshot().getUsers()) {
                  now.insert(AccountDirectory::from_wire(user));
                }
                accounts_.replace(std::move(now));
                if (accounts_changed_) accounts_changed_();
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
                  auto [name, account] = AccountDirectory::from_wire(e.getUserUpdate().getUser());
                  if (e.getUserUpdate().getRemoved()) {
                    accounts_.remove(name);
                  } else {
                    accounts_.set(name, std::move(account));
                  }
                  if (accounts_changed_) accounts_changed_();
                }
              },
      });
  policy_ = std::make_unique<mp::bus::Replica>(
      client, "policy", "policy",
      [](const Incoming& page) -> std::optional<mp::schema::SnapshotResponse::Reader> {
        auto e = page.envelope();
        if (!e.isPolicySnapshot()) return std::nullopt;
        return e.getPolicySnapshot().getInfo();
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
