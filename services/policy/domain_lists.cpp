#include "domain_lists.h"

#include <sodium.h>

#include <set>

namespace mp::policy {

std::string DomainLists::key_of(const std::vector<std::string>& domains) {
  // Picks the fastest implementation; idempotent and thread-safe.
  [[maybe_unused]] static const bool initialised = sodium_init() >= 0;
  crypto_hash_sha256_state state;
  crypto_hash_sha256_init(&state);
  static constexpr unsigned char kNewline = '\n';
  for (const auto& domain : domains) {
    crypto_hash_sha256_update(&state, reinterpret_cast<const unsigned char*>(domain.data()),
                              domain.size());
    crypto_hash_sha256_update(&state, &kNewline, 1);
  }
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_final(&state, digest);
  char hex[2 * crypto_hash_sha256_BYTES + 1];
  sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
  return hex;
}

ListRef DomainLists::add(const std::vector<std::string>& domains) {
  if (domains.empty()) return {};
  auto count = static_cast<std::uint32_t>(domains.size());
  if (last_ && *last_ == domains && lists_.contains(last_key_)) return {last_key_, count};
  std::string key = key_of(domains);
  auto it = lists_.find(key);
  if (it == lists_.end()) {
    it = lists_.emplace(key, std::make_shared<const std::vector<std::string>>(domains)).first;
  }
  last_ = it->second;
  last_key_ = key;
  return {std::move(key), count};
}

const std::vector<std::string>* DomainLists::find(const std::string& key) const {
  auto it = lists_.find(key);
  return it == lists_.end() ? nullptr : it->second.get();
}

void DomainLists::retain_only(const std::vector<std::string>& keep) {
  std::set<std::string> wanted(keep.begin(), keep.end());
  std::erase_if(lists_, [&](const auto& entry) { return !wanted.contains(entry.first); });
}

}  // namespace mp::policy
