// Password hashing for the local user store: Argon2id through libsodium's crypto_pwhash_str.
// Only the encoded hash ("$argon2id$v=19$m=...,t=...,p=1$salt$hash") is ever kept.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mp::session {

struct PasswordCost {
  unsigned long long ops_limit;
  std::size_t mem_limit;

  // libsodium's "interactive" level: about 64 MiB and a fraction of a second per hash.
  static PasswordCost interactive();
  // The cheapest Argon2id libsodium allows; for tests that hash a lot.
  static PasswordCost minimum();
};

class PasswordHasher {
 public:
  // Initialises libsodium (safe to call more than once) and prepares a decoy hash, so that
  // checking a user who does not exist costs as much as checking one who does.
  explicit PasswordHasher(PasswordCost cost = PasswordCost::interactive());

  // Returns the encoded Argon2id hash with a fresh random salt. Throws if libsodium cannot
  // allocate the memory the cost asks for.
  std::string hash(std::string_view password) const;

  // Constant-time check of `password` against an encoded hash; false for a malformed hash.
  bool verify(std::string_view encoded_hash, std::string_view password) const;

  // Spends one verification against the decoy hash and returns false: used when the user
  // does not exist, so the answer takes as long as a wrong password would.
  bool verify_decoy(std::string_view password) const;

 private:
  PasswordCost cost_;
  std::string decoy_hash_;
};

}  // namespace mp::session
