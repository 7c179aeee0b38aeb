// The privacy notice: shown in a user's sessions until the user acknowledged it once (stored per
// user), then never again.
#pragma once

#include <cstdint>
#include <string>

#include "desktops.h"
#include "session_store.h"

namespace mp::session {

inline constexpr const char* kDefaultPrivacyNotice =
    "This computer is monitored. Your activities may be seen by the teacher.";

class PrivacyNotice {
 public:
  // `text` empty: no notice.
  PrivacyNotice(SessionStore& store, Desktops& desktops, std::string text);

  // What a new or re-adopted desktop of `user` shows: the notice, or "" once acknowledged.
  std::string for_user(const std::string& user) const;
  // The student of session `session_id` dismissed it: stored, and gone from all their sessions.
  void acknowledged(std::uint64_t session_id);

 private:
  SessionStore& store_;
  Desktops& desktops_;
  std::string text_;
};

}  // namespace mp::session
