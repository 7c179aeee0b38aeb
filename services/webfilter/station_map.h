// Which station a Unix user is at, from mp-session's session records (snapshot + numbered
// updates). A user with a session that has not ended (active, or disconnected while the
// station is away) belongs to that session's station; everyone else to no station (""). Also
// who the multipoint users are (the snapshot's users + "session.user" updates): every one of
// them is under the web rules, at a station or not.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>

#include "session.capnp.h"

namespace mp::webfilter {

// Unix accounts: uid <-> name. The system one asks NSS (getpwuid_r/getpwnam_r); tests fake it.
class UserDirectory {
 public:
  virtual ~UserDirectory() = default;
  virtual std::optional<std::string> name_of(uid_t uid) = 0;
  virtual std::optional<uid_t> uid_of(const std::string& name) = 0;
};

class SystemUsers : public UserDirectory {
 public:
  // Names are cached for `ttl`, so a request costs no NSS lookup.
  explicit SystemUsers(std::chrono::seconds ttl = std::chrono::seconds(30)) : ttl_(ttl) {}
  std::optional<std::string> name_of(uid_t uid) override;
  std::optional<uid_t> uid_of(const std::string& name) override;

 private:
  struct Entry {
    std::optional<std::string> name;
    std::chrono::steady_clock::time_point expires;
  };
  std::chrono::seconds ttl_;
  std::unordered_map<uid_t, Entry> names_;
};

class StationMap {
 public:
  explicit StationMap(UserDirectory& users) : directory_(users) {}

  void apply_snapshot(mp::schema::Snapshot::Reader snapshot);
  void apply_update(mp::schema::SessionUpdate::Reader update);
  void apply_user_update(mp::schema::UserUpdate::Reader update);
  bool synced() const { return synced_; }

  // The station of the user's newest active (else disconnected) session; "" for none.
  std::string_view station_of(uid_t uid);
  std::string_view station_of_user(const std::string& name) const;
  // Unix uids of every multipoint user and of every user at a station now (for the nftables
  // rules); names without a Unix account are skipped.
  std::set<uid_t> station_uids();
  std::size_t sessions() const { return sessions_.size(); }
  std::size_t users() const { return users_.size(); }

 private:
  struct Session {
    std::string user;  // the Unix user: unixUser if set, else the multipoint user name
    std::string station;
    mp::schema::SessionState state = mp::schema::SessionState::UNKNOWN;
    std::int64_t started_at_ns = 0;
  };
  void apply(mp::schema::SessionRecord::Reader record);
  void rebuild();

  UserDirectory& directory_;
  bool synced_ = false;
  // uid -> station, so a request costs one hash lookup; cleared whenever sessions change.
  struct Cached {
    std::string station;
    std::chrono::steady_clock::time_point expires;
  };
  std::unordered_map<uid_t, Cached> by_uid_;
  std::unordered_map<std::uint64_t, Session> sessions_;  // by session id, not ended
  std::unordered_map<std::string, std::string> station_by_user_;
  std::set<std::string> users_;  // multipoint user names
  // name -> uid, so a change costs no NSS lookup per user; unknown names are asked again.
  std::unordered_map<std::string, uid_t> uid_by_name_;
};

}  // namespace mp::webfilter
