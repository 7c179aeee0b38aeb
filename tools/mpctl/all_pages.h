// mpctl's reading of paged lists (stations, sessions, users): mp-session answers them in pages
// well under the bus's message limit; mpctl asks page after page and joins them
// (mp/bus/joined_pages.h), so its tables see one list however many stations there are.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "mp/bus/client.h"

namespace mp::mpctl {

// `ask(cursor)` sends one request ("" for the first page); `next_cursor(reply)` is the page's
// nextCursor, or nullopt when the reply is not the page wanted. Returns the pages joined, or the
// first reply that was not a page (to report as the failure).
mp::bus::Reply all_pages(
    const std::function<mp::bus::Reply(const std::string& cursor)>& ask,
    const std::function<std::optional<std::string>(mp::schema::Envelope::Reader)>& next_cursor);

}  // namespace mp::mpctl
