#include "snapshot_pages.h"

#include <charconv>
#include <optional>
#include <string>
#include <vector>

#include "mp/bus/frame.h"
#include "wire_records.h"

namespace mp::session {

namespace {

using mp::schema::Envelope;
using mp::schema::Error;

enum class Section { stations = 0, users = 1, sessions = 2 };

constexpr std::string_view kStationPrefix = "station:";
constexpr std::string_view kUserPrefix = "user:";
constexpr std::string_view kSessionPrefix = "session:";

// Where a page starts: after the record `after` of `section`; no cursor: at the beginning.
struct Cursor {
  Section section = Section::stations;
  std::string after;           // a station key or user name
  std::uint64_t after_id = 0;  // a session id
};

std::optional<Cursor> parse_cursor(std::string_view text) {
  auto starts = [&](std::string_view prefix) { return text.substr(0, prefix.size()) == prefix; };
  if (starts(kStationPrefix)) {
    return Cursor{Section::stations, std::string(text.substr(kStationPrefix.size())), 0};
  }
  if (starts(kUserPrefix)) {
    return Cursor{Section::users, std::string(text.substr(kUserPrefix.size())), 0};
  }
  if (starts(kSessionPrefix)) {
    std::string_view digits = text.substr(kSessionPrefix.size());
    Cursor cursor{Section::sessions, {}, 0};
    auto [end, error] =
        std::from_chars(digits.data(), digits.data() + digits.size(), cursor.after_id);
    if (error != std::errc() || end != digits.data() + digits.size() || digits.empty()) {
      return std::nullopt;
    }
    return cursor;
  }
  return std::nullopt;
}

// Wire bytes of a text: its pointer and its NUL-terminated body padded to words.
std::size_t text_bytes(const std::string& s) { return 8 + (s.size() + 1 + 7) / 8 * 8; }

template <typename Wire>
constexpr std::size_t struct_bytes() {
  return (Wire::_capnpPrivate::dataWordSize + Wire::_capnpPrivate::pointerCount) * 8;
}

std::size_t wire_bytes(const Station& s) {
  return struct_bytes<mp::schema::Station>() + struct_bytes<mp::schema::Capabilities>() +
         text_bytes(s.key) + text_bytes(s.name) + text_bytes(s.transport) +
         text_bytes(s.client_name) + text_bytes(s.address) + text_bytes(s.showing);
}

std::size_t wire_bytes(const User& u) {
  return struct_bytes<mp::schema::User>() + text_bytes(u.name);
}

std::size_t wire_bytes(const SessionRecord& r) {
  return struct_bytes<mp::schema::SessionRecord>() + text_bytes(r.station_key) +
         text_bytes(r.user) + text_bytes(r.display) + text_bytes(r.unix_user) +
         text_bytes(r.xauthority) + text_bytes(r.moved_from);
}

bool after(const Station& s, const Cursor& c) { return s.key > c.after; }
bool after(const User& u, const Cursor& c) { return u.name > c.after; }
bool after(const SessionRecord& r, const Cursor& c) { return r.id > c.after_id; }

std::string cursor_of(const Station& s) { return std::string(kStationPrefix) + s.key; }
std::string cursor_of(const User& u) { return std::string(kUserPrefix) + u.name; }
std::string cursor_of(const SessionRecord& r) {
  return std::string(kSessionPrefix) + std::to_string(r.id);
}

// Builds one page from sections in order, within a byte budget.
class PageBuilder {
 public:
  PageBuilder(std::optional<Cursor> start, std::size_t budget)
      : start_(std::move(start)), budget_(budget) {}

  // The records of one section (ordered as the store returns them) that go on this page. Takes
  // nothing once the page is full; at least one record per page whatever its size.
  template <typename Record>
  std::vector<const Record*> take(Section section, const std::vector<Record>& all) {
    std::vector<const Record*> out;
    if (full_) return out;
    if (start_ && static_cast<int>(section) < static_cast<int>(start_->section)) return out;
    bool resume = start_ && start_->section == section;
    for (const Record& record : all) {
      if (resume && !after(record, *start_)) continue;
      std::size_t bytes = wire_bytes(record);
      if (used_ + bytes > budget_ && taken_ > 0) {
        full_ = true;
        break;
      }
      used_ += bytes;
      ++taken_;
      out.push_back(&record);
      next_cursor_ = cursor_of(record);
    }
    return out;
  }
  // Whether a section after `section` is still to be read for this page.
  bool wants(Section section) const {
    return !full_ && (!start_ || static_cast<int>(section) >= static_cast<int>(start_->section));
  }
  // Empty once every section was read to its end.
  std::string next_cursor() const { return full_ ? next_cursor_ : std::string(); }

