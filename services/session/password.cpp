#include "password.h"

#include <sodium.h>

#include <array>
#include <stdexcept>

namespace mp::session {

PasswordCost PasswordCost::interactive() {
  return {crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE};
}

PasswordCost PasswordCost::minimum() {
  return {crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
}

PasswordHasher::PasswordHasher(PasswordCost cost) : cost_(cost) {
  if (sodium_init() < 0) throw std::runtime_error("libsodium cannot be initialised");
  // A random password nobody knows: verifying anything against it fails, at full cost.
  std::array<unsigned char, 32> random{};
  randombytes_buf(random.data(), random.size());
  std::array<char, sizeof random * 2 + 1> hex{};
  sodium_bin2hex(hex.data(), hex.size(), random.data(), random.size());
  decoy_hash_ = hash(std::string_view(hex.data(), random.size() * 2));
  sodium_memzero(random.data(), random.size());
  sodium_memzero(hex.data(), hex.size());
}

std::string PasswordHasher::hash(std::string_view password) const {
  std::array<char, crypto_pwhash_STRBYTES> out{};
  if (crypto_pwhash_str_alg(out.data(), password.data(), password.size(), cost_.ops_limit,
                            cost_.mem_limit, crypto_pwhash_ALG_ARGON2ID13) != 0) {
    throw std::runtime_error("password hashing ran out of memory");
  }
  return std::string(out.data());
}

bool PasswordHasher::verify(std::string_view encoded_hash, std::string_view password) const {
  // crypto_pwhash_str_verify wants a NUL-terminated string of at most STRBYTES.
  if (encoded_hash.size() >= crypto_pwhash_STRBYTES) return false;
  std::array<char, crypto_pwhash_STRBYTES> terminated{};
  encoded_hash.copy(terminated.data(), encoded_hash.size());
  return crypto_pwhash_str_verify(terminated.data(), password.data(), password.size()) == 0;
}

bool PasswordHasher::verify_decoy(std::string_view password) const {
  verify(decoy_hash_, password);
  return false;
}

}  // namespace mp::session
