// Shared domain lists, named by their content. An effective policy refers to its web list by
// key instead of carrying it, so a 10,000-domain list costs one copy on the bus however many
// stations use it, and every snapshot stays small. Consumers fetch a list page by page
// (DomainListFetch) and cache it by key: the same key always means the same domains.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace mp::policy {

struct ListRef {
  std::string key;  // empty for the empty list
  std::uint32_t count = 0;
};

class DomainLists {
 public:
  // The key of a sorted, unique list: SHA-256 (hex) of its domains, each followed by '\n'.
  static std::string key_of(const std::vector<std::string>& domains);

  // Remembers `domains` (if not empty) so that it can be fetched, and returns its reference.
  ListRef add(const std::vector<std::string>& domains);

  // The list with `key`, or null if none is held.
  const std::vector<std::string>* find(const std::string& key) const;

  // Forgets every list not in `keep`. A consumer still fetching a forgotten list gets "unknown
  // list" and will meet the newer key in the update that replaced it.
  void retain_only(const std::vector<std::string>& keep);

  std::size_t size() const { return lists_.size(); }

 private:
  std::map<std::string, std::shared_ptr<const std::vector<std::string>>> lists_;
  // The list added last: stations mostly share one list, and comparing is cheaper than hashing.
  std::shared_ptr<const std::vector<std::string>> last_;
  std::string last_key_;
};

}  // namespace mp::policy