 private:
  std::optional<Cursor> start_;
  std::size_t budget_;
  std::size_t used_ = 0;
  std::size_t taken_ = 0;
  bool full_ = false;
  std::string next_cursor_;
};

template <typename WireList, typename Record>
void fill_list(WireList list, const std::vector<const Record*>& records) {
  for (unsigned i = 0; i < records.size(); ++i) fill(list[i], *records[i]);
}

// The cursor of a request, checked: nullopt for the first page; false when unreadable or of
// another kind than `only` (the lists accept their own kind only).
bool read_cursor(std::string_view text, std::optional<Section> only, std::optional<Cursor>* out,
                 Envelope::Builder reply) {
  if (text.empty()) return true;
  auto cursor = parse_cursor(text);
  if (!cursor || (only && cursor->section != *only)) {
    std::string shown(text.substr(0, 80));
    for (char& c : shown) {
      if (static_cast<unsigned char>(c) < 0x20) c = '?';
    }
    mp::bus::set_error(reply, Error::Kind::INVALID, "unknown cursor '" + shown + "'");
    return false;
  }
  *out = std::move(cursor);
  return true;
}

}  // namespace

void write_snapshot_page(SessionStore& store, std::string_view topic, std::string_view cursor,
                         Envelope::Builder reply, std::size_t budget) {
  std::optional<Cursor> start;
  if (!read_cursor(cursor, std::nullopt, &start, reply)) return;
  PageBuilder page(start, budget);
  // One transaction: the version and the records describe the same state.
  SessionStore::Transaction transaction(store);
  std::uint64_t version = store.state_version();
  std::vector<Station> stations;
  std::vector<User> users;
  std::vector<SessionRecord> sessions;
  std::vector<const Station*> station_page;
  std::vector<const User*> user_page;
  std::vector<const SessionRecord*> session_page;
  if (page.wants(Section::stations)) {
    stations = store.stations();
    station_page = page.take(Section::stations, stations);
  }
  if (page.wants(Section::users)) {
    users = store.users();
    user_page = page.take(Section::users, users);
  }
  if (page.wants(Section::sessions)) {
    sessions = store.open_sessions();
    session_page = page.take(Section::sessions, sessions);
  }
  auto out = reply.initSessionSnapshot();
  auto info = out.initInfo();
  info.setTopic(std::string(topic));
  info.setVersion(version);
  info.setNextCursor(page.next_cursor());
  fill_list(out.initStations(static_cast<unsigned>(station_page.size())), station_page);
  fill_list(out.initUsers(static_cast<unsigned>(user_page.size())), user_page);
  fill_list(out.initSessions(static_cast<unsigned>(session_page.size())), session_page);
}

namespace {

// One section as its own paged list: the rows the store has now, from the cursor on, as many
// as the budget takes; `fill` puts them and the next cursor into the reply.
template <typename Load, typename Fill>
void write_section_page(Section section, std::string_view cursor, Envelope::Builder reply,
                        std::size_t budget, Load load, Fill fill) {
  std::optional<Cursor> start;
  if (!read_cursor(cursor, section, &start, reply)) return;
  PageBuilder page(start, budget);
  auto rows = load();
  auto taken = page.take(section, rows);
  fill(taken, page.next_cursor());
}

}  // namespace

void write_station_page(SessionStore& store, std::string_view cursor, Envelope::Builder reply,
                        std::size_t budget) {
  write_section_page(
      Section::stations, cursor, reply, budget, [&] { return store.stations(); },
      [&](const auto& taken, const auto& next) {
        auto out = reply.initStationList();
        fill_list(out.initStations(static_cast<unsigned>(taken.size())), taken);
        out.setNextCursor(next);
      });
}

void write_user_page(SessionStore& store, std::string_view cursor, Envelope::Builder reply,
                     std::size_t budget) {
  write_section_page(
      Section::users, cursor, reply, budget, [&] { return store.users(); },
      [&](const auto& taken, const auto& next) {
        auto out = reply.initUserList();
        fill_list(out.initUsers(static_cast<unsigned>(taken.size())), taken);
        out.setNextCursor(next);
      });
}

void write_session_page(SessionStore& store, std::string_view cursor, Envelope::Builder reply,
                        std::size_t budget) {
  write_section_page(
      Section::sessions, cursor, reply, budget, [&] { return store.open_sessions(); },
      [&](const auto& taken, const auto& next) {
        auto out = reply.initSessionList();
        fill_list(out.initSessions(static_cast<unsigned>(taken.size())), taken);
        out.setNextCursor(next);
      });
}

}  // namespace mp::session
