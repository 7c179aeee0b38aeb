// The effective web policy of every station, as mp-policy publishes it (snapshot "policy" +
// numbered updates on "policy.effective"), compiled into WebRules for the proxy. Stations the
// policy does not list, and users at no station, get the policy of stationKey "" (all stations).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

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

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  void apply(mp::schema::EffectivePolicy::Reader policy);

  bool synced_ = false;
  std::unordered_map<std::string, std::unique_ptr<const WebRules>, Hash, std::equal_to<>>
      by_station_;
  WebRules off_;  // when not even "" is known
};

}  // namespace mp::webfilter
