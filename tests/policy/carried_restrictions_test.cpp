// The "new stations" scope and restrictions carried by moved sessions, computed without a store
// or a bus.
#include "carried_restrictions.h"

#include <gtest/gtest.h>

#include "effective_policy.h"

namespace mp::policy {
namespace {

using mp::schema::WebMode;

constexpr LocalMinute kMonday0800{0, 8 * 60};

ScopeSettings blocked(std::string message) {
  ScopeSettings s;
  s.block = Setting::ON;
  s.block_message = std::move(message);
  return s;
}

ScopeSettings allow_only(std::vector<std::string> domains) {
  ScopeSettings s;
  s.web_mode = WebMode::ALLOW_ONLY;
  s.allow_list = std::move(domains);
  return s;
}

// Own effective policies under `state`, no station new.
CarriedRestrictions::OwnOf own_under(const PolicyState& state) {
  return [&state](const std::string& station) {
    return compute_effective(state, station, kMonday0800);
  };
}

SeenSession on(std::uint64_t id, std::string station) {
  return SeenSession{.id = id, .station = std::move(station)};
}

SeenSession moved(std::uint64_t id, std::string from, std::string to, std::int64_t at) {
  return SeenSession{
      .id = id, .station = std::move(to), .moved_from = std::move(from), .moved_at_ns = at};
}

Effective effective_of(const PolicyState& state, const CarriedRestrictions& carried,
                       const std::string& station) {
  auto by_station = carried.by_station();
  Effective own = compute_effective(state, station, kMonday0800);
  auto it = by_station.find(station);
  return it == by_station.end() ? own : with_carried(own, it->second);
}

TEST(NewStations, ScopeSitsBetweenGroupsAndAll) {
  PolicyState state;
  state.scopes[ScopeRef::all()].web_mode = WebMode::BLOCK_ONLY;
  state.scopes[ScopeRef::all()].block_list = {"games.example"};
  state.scopes[ScopeRef::new_stations()] = blocked("Ask the teacher to admit this station");
  state.groups["lab"] = {"rdp:grouped"};
  state.scopes[ScopeRef::group("lab")].block = Setting::OFF;

  Effective fresh = compute_effective(state, "rdp:new", kMonday0800, /*new_station=*/true);
  EXPECT_TRUE(fresh.blocked);
  EXPECT_EQ(fresh.block_message, "Ask the teacher to admit this station");
  EXPECT_EQ(fresh.block_source, "new-stations");
  // Not set for new stations: inherited from all.
  EXPECT_EQ(fresh.web_mode, WebMode::BLOCK_ONLY);
  EXPECT_EQ(fresh.web_source, "all");

  Effective admitted = compute_effective(state, "rdp:new", kMonday0800, /*new_station=*/false);
  EXPECT_FALSE(admitted.blocked);
  EXPECT_EQ(admitted.block_source, "default");

  // A group's (and a station's) own setting beats the new-stations one.
  Effective grouped = compute_effective(state, "rdp:grouped", kMonday0800, true);
  EXPECT_FALSE(grouped.blocked);
  EXPECT_EQ(grouped.block_source, "group:lab");
  state.scopes[ScopeRef::station("rdp:new")].block = Setting::OFF;
  EXPECT_FALSE(compute_effective(state, "rdp:new", kMonday0800, true).blocked);
  // Nobody's entry "" is never a new station.
  EXPECT_FALSE(compute_effective(state, "", kMonday0800, true).blocked);
}

TEST(NewStations, ComputeAllAppliesTheScopeToNewStationsOnly) {
  PolicyState state;
  state.scopes[ScopeRef::new_stations()].usb_lock = Setting::ON;
  auto all = compute_all(state, {"", "rdp:a", "rdp:b"}, kMonday0800, {"rdp:b"});
  EXPECT_FALSE(all[""].usb_locked);
  EXPECT_FALSE(all["rdp:a"].usb_locked);
  EXPECT_TRUE(all["rdp:b"].usb_locked);
  EXPECT_EQ(all["rdp:b"].usb_source, "new-stations");
}

TEST(CarriedRestrictions, RestrictionsInForceAreWhatTheOriginRestricts) {
  Effective a;
  a.station_key = "rdp:a";
  EXPECT_TRUE(restrictions_in_force(a, 1).empty()) << "nothing restricts: nothing to carry";
  a.blocked = true;
  a.block_message = "Eyes on me";
  a.web_mode = WebMode::ALLOW_ONLY;
  a.domains = {"school.example"};
  a.usb_locked = true;
  auto carried = restrictions_in_force(a, 7);
  ASSERT_EQ(carried.size(), 3u);
  EXPECT_EQ(carried[0].what, Restriction::block);
  EXPECT_EQ(carried[0].block_message, "Eyes on me");
  EXPECT_EQ(carried[1].what, Restriction::web);
  EXPECT_EQ(carried[1].domains, std::vector<std::string>{"school.example"});
  EXPECT_EQ(carried[2].what, Restriction::usb);
  for (const auto& c : carried) {
    EXPECT_EQ(c.origin, "rdp:a");
    EXPECT_EQ(c.carried_at_ns, 7);
  }
  // blockOnly restricts too; off does not.
  a = Effective{.station_key = "rdp:a", .web_mode = WebMode::BLOCK_ONLY};
  EXPECT_EQ(restrictions_in_force(a, 1).size(), 1u);
}

TEST(CarriedRestrictions, MergeWithTheStationsOwnLikeGroups) {
  Effective own;
  own.station_key = "rdp:b";
  own.web_mode = WebMode::ALLOW_ONLY;
  own.domains = {"a.example", "b.example"};
  own.block_source = "default";
  own.web_source = "station";
  own.usb_source = "default";
  Carried block{.origin = "rdp:a", .what = Restriction::block, .block_message = "stop"};
  Carried web{.origin = "rdp:a",
              .what = Restriction::web,
              .web_mode = WebMode::ALLOW_ONLY,
              .domains = {"b.example", "c.example"}};
  Effective merged = with_carried(own, {&block, &web});
  EXPECT_TRUE(merged.blocked);
  EXPECT_EQ(merged.block_message, "stop");
  EXPECT_EQ(merged.block_source, "carried from station:rdp:a");
  EXPECT_EQ(merged.web_mode, WebMode::ALLOW_ONLY);
  EXPECT_EQ(merged.domains, std::vector<std::string>{"b.example"}) << "allow lists intersect";
  EXPECT_EQ(merged.web_source, "station,carried from station:rdp:a");
  EXPECT_FALSE(merged.usb_locked);
  EXPECT_EQ(merged.usb_source, "default");
  // The station's own stricter value stays.
  Effective strict = own;
  strict.blocked = true;
  strict.block_message = "own";
  strict.block_source = "station";
  EXPECT_EQ(with_carried(strict, {&block}).block_message, "own");
  EXPECT_EQ(with_carried(strict, {&block}).block_source, "station,carried from station:rdp:a");
  // Nothing carried: unchanged.
  EXPECT_EQ(with_carried(own, {}), own);
}

TEST(CarriedRestrictions, AMoveCarriesWhatTheOriginHasInForce) {
  PolicyState state;
  state.scopes[ScopeRef::station("rdp:a")] = blocked("Eyes on me");
  state.scopes[ScopeRef::station("rdp:a")].usb_lock = Setting::ON;
  CarriedRestrictions carried;
  auto affected = carried.apply({on(1, "rdp:a")}, false, own_under(state), 1);
  EXPECT_TRUE(affected.empty()) << "a session that never moved is not followed";
  EXPECT_TRUE(carried.sessions().empty());

  affected = carried.apply({moved(1, "rdp:a", "rdp:b", 100)}, false, own_under(state), 2);
  EXPECT_EQ(affected, std::set<std::string>{"rdp:b"});
  Effective b = effective_of(state, carried, "rdp:b");
  EXPECT_TRUE(b.blocked);
  EXPECT_EQ(b.block_message, "Eyes on me");
  EXPECT_EQ(b.block_source, "carried from station:rdp:a");
  EXPECT_TRUE(b.usb_locked);
  EXPECT_FALSE(b.web_mode == WebMode::ALLOW_ONLY);
  EXPECT_EQ(carried.take_changed(), std::set<std::uint64_t>{1});

  // The same record again (any update of the session): the move is not taken twice.
  state.scopes[ScopeRef::station("rdp:a")].web_mode = WebMode::BLOCK_ONLY;
  affected = carried.apply({moved(1, "rdp:a", "rdp:b", 100)}, false, own_under(state), 3);
  EXPECT_TRUE(affected.empty());
  EXPECT_TRUE(carried.take_changed().empty());
  EXPECT_EQ(effective_of(state, carried, "rdp:b").web_mode, WebMode::OFF);
}

TEST(CarriedRestrictions, ACarriedRestrictionLastsUntilLiftedThenNeverComesBack) {
  PolicyState state;
  state.scopes[ScopeRef::station("rdp:a")] = blocked("Eyes on me");
  CarriedRestrictions carried;
  carried.apply({moved(1, "rdp:a", "rdp:b", 100)}, false, own_under(state), 1);
  // Still blocked at A: nothing lifts.
  EXPECT_TRUE(carried.lift(own_under(state)).empty());
  EXPECT_TRUE(effective_of(state, carried, "rdp:b").blocked);

  state.scopes[ScopeRef::station("rdp:a")].block = Setting::OFF;  // the teacher unblocks A
  EXPECT_EQ(carried.lift(own_under(state)), std::set<std::string>{"rdp:b"});
  EXPECT_FALSE(effective_of(state, carried, "rdp:b").blocked);

  state.scopes[ScopeRef::station("rdp:a")] = blocked("again");  // re-blocking A
  EXPECT_TRUE(carried.lift(own_under(state)).empty());
  EXPECT_FALSE(effective_of(state, carried, "rdp:b").blocked) << "dropped for good";
  EXPECT_TRUE(effective_of(state, carried, "rdp:a").blocked);
}

TEST(CarriedRestrictions, LiftingOneOriginKeepsTheOthers) {
  PolicyState state;
  state.scopes[ScopeRef::station("rdp:a")] = blocked("a");
  state.scopes[ScopeRef::station("rdp:b")] = allow_only({"school.example"});
  CarriedRestrictions carried;
  // A -> B -> C: C carries A's block (still in force) and B's web limit.
  carried.apply({moved(1, "rdp:a", "rdp:b", 100)}, false, own_under(state), 1);
  carried.apply({moved(1, "rdp:b", "rdp:c", 200)}, false, own_under(state), 2);
  Effective c = effective_of(state, carried, "rdp:c");
  EXPECT_TRUE(c.blocked);
  EXPECT_EQ(c.block_source, "carried from station:rdp:a");
  EXPECT_EQ(c.web_mode, WebMode::ALLOW_ONLY);
  EXPECT_EQ(c.web_source, "carried from station:rdp:b");
  EXPECT_FALSE(effective_of(state, carried, "rdp:b").blocked) << "the session left B";

  state.scopes[ScopeRef::station("rdp:a")].block = Setting::OFF;
  // Only origins named are checked (the caller knows whose own policy changed).
  std::set<std::string> only_b{"rdp:b"};
  EXPECT_TRUE(carried.lift(own_under(state), &only_b).empty());
  EXPECT_EQ(carried.lift(own_under(state)), std::set<std::string>{"rdp:c"});
  c = effective_of(state, carried, "rdp:c");
  EXPECT_FALSE(c.blocked);
  EXPECT_EQ(c.web_mode, WebMode::ALLOW_ONLY);
}

TEST(CarriedRestrictions, EndedSessionsDropTheirs) {
  PolicyState state;
  state.scopes[ScopeRef::station("rdp:a")] = blocked("a");
  CarriedRestrictions carried;
  carried.apply({moved(1, "rdp:a", "rdp:b", 100), moved(2, "rdp:a", "rdp:c", 100)}, false,
                own_under(state), 1);
  carried.take_changed();
  SeenSession ended = moved(1, "rdp:a", "rdp:b", 100);
  ended.ended = true;
  EXPECT_EQ(carried.apply({ended}, false, own_under(state), 2), std::set<std::string>{"rdp:b"});
  EXPECT_FALSE(effective_of(state, carried, "rdp:b").blocked);
  EXPECT_TRUE(effective_of(state, carried, "rdp:c").blocked);
  // A whole snapshot without session 2: it ended while nobody was looking.
  EXPECT_EQ(carried.apply({}, true, own_under(state), 3), std::set<std::string>{"rdp:c"});
  EXPECT_TRUE(carried.sessions().empty());
  EXPECT_EQ(carried.take_changed(), (std::set<std::uint64_t>{1, 2}));
}

TEST(CarriedRestrictions, CarriedRestrictionsFollowTheSessionWherever) {
  PolicyState state;
  state.scopes[ScopeRef::station("rdp:a")] = blocked("a");
  CarriedRestrictions carried;
  carried.apply({moved(1, "rdp:a", "rdp:b", 100)}, false, own_under(state), 1);
  // The station changes without a new move marker (e.g. a record mp-session rewrote): what it
  // carries goes along.
  EXPECT_EQ(carried.apply({moved(1, "rdp:a", "rdp:d", 100)}, false, own_under(state), 2),
            (std::set<std::string>{"rdp:b", "rdp:d"}));
  EXPECT_FALSE(effective_of(state, carried, "rdp:b").blocked);
  EXPECT_TRUE(effective_of(state, carried, "rdp:d").blocked);
}

TEST(CarriedRestrictions, ANewStationsBlockIsCarriedLikeAnyOther) {
  PolicyState state;
  state.scopes[ScopeRef::new_stations()] = blocked("new here");
  std::set<std::string> fresh{"rdp:new"};
  auto own_of = [&](const std::string& station) {
    return compute_effective(state, station, kMonday0800, fresh.contains(station));
  };
  CarriedRestrictions carried;
  carried.apply({moved(1, "rdp:new", "rdp:known", 100)}, false, own_of, 1);
  auto by_station = carried.by_station();
  ASSERT_EQ(by_station["rdp:known"].size(), 1u);
  EXPECT_EQ(by_station["rdp:known"][0]->block_message, "new here");
  // Admitting the origin lifts it.
  fresh.clear();
  EXPECT_EQ(carried.lift(own_of), std::set<std::string>{"rdp:known"});
}

}  // namespace
}  // namespace mp::policy
