// Keeps a StationBoard current from the bus: two Clone replicas (mp-session's "session",
// mp-policy's "policy"; each resyncs by itself when its authority restarts or a version is
// skipped) and the students' message replies (events on "session.reply", not state). The
// "session" replica also keeps the AccountDirectory current, and says when the accounts changed
// (so logins of changed accounts end at once).
#pragma once

#include <functional>
#include <memory>

#include "account_directory.h"
#include "event_broadcaster.h"
#include "mp/bus/client.h"
#include "mp/bus/replica.h"
#include "station_board.h"

namespace mp::dashboard {

class BoardFeeds {
 public:
  BoardFeeds(mp::bus::Client& client, StationBoard& board, StationBoard::Publish publish,
             AccountDirectory& accounts, std::function<void()> accounts_changed);
  void start();

 private:
  mp::bus::Client& client_;
  StationBoard& board_;
  StationBoard::Publish publish_;
  AccountDirectory& accounts_;
  std::function<void()> accounts_changed_;
  std::unique_ptr<mp::bus::Replica> sessions_;
  std::unique_ptr<mp::bus::Replica> policy_;
};

// A MessageReply as the "reply" server event's JSON.
nlohmann::json message_reply_json(mp::schema::MessageReply::Reader reply);

}  // namespace mp::dashboard
