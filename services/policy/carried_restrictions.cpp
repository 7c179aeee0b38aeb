#include "carried_restrictions.h"

#include <algorithm>
#include <utility>

#include "effective_policy.h"

namespace mp::policy {

namespace {

// One carried restriction per origin and kind: a newer one replaces the older.
void carry(std::vector<Carried>& into, std::vector<Carried> more) {
  for (auto& restriction : more) {
    auto same = std::find_if(into.begin(), into.end(), [&](const Carried& c) {
      return c.origin == restriction.origin && c.what == restriction.what;
    });
    if (same != into.end()) {
      *same = std::move(restriction);
    } else {
      into.push_back(std::move(restriction));
    }
  }
}

}  // namespace

std::set<std::string> CarriedRestrictions::apply(const std::vector<SeenSession>& seen,
                                                 bool complete, const OwnOf& own_of,
                                                 std::int64_t now_ns) {
  std::set<std::string> affected;
  std::set<std::uint64_t> listed;
  for (const SeenSession& s : seen) {
    listed.insert(s.id);
    auto it = sessions_.find(s.id);
    if (s.ended) {
      if (it == sessions_.end()) continue;
      affected.insert(it->second.station);
      sessions_.erase(it);
      changed_.insert(s.id);
      continue;
    }
    bool moved = s.moved_at_ns != 0 && !s.moved_from.empty();
    if (it == sessions_.end()) {
      if (!moved) continue;  // never moved: nothing to follow
      it = sessions_.emplace(s.id, SessionCarry{}).first;
    }
    SessionCarry& carry_state = it->second;
    bool changed = false;
    if (carry_state.station != s.station) {
      // What it carries goes where it is now.
      if (!carry_state.station.empty()) affected.insert(carry_state.station);
      affected.insert(s.station);
      carry_state.station = s.station;
      changed = true;
    }
    if (moved && s.moved_at_ns != carry_state.moved_at_ns) {
      carry_state.moved_at_ns = s.moved_at_ns;
      if (s.moved_from != s.station) {
        carry(carry_state.carried, restrictions_in_force(own_of(s.moved_from), now_ns));
      }
      affected.insert(s.station);
      changed = true;
    }
    if (changed) changed_.insert(s.id);
  }
  if (complete) {
    for (auto it = sessions_.begin(); it != sessions_.end();) {
      if (listed.contains(it->first)) {
        ++it;
        continue;
      }
      affected.insert(it->second.station);
      changed_.insert(it->first);
      it = sessions_.erase(it);
    }
  }
  return affected;
}

std::set<std::string> CarriedRestrictions::lift(const OwnOf& own_of,
                                                const std::set<std::string>* origins) {
  std::set<std::string> affected;
  std::map<std::string, Effective> own;  // each origin computed once
  for (auto& [id, session] : sessions_) {
    auto lifted = std::erase_if(session.carried, [&](const Carried& c) {
      if (origins && !origins->contains(c.origin)) return false;
      auto it = own.find(c.origin);
      if (it == own.end()) it = own.emplace(c.origin, own_of(c.origin)).first;
      return !still_in_force(c, it->second);
    });
    if (lifted == 0) continue;
    affected.insert(session.station);
    changed_.insert(id);
  }
  return affected;
}

std::map<std::string, std::vector<const Carried*>> CarriedRestrictions::by_station() const {
  std::map<std::string, std::vector<const Carried*>> out;
  for (const auto& [id, session] : sessions_) {
    for (const Carried& c : session.carried) out[session.station].push_back(&c);
  }
  return out;
}

std::set<std::string> CarriedRestrictions::stations() const {
  std::set<std::string> out;
  for (const auto& [id, session] : sessions_) out.insert(session.station);
  return out;
}

}  // namespace mp::policy
