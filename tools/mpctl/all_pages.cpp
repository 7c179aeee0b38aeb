#include "all_pages.h"

#include <set>
#include <vector>

#include "mp/bus/joined_pages.h"

namespace mp::mpctl {

mp::bus::Reply all_pages(
    const std::function<mp::bus::Reply(const std::string& cursor)>& ask,
    const std::function<std::optional<std::string>(mp::schema::Envelope::Reader)>& next_cursor) {
  std::vector<mp::bus::Incoming> pages;
  std::set<std::string> cursors_seen;  // a cursor that comes back would page forever
  std::string cursor;
  for (;;) {
    mp::bus::Reply reply = ask(cursor);
    if (!reply.ok()) return reply;
    auto next = next_cursor(reply.envelope());
    if (!next) return reply;
    pages.push_back(std::move(*reply.message));
    if (next->empty()) break;
    if (!cursors_seen.insert(*next).second) {
      return mp::bus::Reply{std::nullopt, mp::schema::Error::Kind::FAILED,
                            "the answer's pages go round in circles (cursor '" + *next + "')"};
    }
    cursor = std::move(*next);
  }
  return mp::bus::Reply{mp::bus::join_pages(pages), mp::schema::Error::Kind::UNKNOWN, {}};
}

}  // namespace mp::mpctl
