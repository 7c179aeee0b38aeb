// mp-session's large answers in pages: the snapshot (topic "session") and the station, user and
// session lists. A page holds records up to a byte budget well under the bus's 1 MiB limit, so
// any number of stations crosses the bus (the unpaged snapshot passed 1 MiB at a few thousand
// stations, and then every replica failed to sync for good).
//
// The snapshot is stations (by key), then users (by name), then open sessions (by id). A page's
// `nextCursor` names the last record it holds — "station:KEY", "user:NAME", "session:ID" — and
// the next page starts after it; empty: the last page. Each page is read in one transaction and
// carries the state version it was read at; lib/bus Replica explains why pages at different
// versions plus the updates after the first page's version are the whole state.
#pragma once

#include <cstddef>
#include <string_view>

#include "envelope.capnp.h"
#include "session_store.h"

namespace mp::session {

// Records per page, in bytes as they go on the wire (estimated from their fields).
inline constexpr std::size_t kPageBudgetBytes = 256 * 1024;

// Each fills `reply` with the page after `cursor` ("" = the first page), or with error
// `invalid` for a cursor it cannot read (or one of another kind: a user cursor for stations).
// A page holds at least one record, so paging always moves on. The snapshot page is read in one
// transaction of its own.
void write_snapshot_page(SessionStore& store, std::string_view topic, std::string_view cursor,
                         mp::schema::Envelope::Builder reply,
                         std::size_t budget = kPageBudgetBytes);
void write_station_page(SessionStore& store, std::string_view cursor,
                        mp::schema::Envelope::Builder reply, std::size_t budget = kPageBudgetBytes);
void write_user_page(SessionStore& store, std::string_view cursor,
                     mp::schema::Envelope::Builder reply, std::size_t budget = kPageBudgetBytes);
void write_session_page(SessionStore& store, std::string_view cursor,
                        mp::schema::Envelope::Builder reply, std::size_t budget = kPageBudgetBytes);

}  // namespace mp::session
