#include "policy_view.h"

#include <spdlog/spdlog.h>

#include <set>
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

void log_rejected(const std::string& what, const CompiledList& list) {
  for (const auto& rejected : list.rejected) {
    spdlog::warn("{}: ignoring invalid web rule '{}'", what, rejected);
  }
}

}  // namespace

void PolicyView::apply(mp::schema::EffectivePolicy::Reader policy) {
  std::string station = text(policy.getStationKey());
  StationPolicy& entry = by_station_[station];
  entry.mode = mode_of(policy.getWebMode());
  entry.source = text(policy.getWebSource());
  entry.list_key = text(policy.getDomainList().getKey());
  if (entry.list_key.empty()) {
    // No list, or one sent inline by a peer that predates shared lists.
    std::vector<std::string> domains;
    domains.reserve(policy.getDomains().size());
    for (auto domain : policy.getDomains()) domains.push_back(text(domain));
    auto list = compile_list(domains);
    log_rejected("station '" + station + "'", *list);
    entry.rules = std::make_unique<const WebRules>(
        WebRules::with_list(entry.mode, std::move(list), entry.source));
    return;
  }
  if (auto held = lists_.find(entry.list_key); held != lists_.end()) {
    entry.rules = std::make_unique<const WebRules>(
        WebRules::with_list(entry.mode, held->second, entry.source));
  } else if (!entry.rules) {
    entry.rules = std::make_unique<const WebRules>(WebRules::loading(entry.source));
  }
  // else: the previous rules stay until list_arrived().
}

void PolicyView::apply_snapshot(mp::schema::PolicySnapshot::Reader snapshot) {
  // Rules in force are kept across a resync (a policy restart must not open or close the
  // web for a moment); stations the snapshot no longer lists are dropped.
  std::set<std::string, std::less<>> listed;
  for (auto policy : snapshot.getEffective()) {
    listed.insert(text(policy.getStationKey()));
    apply(policy);
  }
  std::erase_if(by_station_, [&](const auto& entry) { return !listed.contains(entry.first); });
  forget_unused_lists();
  synced_ = true;
}

void PolicyView::apply_update(mp::schema::EffectivePolicy::Reader policy) {
  apply(policy);
  forget_unused_lists();
}

std::vector<std::string> PolicyView::missing_lists() const {
  std::set<std::string> missing;
  for (const auto& [station, entry] : by_station_) {
    if (!entry.list_key.empty() && !lists_.contains(entry.list_key)) missing.insert(entry.list_key);
  }
  return {missing.begin(), missing.end()};
}

void PolicyView::list_arrived(const std::string& key, const std::vector<std::string>& domains) {
  auto list = compile_list(domains);
  log_rejected("list " + key.substr(0, 12), *list);
  std::size_t stations = 0;
  for (auto& [station, entry] : by_station_) {
    if (entry.list_key != key) continue;
    entry.rules =
        std::make_unique<const WebRules>(WebRules::with_list(entry.mode, list, entry.source));
    ++stations;
  }
  if (stations > 0) lists_[key] = std::move(list);
  spdlog::info("web list {}… ({} domains) in force for {} station(s)", key.substr(0, 12),
               domains.size(), stations);
}

void PolicyView::forget_unused_lists() {
  std::set<std::string, std::less<>> used;
  for (const auto& [station, entry] : by_station_) used.insert(entry.list_key);
  std::erase_if(lists_, [&](const auto& entry) { return !used.contains(entry.first); });
}

const WebRules& PolicyView::rules_for(std::string_view station) const {
  auto it = by_station_.find(station);
  if (it == by_station_.end() && !station.empty()) it = by_station_.find(std::string_view{});
  return it == by_station_.end() ? off_ : *it->second.rules;
}

}  // namespace mp::webfilter
