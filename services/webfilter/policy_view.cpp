#include "policy_view.h"

#include <spdlog/spdlog.h>

#include <vector>

namespace mp::webfilter {

namespace {

std::string text(capnp::Text::Reader t) { return std::string(t.begin(), t.size()); }

WebMode mode_of(mp::schema::WebMode mode) {
  switch (mode) {
    case mp::schema::WebMode::ALLOW_ONLY:
      return WebMode::allow_only;
    case mp::schema::WebMode::BLOCK_ONLY:
      return WebMode::block_only;
    default:
      return WebMode::off;  // off, or unknown: nothing set at any scope
  }
}

}  // namespace

void PolicyView::apply(mp::schema::EffectivePolicy::Reader policy) {
  std::vector<std::string> domains;
  domains.reserve(policy.getDomains().size());
  for (auto domain : policy.getDomains()) domains.push_back(text(domain));
  std::string station = text(policy.getStationKey());
  auto rules = std::make_unique<const WebRules>(mode_of(policy.getWebMode()), domains,
                                                text(policy.getWebSource()));
  for (const auto& rejected : rules->rejected()) {
    spdlog::warn("station '{}': ignoring invalid web rule '{}'", station, rejected);
  }
  by_station_.insert_or_assign(std::move(station), std::move(rules));
}

void PolicyView::apply_snapshot(mp::schema::PolicySnapshot::Reader snapshot) {
  by_station_.clear();
  for (auto policy : snapshot.getEffective()) apply(policy);
  synced_ = true;
}

void PolicyView::apply_update(mp::schema::EffectivePolicy::Reader policy) { apply(policy); }

const WebRules& PolicyView::rules_for(std::string_view station) const {
  auto it = by_station_.find(station);
  if (it == by_station_.end() && !station.empty()) it = by_station_.find(std::string_view{});
  return it == by_station_.end() ? off_ : *it->second;
}

}  // namespace mp::webfilter
