#include "mp/service/user_name_redactor.h"

#include <sodium.h>

#include <cstdio>
#include <stdexcept>

namespace mp::service {

static_assert(UserNameRedactor::kKeyBytes == crypto_shorthash_KEYBYTES);

UserNameRedactor::UserNameRedactor() {
  if (sodium_init() < 0) throw std::runtime_error("libsodium cannot be initialised");
  randombytes_buf(key_.data(), key_.size());
}

std::string UserNameRedactor::for_log(std::string_view name, bool is_account) const {
  return is_account ? std::string(name) : hashed(name);
}

std::string UserNameRedactor::hashed(std::string_view name) const {
  unsigned char hash[crypto_shorthash_BYTES];
  crypto_shorthash(hash, reinterpret_cast<const unsigned char*>(name.data()), name.size(),
                   key_.data());
  char text[16];
  std::snprintf(text, sizeof text, "%02x%02x%02x%02x", hash[0], hash[1], hash[2], hash[3]);
  return std::string("unknown#") + text;
}

}  // namespace mp::service
