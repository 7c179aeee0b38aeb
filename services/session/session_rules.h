// The rules of one session per user and one per station: which session a logon gets (its own,
// reactivated; the user's disconnected one, moved here from another station; or a new one), and
// how a session ends. Pure bookkeeping on the store within a Mutation: no desktop is touched
// (the desktops follow the committed changes).
#pragma once

#include <string>
#include <variant>

#include "session_store.h"
#include "state_journal.h"

namespace mp::session {

// A logon needs a session that does not exist yet: its desktop must be started first.
struct NewSession {};
// The session a logon gets, why it gets none, or that a new one must be started.
using OpenedSession = std::variant<SessionRecord, std::string, NewSession>;

// `user`'s session on the attached `station`: the station's own (reactivated if disconnected),
// or the user's disconnected session from another station (it moves here, recording where it
// came from); refused if the station holds another user's active session or the user is
// active elsewhere. Another user's disconnected session on the station stays.
OpenedSession open_session(SessionStore& store, Mutation& m, Station station,
                           const std::string& user);

// Ends `record` and frees its station.
void close_session(SessionStore& store, Mutation& m, SessionRecord record);

}  // namespace mp::session
