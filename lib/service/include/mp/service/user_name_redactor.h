// What a log line may say about the name someone typed at a logon. People type passwords into
// the name field, so a name that is no account's is never logged as typed: it becomes
// "unknown#" and 8 hex digits of a keyed hash (SipHash, a random key per process), which still
// shows that several attempts used the same name without revealing it. Account names are logged
// as they are. mp-session, mp-rdp and mp-dashboard each own one.
#pragma once

#include <array>
#include <string>
#include <string_view>

namespace mp::service {

class UserNameRedactor {
 public:
  static constexpr std::size_t kKeyBytes = 16;
  UserNameRedactor();  // a random key
  explicit UserNameRedactor(const std::array<unsigned char, kKeyBytes>& key) : key_(key) {}

  // `name` if it is an account's, else its hash.
  std::string for_log(std::string_view name, bool is_account) const;
  // "unknown#1a2b3c4d".
  std::string hashed(std::string_view name) const;

 private:
  std::array<unsigned char, kKeyBytes> key_{};
};

}  // namespace mp::service
