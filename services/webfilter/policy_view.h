// The effective web policy of every station, as mp-policy publishes it (snapshot "policy" +
// numbered updates on "policy.effective"), compiled into WebRules for the proxy. Stations the
// policy does not list, and users at no station, get the policy of stationKey "" (all stations).
//
// Since schema 0.2 a policy names its domain list by content key (DomainListRef) instead of
// carrying it. Lists are compiled once per key and shared by every station that names it; the
// owner (WebfilterService) fetches missing_lists() and hands them to list_arrived(). While a
// station's new list is on its way, its previous rules stay in force; a station that has none
// yet refuses with "still loading" (fail closed).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "host_rules.h"
#include "policy.capnp.h"

namespace mp::webfilter {

class PolicyView {
 public:
  void apply_snapshot(mp::schema::PolicySnapshot::Reader snapshot);
  void apply_update(mp::schema::EffectivePolicy::Reader policy);
  bool synced() const { return synced_; }

  const WebRules& rules_for(std::string_view station) const;
  std::size_t stations() const { return by_station_.size(); }

  // Keys of lists that some station's policy names and that are not held yet.
  std::vector<std::string> missing_lists() const;
  // A fetched list: compiled once; every station that names it gets its new rules.
  void list_arrived(const std::string& key, const std::vector<std::string>& domains);
  std::size_t lists() const { return lists_.size(); }

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct StationPolicy {
    WebMode mode = WebMode::off;
    std::string source;
    std::string list_key;                   // empty: the list came inline (or is empty)
    std::unique_ptr<const WebRules> rules;  // what the proxy applies now
  };
  void apply(mp::schema::EffectivePolicy::Reader policy);
  void forget_unused_lists();

  bool synced_ = false;
  std::unordered_map<std::string, StationPolicy, Hash, std::equal_to<>> by_station_;
  std::unordered_map<std::string, std::shared_ptr<const CompiledList>> lists_;  // by key
  WebRules off_;  // when not even "" is known
};

}  // namespace mp::webfilter
