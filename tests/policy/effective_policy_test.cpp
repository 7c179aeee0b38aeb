// Effective policy computed from desired policy, without a store or a bus.
#include "effective_policy.h"

#include <gtest/gtest.h>

namespace mp::policy {
namespace {

using mp::schema::WebMode;

constexpr LocalMinute kMonday0800{0, 8 * 60};
constexpr LocalMinute kMonday1000{0, 10 * 60};

ScopeSettings blocked(std::string message) {
  ScopeSettings s;
  s.block = Setting::ON;
  s.block_message = std::move(message);
  return s;
}

TEST(EffectivePolicy, NothingSetMeansDefaults) {
  PolicyState state;
  Effective e = compute_effective(state, "rdp:a", kMonday0800);
  EXPECT_FALSE(e.blocked);
  EXPECT_EQ(e.web_mode, WebMode::OFF);
  EXPECT_FALSE(e.usb_locked);
  EXPECT_EQ(e.block_source, "default");
  EXPECT_EQ(e.web_source, "default");
  EXPECT_EQ(e.usb_source, "default");
}

TEST(EffectivePolicy, MostSpecificScopeWinsPerAttribute) {
  PolicyState state;
  state.scopes[ScopeRef::all()] = blocked("all");
  state.scopes[ScopeRef::all()].usb_lock = Setting::ON;
  state.groups["lab"] = {"rdp:a", "rdp:b"};
  auto& lab = state.scopes[ScopeRef::group("lab")];
  lab.block = Setting::ON;
  lab.block_message = "lab";
  lab.web_mode = WebMode::BLOCK_ONLY;
  lab.block_list = {"games.example"};
  lab.allow_list = {"ignored.example"};
  state.scopes[ScopeRef::station("rdp:a")].block = Setting::OFF;

  Effective a = compute_effective(state, "rdp:a", kMonday0800);
  EXPECT_FALSE(a.blocked);
  EXPECT_EQ(a.block_source, "station");
  EXPECT_EQ(a.web_mode, WebMode::BLOCK_ONLY);
  EXPECT_EQ(a.domains, std::vector<std::string>{"games.example"});
  EXPECT_EQ(a.web_source, "group:lab");
  EXPECT_TRUE(a.usb_locked);
  EXPECT_EQ(a.usb_source, "all");

  Effective b = compute_effective(state, "rdp:b", kMonday0800);
  EXPECT_TRUE(b.blocked);
  EXPECT_EQ(b.block_message, "lab");
  EXPECT_EQ(b.block_source, "group:lab");

  Effective c = compute_effective(state, "rdp:c", kMonday0800);
  EXPECT_TRUE(c.blocked);
  EXPECT_EQ(c.block_message, "all");
  EXPECT_EQ(c.block_source, "all");
  EXPECT_EQ(c.web_mode, WebMode::OFF);

  Effective nobody = compute_effective(state, "", kMonday0800);
  EXPECT_TRUE(nobody.blocked);
  EXPECT_EQ(nobody.block_source, "all");
}

TEST(EffectivePolicy, GroupMostRestrictiveWins) {
  PolicyState state;
  state.groups["g1"] = {"s1", "s2"};
  state.groups["g2"] = {"s1"};
  state.groups["g3"] = {"s2"};
  state.groups["g4"] = {"s2"};
  auto& g1 = state.scopes[ScopeRef::group("g1")];
  g1.block = Setting::OFF;
  g1.usb_lock = Setting::OFF;
  g1.web_mode = WebMode::BLOCK_ONLY;
  g1.block_list = {"a.example", "b.example"};
  auto& g2 = state.scopes[ScopeRef::group("g2")];
  g2 = blocked("g2 says stop");
  g2.usb_lock = Setting::ON;
  g2.web_mode = WebMode::BLOCK_ONLY;
  g2.block_list = {"c.example"};
  auto& g3 = state.scopes[ScopeRef::group("g3")];
  g3.web_mode = WebMode::ALLOW_ONLY;
  g3.allow_list = {"x.example", "y.example"};
  auto& g4 = state.scopes[ScopeRef::group("g4")];
  g4.web_mode = WebMode::ALLOW_ONLY;
  g4.allow_list = {"y.example", "z.example"};

  Effective s1 = compute_effective(state, "s1", kMonday0800);
  EXPECT_TRUE(s1.blocked);
  EXPECT_EQ(s1.block_message, "g2 says stop");
  EXPECT_EQ(s1.block_source, "group:g2");
  EXPECT_TRUE(s1.usb_locked);
  EXPECT_EQ(s1.usb_source, "group:g2");
  EXPECT_EQ(s1.web_mode, WebMode::BLOCK_ONLY);
  EXPECT_EQ(s1.domains, (std::vector<std::string>{"a.example", "b.example", "c.example"}));
  EXPECT_EQ(s1.web_source, "group:g1,group:g2");

  Effective s2 = compute_effective(state, "s2", kMonday0800);
  EXPECT_FALSE(s2.blocked);
  EXPECT_EQ(s2.block_source, "group:g1");
  EXPECT_EQ(s2.web_mode, WebMode::ALLOW_ONLY);  // allowOnly beats blockOnly
  EXPECT_EQ(s2.domains, std::vector<std::string>{"y.example"});
  EXPECT_EQ(s2.web_source, "group:g3,group:g4");
}

TEST(EffectivePolicy, ScheduleAppliesInsideWindowOnly) {
  PolicyState state;
  state.scopes[ScopeRef::all()].web_mode = WebMode::OFF;
  Schedule web{.id = 7,
               .scope = ScopeRef::all(),
               .days = 0b0011111,
               .start_minute = 9 * 60,
               .end_minute = 12 * 60,
               .kind = ScheduleKind::web,
               .web_mode = WebMode::BLOCK_ONLY,
               .domains = {"games.example"}};
  state.schedules[7] = web;

  auto at = [&](int weekday, int hour, int minute) {
    return compute_effective(state, "rdp:a", LocalMinute{weekday, hour * 60 + minute});
  };
  EXPECT_EQ(at(0, 8, 59).web_mode, WebMode::OFF);
  EXPECT_EQ(at(0, 8, 59).web_source, "all");
  EXPECT_EQ(at(0, 9, 0).web_mode, WebMode::BLOCK_ONLY);
  EXPECT_EQ(at(0, 9, 0).web_source, "schedule 7");
  EXPECT_EQ(at(0, 9, 0).domains, std::vector<std::string>{"games.example"});
  EXPECT_EQ(at(4, 11, 59).web_mode, WebMode::BLOCK_ONLY);  // Friday
  EXPECT_EQ(at(0, 12, 0).web_mode, WebMode::OFF);          // end is exclusive
  EXPECT_EQ(at(5, 10, 0).web_mode, WebMode::OFF);          // Saturday

  // A station's own setting is more specific than a schedule for all stations.
  state.scopes[ScopeRef::station("rdp:a")].web_mode = WebMode::OFF;
  EXPECT_EQ(compute_effective(state, "rdp:a", kMonday1000).web_mode, WebMode::OFF);
  EXPECT_EQ(compute_effective(state, "rdp:b", kMonday1000).web_mode, WebMode::BLOCK_ONLY);
}

TEST(EffectivePolicy, ScheduleOverridesItsOwnScopeSetting) {
  PolicyState state;
  state.groups["lab"] = {"rdp:a"};
  state.scopes[ScopeRef::group("lab")].block = Setting::OFF;
  state.schedules[1] = Schedule{.id = 1,
                                .scope = ScopeRef::group("lab"),
                                .days = 1,
                                .start_minute = 600,
                                .end_minute = 660,
                                .kind = ScheduleKind::block,
                                .block_message = "test time"};
  state.schedules[2] = Schedule{.id = 2,
                                .scope = ScopeRef::group("lab"),
                                .days = 1,
                                .start_minute = 600,
                                .end_minute = 660,
                                .kind = ScheduleKind::usb_lock};
  Effective inside = compute_effective(state, "rdp:a", kMonday1000);
  EXPECT_TRUE(inside.blocked);
  EXPECT_EQ(inside.block_message, "test time");
  EXPECT_EQ(inside.block_source, "schedule 1");
  EXPECT_TRUE(inside.usb_locked);
  EXPECT_EQ(inside.usb_source, "schedule 2");
  Effective outside = compute_effective(state, "rdp:a", kMonday0800);
  EXPECT_FALSE(outside.blocked);
  EXPECT_EQ(outside.block_source, "group:lab");
  EXPECT_FALSE(outside.usb_locked);
}

TEST(EffectivePolicy, LocalMinuteReadsTheLocalClock) {
  std::tm tm{};
  tm.tm_year = 2024 - 1900;
  tm.tm_mon = 0;
  tm.tm_mday = 14;  // a Sunday
  tm.tm_hour = 23;
  tm.tm_min = 59;
  tm.tm_isdst = -1;
  auto ns = static_cast<std::int64_t>(std::mktime(&tm)) * 1'000'000'000 + 999'999'999;
  LocalMinute local = local_minute(ns);
  EXPECT_EQ(local.weekday, 6);
  EXPECT_EQ(local.minute, 23 * 60 + 59);
}

TEST(EffectivePolicy, PublishesForKnownNamedAndNobody) {
  PolicyState state;
  state.groups["lab"] = {"rdp:member"};
  state.scopes[ScopeRef::station("rdp:named")].usb_lock = Setting::ON;
  auto stations = stations_to_publish(state, {"rdp:known"});
  EXPECT_EQ(stations, (std::set<std::string>{"", "rdp:known", "rdp:member", "rdp:named"}));
}

}  // namespace
}  // namespace mp::policy
