// mp-session's records as they go on the wire (schemas/session.capnp).
#pragma once

#include "session.capnp.h"
#include "session_store.h"

namespace mp::session {

void fill(mp::schema::Station::Builder out, const Station& station);
void fill(mp::schema::User::Builder out, const User& user);
void fill(mp::schema::SessionRecord::Builder out, const SessionRecord& record);

}  // namespace mp::session
