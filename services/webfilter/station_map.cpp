#include "station_map.h"

#include <pwd.h>
#include <unistd.h>

#include <vector>

namespace mp::webfilter {

using mp::schema::SessionState;

namespace {

std::string text(capnp::Text::Reader t) { return std::string(t.begin(), t.size()); }

std::size_t buffer_size() {
  long size = sysconf(_SC_GETPW_R_SIZE_MAX);
  return size > 0 ? static_cast<std::size_t>(size) : 16384;
}

}  // namespace

std::optional<std::string> SystemUsers::name_of(uid_t uid) {
  auto now = std::chrono::steady_clock::now();
  if (auto it = names_.find(uid); it != names_.end() && it->second.expires > now) {
    return it->second.name;
  }
  std::vector<char> buffer(buffer_size());
  passwd entry;
  passwd* found = nullptr;
  std::optional<std::string> name;
  if (getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) == 0 && found) {
    name = found->pw_name;
  }
  if (names_.size() > 65536) names_.clear();
  names_[uid] = Entry{name, now + ttl_};
  return name;
}

std::optional<uid_t> SystemUsers::uid_of(const std::string& name) {
  std::vector<char> buffer(buffer_size());
  passwd entry;
  passwd* found = nullptr;
  if (getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found) != 0 || !found) {
    return std::nullopt;
  }
  return found->pw_uid;
}

void StationMap::apply(mp::schema::SessionRecord::Reader record) {
  std::uint64_t id = record.getId();
  if (record.getState() == SessionState::ENDED || record.getState() == SessionState::UNKNOWN) {
    sessions_.erase(id);
    return;
  }
  Session session;
  session.user = text(record.getUnixUser());
  if (session.user.empty()) session.user = text(record.getUser());
  session.station = text(record.getStationKey());
  session.state = record.getState();
  session.started_at_ns = record.getStartedAtNs();
  sessions_[id] = std::move(session);
}

void StationMap::rebuild() {
  // Per user: an active session wins over a disconnected one, then the newest.
  std::unordered_map<std::string, const Session*> best;
  for (const auto& [id, session] : sessions_) {
    if (session.user.empty() || session.station.empty()) continue;
    const Session*& current = best[session.user];
    auto rank = [](const Session& s) {
      return std::pair(s.state == SessionState::ACTIVE ? 1 : 0, s.started_at_ns);
    };
    if (!current || rank(session) > rank(*current)) current = &session;
  }
  station_by_user_.clear();
  by_uid_.clear();
  for (const auto& [user, session] : best) station_by_user_[user] = session->station;
}

void StationMap::apply_snapshot(mp::schema::Snapshot::Reader snapshot) {
  sessions_.clear();
  for (auto record : snapshot.getSessions()) apply(record);
  users_.clear();
  uid_by_name_.clear();
  for (auto user : snapshot.getUsers()) users_.insert(text(user.getName()));
  rebuild();
  synced_ = true;
}

void StationMap::apply_user_update(mp::schema::UserUpdate::Reader update) {
  std::string name = text(update.getUser().getName());
  // A removed and re-added account may have a new uid: ask NSS again.
  uid_by_name_.erase(name);
  if (update.getRemoved()) {
    users_.erase(name);
  } else {
    users_.insert(name);
  }
}

void StationMap::apply_update(mp::schema::SessionUpdate::Reader update) {
  apply(update.getSession());
  rebuild();
}

std::string_view StationMap::station_of_user(const std::string& name) const {
  auto it = station_by_user_.find(name);
  return it == station_by_user_.end() ? std::string_view{} : std::string_view(it->second);
}

std::string_view StationMap::station_of(uid_t uid) {
  if (station_by_user_.empty()) return {};
  auto now = std::chrono::steady_clock::now();
  auto it = by_uid_.find(uid);
  if (it == by_uid_.end() || it->second.expires <= now) {
    if (by_uid_.size() > 65536) by_uid_.clear();
    auto name = directory_.name_of(uid);
    std::string station(name ? station_of_user(*name) : std::string_view{});
    // Accounts are renamed rarely; a minute of staleness is the price of no NSS per request.
    it = by_uid_.insert_or_assign(uid, Cached{std::move(station), now + std::chrono::seconds(60)})
             .first;
  }
  return it->second.station;
}

std::set<uid_t> StationMap::station_uids() {
  std::set<uid_t> uids;
  auto add = [&](const std::string& name) {
    if (name.empty()) return;
    auto known = uid_by_name_.find(name);
    if (known != uid_by_name_.end()) {
      uids.insert(known->second);
      return;
    }
    if (auto uid = directory_.uid_of(name)) {
      uid_by_name_.emplace(name, *uid);
      uids.insert(*uid);
    }
  };
  for (const auto& name : users_) add(name);
  for (const auto& [user, station] : station_by_user_) add(user);
  return uids;
}

}  // namespace mp::webfilter
