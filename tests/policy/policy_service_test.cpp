// PolicyService through a real bus client on an in-process bus, with a real SQLite file.
#include <gtest/gtest.h>

#include <algorithm>

#include "policy_fixture.h"
#include "session_stations.h"

namespace mp::policy {
namespace {

using namespace std::chrono_literals;
using mp::schema::WebList;
using mp::schema::WebMode;

class Policy : public PolicyFixture {};

TEST_F(Policy, BlockSurvivesPolicyRestart) {
  apply(group_edit("lab", {"rdp:a", "rdp:b"}));
  apply(set_block(group("lab"), true, "Eyes to the front"));
  apply(set_usb(station("rdp:b"), true));
  apply(edit_list(all(), WebList::BLOCK, {"games.example"}));
  apply(set_web_mode(all(), WebMode::BLOCK_ONLY));
  std::uint64_t version_before = 0;
  auto before = snapshot(&version_before);
  ASSERT_TRUE(before.at("rdp:a").blocked);

  restart_service();
  std::uint64_t version_after = 0;
  auto after = snapshot(&version_after);
  EXPECT_EQ(after, before);
  EXPECT_EQ(version_after, version_before) << "a restart publishes nothing new";
  EXPECT_EQ(after.at("rdp:a").block_message, "Eyes to the front");

  // The versions go on from where they were.
  settle();
  std::size_t seen = updates.size();
  apply(set_block(group("lab"), false));
  settle();
  ASSERT_EQ(updates.size(), seen + 2);  // rdp:a and rdp:b
  EXPECT_EQ(updates[seen].version, version_before + 1);
  EXPECT_EQ(updates[seen + 1].version, version_before + 2);
}

TEST_F(Policy, MostSpecificScopeWins) {
  service->stations_seen({"rdp:a", "rdp:b", "rdp:c"});
  apply(set_block(all(), true, "everyone"));
  apply(set_web_mode(all(), WebMode::ALLOW_ONLY));
  apply(group_edit("lab", {"rdp:a", "rdp:b"}));
  apply(edit_list(group("lab"), WebList::BLOCK, {"games.example"}));
  apply(set_web_mode(group("lab"), WebMode::BLOCK_ONLY));
  apply(set_block(station("rdp:a"), false));
  apply(set_web_mode(station("rdp:b"), WebMode::OFF));

  auto all_stations = snapshot();
  const Effective& a = all_stations.at("rdp:a");
  EXPECT_FALSE(a.blocked);
  EXPECT_EQ(a.block_source, "station");
  EXPECT_EQ(a.web_mode, WebMode::BLOCK_ONLY);
  EXPECT_EQ(a.web_source, "group:lab");
  EXPECT_EQ(a.domains, std::vector<std::string>{"games.example"});
  const Effective& b = all_stations.at("rdp:b");
  EXPECT_TRUE(b.blocked);
  EXPECT_EQ(b.block_message, "everyone");
  EXPECT_EQ(b.block_source, "all");
  EXPECT_EQ(b.web_mode, WebMode::OFF);
  EXPECT_EQ(b.web_source, "station");
  const Effective& c = all_stations.at("rdp:c");
  EXPECT_TRUE(c.blocked);
  EXPECT_EQ(c.web_mode, WebMode::ALLOW_ONLY);
  EXPECT_TRUE(c.domains.empty());
  EXPECT_EQ(c.web_source, "all");
  EXPECT_EQ(all_stations.at("").web_mode, WebMode::ALLOW_ONLY);
  EXPECT_TRUE(all_stations.at("").blocked);
}

TEST_F(Policy, UnblockAllClearsOverrides) {
  apply(group_edit("lab", {"rdp:a"}));
  apply(set_block(station("rdp:a"), true, "you"));
  apply(set_block(station("rdp:b"), true, "you too"));
  apply(set_block(group("lab"), true, "lab"));
  apply(set_usb(station("rdp:a"), true));
  apply(set_web_mode(station("rdp:b"), WebMode::ALLOW_ONLY));
  ASSERT_TRUE(effective("rdp:a").blocked);

  apply(set_block(all(), false));
  apply(set_usb(all(), false));
  apply(set_web_mode(all(), WebMode::OFF));
  for (const auto& [key, e] : snapshot()) {
    EXPECT_FALSE(e.blocked) << key;
    EXPECT_EQ(e.block_source, "all") << key;
    EXPECT_FALSE(e.usb_locked) << key;
    EXPECT_EQ(e.web_mode, WebMode::OFF) << key;
  }
  // Nothing is left set on the narrower scopes.
  Reply report = call(show_request());
  ASSERT_TRUE(report.ok());
  for (auto scope : report.envelope().getPolicyReport().getScopes()) {
    if (scope.getScope().isAll()) continue;
    EXPECT_EQ(scope.getBlock(), mp::schema::Setting::UNKNOWN);
    EXPECT_EQ(scope.getUsbLock(), mp::schema::Setting::UNKNOWN);
    EXPECT_EQ(scope.getWebMode(), WebMode::UNKNOWN);
  }
}

TEST_F(Policy, GroupMostRestrictiveWins) {
  apply(group_edit("calm", {"rdp:a"}));
  apply(group_edit("strict", {"rdp:a"}));
  apply(set_block(group("calm"), false));
  apply(set_block(group("strict"), true, "strict"));
  apply(set_usb(group("calm"), false));
  apply(set_usb(group("strict"), true));
  apply(edit_list(group("calm"), WebList::ALLOW, {"a.example", "b.example"}));
  apply(edit_list(group("strict"), WebList::ALLOW, {"b.example", "c.example"}));
  apply(set_web_mode(group("calm"), WebMode::ALLOW_ONLY));
  apply(set_web_mode(group("strict"), WebMode::ALLOW_ONLY));
  Effective a = effective("rdp:a");
  EXPECT_TRUE(a.blocked);
  EXPECT_EQ(a.block_source, "group:strict");
  EXPECT_TRUE(a.usb_locked);
  EXPECT_EQ(a.web_mode, WebMode::ALLOW_ONLY);
  EXPECT_EQ(a.domains, std::vector<std::string>{"b.example"});
  EXPECT_EQ(a.web_source, "group:calm,group:strict");

  apply(set_web_mode(group("strict"), WebMode::BLOCK_ONLY));
  a = effective("rdp:a");
  EXPECT_EQ(a.web_mode, WebMode::ALLOW_ONLY);  // allowOnly beats blockOnly
  EXPECT_EQ(a.web_source, "group:calm");
}

TEST_F(Policy, ScheduleAppliesInsideWindowOnly) {
  service->stations_seen({"rdp:a"});
  Reply added = call(schedule_add({.scope = all(),
                                   .web_mode = WebMode::BLOCK_ONLY,
                                   .domains = {"Games.Example."},
                                   .label = "morning"}));
  ASSERT_TRUE(added.ok() && added.envelope().isSchedule()) << added.error_text();
  std::uint64_t id = added.envelope().getSchedule().getId();
  EXPECT_GT(id, 0u);
  EXPECT_EQ(added.envelope().getSchedule().getAction().getWeb().getDomains()[0],
            std::string("games.example"));
  std::string source = "schedule " + std::to_string(id);
  EXPECT_EQ(effective("rdp:a").web_mode, WebMode::OFF);  // Monday 08:00

  now_ns = local_ns(2024, 1, 8, 9, 0);
  service->reevaluate();
  Effective inside = effective("rdp:a");
  EXPECT_EQ(inside.web_mode, WebMode::BLOCK_ONLY);
  EXPECT_EQ(inside.web_source, source);
  EXPECT_EQ(inside.domains, std::vector<std::string>{"games.example"});
  EXPECT_EQ(effective("").web_mode, WebMode::BLOCK_ONLY);

  now_ns = local_ns(2024, 1, 12, 11, 59);  // Friday
  service->reevaluate();
  EXPECT_EQ(effective("rdp:a").web_mode, WebMode::BLOCK_ONLY);
  now_ns = local_ns(2024, 1, 12, 12, 0);
  service->reevaluate();
  EXPECT_EQ(effective("rdp:a").web_mode, WebMode::OFF);
  now_ns = local_ns(2024, 1, 13, 10, 0);  // Saturday
  service->reevaluate();
  EXPECT_EQ(effective("rdp:a").web_mode, WebMode::OFF);

  // Removing an active schedule ends it at once.
  now_ns = local_ns(2024, 1, 15, 10, 0);
  service->reevaluate();
  ASSERT_EQ(effective("rdp:a").web_mode, WebMode::BLOCK_ONLY);
  apply(schedule_remove(id));
  EXPECT_EQ(effective("rdp:a").web_mode, WebMode::OFF);
}

TEST_F(Policy, MinuteTimerWaitsForTheNextBoundary) {
  now_ns = local_ns(2024, 1, 8, 9, 0) + 15'000'000'000;  // 09:00:15
  EXPECT_EQ(service->delay_to_next_minute(), 45'050ms);
}

TEST_F(Policy, EffectivePolicyPublishedAsNumberedUpdates) {
  settle();
  ASSERT_EQ(updates.size(), 1u) << "the start publishes the policy of \"\" once";
  EXPECT_EQ(updates[0].effective.station_key, "");
  EXPECT_EQ(updates[0].version, 1u);

  service->stations_seen({"rdp:a", "rdp:b"});
  apply(set_block(station("rdp:a"), true, "one"));
  apply(set_block(station("rdp:a"), true, "one"));  // the same again: nothing to publish
  apply(set_usb(all(), true));                      // all three change
  apply(set_usb(all(), true));
  service->reevaluate();  // nothing changed
  settle();

  std::uint64_t version = 0;
  auto snap = snapshot(&version);
  ASSERT_FALSE(updates.empty());
  for (std::size_t i = 0; i < updates.size(); ++i) {
    EXPECT_EQ(updates[i].version, i + 1) << "versions are contiguous";
  }
  EXPECT_EQ(version, updates.back().version);
  // 1 "" + 2 new stations + rdp:a blocked + 3 usb locked.
  EXPECT_EQ(updates.size(), 7u);
  // Each update differs from the previous one for its station, and the last equals the snapshot.
  std::map<std::string, Effective> last;
  for (const auto& update : updates) {
    auto it = last.find(update.effective.station_key);
    if (it != last.end()) {
      EXPECT_NE(it->second, update.effective);
    }
    last[update.effective.station_key] = update.effective;
  }
  EXPECT_EQ(last, snap);
  EXPECT_EQ(service->state_version(), version);
}

TEST_F(Policy, EveryChangeIsAudited) {
  service->stations_seen({"rdp:a", "rdp:b"});
  apply(group_edit("lab", {"rdp:a"}));
  apply(set_block(group("lab"), true, "look up"));
  apply(edit_list(station("rdp:b"), WebList::ALLOW, {"wiki.example"}));
  apply(set_usb(all(), true));
  Reply added = call(schedule_add({.usb_lock = true}));
  ASSERT_TRUE(added.ok());
  apply(schedule_remove(added.envelope().getSchedule().getId()));
  // Without an operator, the calling service is who.
  mp::bus::Client anonymous(bus.context(), reactor, bus.endpoints(),
                            mp::bus::ClientOptions{.service = "dashboard"});
  ASSERT_TRUE(anonymous.call(kServiceName, set_block(station("rdp:b"), true)).ok());
  // Refused requests change nothing and are not audited.
  expect_invalid(set_block(group("nope"), true), "no group");

  Reply log = call(audit_query());
  ASSERT_TRUE(log.ok() && log.envelope().isAuditLog()) << log.error_text();
  auto entries = log.envelope().getAuditLog().getEntries();
  ASSERT_EQ(entries.size(), 7u);
  struct Expected {
    std::string operator_name, source, action;
    std::vector<std::string> stations;
    std::string detail_part;
  };
  std::vector<Expected> expected = {
      // newest first
      {"dashboard", "dashboard", "block", {"rdp:b"}, "station:rdp:b"},
      {"alice", "caller", "schedule remove", {"rdp:a", "rdp:b"}, "all"},
      {"alice", "caller", "schedule add", {"rdp:a", "rdp:b"}, "Mon,Tue,Wed,Thu,Fri 09:00-12:00"},
      {"alice", "caller", "usb lock", {"rdp:a", "rdp:b"}, "all"},
      {"alice", "caller", "web allow", {"rdp:b"}, "wiki.example"},
      {"alice", "caller", "block", {"rdp:a"}, "\"look up\""},
      {"alice", "caller", "group add", {"rdp:a"}, "lab (created)"},
  };
  std::int64_t previous = INT64_MAX;
  for (unsigned i = 0; i < entries.size(); ++i) {
    auto entry = entries[i];
    EXPECT_EQ(std::string(entry.getOperator()), expected[i].operator_name) << i;
    EXPECT_EQ(std::string(entry.getSource()), expected[i].source) << i;
    EXPECT_EQ(std::string(entry.getAction()), expected[i].action) << i;
    std::vector<std::string> stations;
    for (auto s : entry.getStations()) stations.emplace_back(s);
    EXPECT_EQ(stations, expected[i].stations) << i;
    EXPECT_NE(std::string(entry.getDetail()).find(expected[i].detail_part), std::string::npos)
        << i << ": " << entry.getDetail().cStr();
    EXPECT_EQ(entry.getAtNs(), now_ns);
    EXPECT_LE(entry.getAtNs(), previous);
    previous = entry.getAtNs();
  }
  Reply two = call(audit_query(2));
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(two.envelope().getAuditLog().getEntries().size(), 2u);
}

Build audit_record(std::string action, std::string detail, std::vector<std::string> stations) {
  return [=](Envelope::Builder e) {
    auto body = e.initAuditRecord();
    body.setAction(action);
    body.setDetail(detail);
    auto list = body.initStations(static_cast<unsigned>(stations.size()));
    for (unsigned i = 0; i < stations.size(); ++i) list.set(i, stations[i]);
  };
}

TEST_F(Policy, ActionsOfOtherServicesAreAuditedOnceWithoutChangingPolicy) {
  service->stations_seen({"rdp:a", "rdp:b"});
  auto version = service->state_version();
  apply(audit_record("message", "\"Page 42\" to 2 stations", {"rdp:a", "rdp:b"}), "audit-1");
  apply(audit_record("message", "\"Page 42\" to 2 stations", {"rdp:a", "rdp:b"}), "audit-1");
  EXPECT_EQ(service->state_version(), version) << "the policy did not change";
  expect_invalid(audit_record("", "x", {}), "action");
  expect_invalid(audit_record("log off", "x", {"not a key!"}), "");
  expect_invalid(audit_record("log off", std::string(2000, 'x'), {}), "detail");
  expect_invalid(audit_record("log off\n", "x", {}), "action");

  Reply log = call(audit_query());
  ASSERT_TRUE(log.ok()) << log.error_text();
  auto entries = log.envelope().getAuditLog().getEntries();
  ASSERT_EQ(entries.size(), 1u) << "a retry is recorded once, refusals not at all";
  EXPECT_EQ(std::string(entries[0].getAction()), "message");
  EXPECT_EQ(std::string(entries[0].getOperator()), "alice");
  EXPECT_EQ(std::string(entries[0].getSource()), "caller");
  EXPECT_EQ(entries[0].getStations().size(), 2u);
}

TEST_F(Policy, IdempotentRetryAppliedOnce) {
  auto add = schedule_add({.block = "quiet time"});
  Reply first = call(add, "key-1");
  ASSERT_TRUE(first.ok()) << first.error_text();
  std::uint64_t id = first.envelope().getSchedule().getId();
  Reply again = call(add, "key-1");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again.envelope().getSchedule().getId(), id);
  apply(set_block(station("rdp:a"), true, "x"), "key-2");
  std::uint64_t version = service->state_version();

  restart_service();
  Reply after_restart = call(add, "key-1");
  ASSERT_TRUE(after_restart.ok());
  EXPECT_EQ(after_restart.envelope().getSchedule().getId(), id);
  apply(set_block(station("rdp:a"), true, "x"), "key-2");
  EXPECT_EQ(service->desired().schedules.size(), 1u);
  EXPECT_EQ(service->state_version(), version);
  Reply log = call(audit_query());
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(log.envelope().getAuditLog().getEntries().size(), 2u);

  // A key names one request: reusing it for another body is refused.
  Reply reused = call(set_usb(all(), true), "key-1");
  EXPECT_EQ(reused.error_kind(), Error::Kind::INVALID);
}

TEST_F(Policy, DomainsAreNormalised) {
  apply(edit_list(all(), WebList::BLOCK,
                  {"Mixed.Case.", "bücher.example", "*.Wild.Example", "192.0.2.1", "[2001:DB8::1]",
                   "mixed.case"}));
  apply(set_web_mode(all(), WebMode::BLOCK_ONLY));
  std::vector<std::string> expected{"*.wild.example", "192.0.2.1", "2001:db8::1", "mixed.case",
                                    "xn--bcher-kva.example"};
  EXPECT_EQ(effective("").domains, expected);
  // Removing takes the same spellings.
  apply(edit_list(all(), WebList::BLOCK, {}, {"MIXED.case", "BÜCHER.example."}));
  EXPECT_EQ(effective("").domains,
            (std::vector<std::string>{"*.wild.example", "192.0.2.1", "2001:db8::1"}));
  // Replace.
  apply(edit_list(all(), WebList::BLOCK, {"only.example"}, {}, true));
  EXPECT_EQ(effective("").domains, std::vector<std::string>{"only.example"});
}

TEST_F(Policy, BadInputAnswersInvalid) {
  apply(group_edit("lab", {"rdp:a"}));
  std::uint64_t version = service->state_version();
  PolicyState desired = service->desired();

  expect_invalid(set_block(station("bad key"), true), "station key");
  expect_invalid(set_block(station(""), true), "station key");
  expect_invalid(set_block(group("Lab"), true), "group name");
  expect_invalid(set_block(group("nope"), true), "no group 'nope'");
  expect_invalid(set_block(all(), true, std::string(501, 'x')), "longer than 500");
  expect_invalid(set_block(all(), true, "line\nbreak"), "control characters");
  expect_invalid(set_block(all(), true, std::string("nul\0x", 5)), "control characters");
  expect_invalid(set_web_mode(all(), static_cast<WebMode>(42)), "unknown web mode");
  expect_invalid(edit_list(all(), WebList::BLOCK, {"good.example", "bad..example"}),
                 "'bad..example' (#2): empty label");
  expect_invalid(edit_list(all(), WebList::ALLOW, {"192.0.2.1"}), "only allowed in block lists");
  expect_invalid(edit_list(all(), WebList::UNKNOWN, {"a.example"}), "allow or block");
  std::vector<std::string> too_many;
  for (int i = 0; i <= 10000; ++i) too_many.push_back("d" + std::to_string(i) + ".example");
  expect_invalid(edit_list(all(), WebList::BLOCK, too_many), "more than 10000");
  expect_invalid(group_edit("Bad Name", {"rdp:a"}), "group name");
  expect_invalid(group_edit("lab", {"bad key"}), "station key");
  expect_invalid(group_edit("nope", {}, true), "no group");
  expect_invalid(schedule_add({.days = 0, .block = "x"}), "days");
  expect_invalid(schedule_add({.days = 128, .block = "x"}), "days");
  expect_invalid(schedule_add({.start = 1440, .end = 1440, .block = "x"}), "startMinute");
  expect_invalid(schedule_add({.start = 600, .end = 600, .block = "x"}), "endMinute");
  expect_invalid(schedule_add({.start = 600, .end = 1441, .block = "x"}), "endMinute");
  expect_invalid(schedule_add({.scope = group("nope"), .block = "x"}), "no group");
  expect_invalid(schedule_add({.web_mode = WebMode::UNKNOWN}), "mode");
  expect_invalid(schedule_add({.web_mode = WebMode::BLOCK_ONLY, .domains = {"a b"}}), "spaces");
  expect_invalid(schedule_add({.block = "x", .label = std::string(101, 'l')}), "label");
  expect_invalid(schedule_remove(99), "no schedule 99");
  expect_invalid(snapshot_request("session"), "topic 'policy'");

  apply(schedule_add({.scope = group("lab"), .usb_lock = true}));
  expect_invalid(group_edit("lab", {}, true), "has schedules");

  EXPECT_EQ(service->state_version(), version) << "refusals publish nothing";
  EXPECT_EQ(service->desired().groups, desired.groups);
  EXPECT_EQ(service->desired().scopes, desired.scopes);

  // A body mp-policy does not serve.
  Reply other = call([](Envelope::Builder e) { e.initUserListRequest(); });
  EXPECT_EQ(other.error_kind(), Error::Kind::UNIMPLEMENTED);
}

TEST_F(Policy, GroupsAddRemoveAndDelete) {
  apply(group_edit("lab", {"rdp:b", "rdp:a"}));
  apply(group_edit("lab", {"rdp:c"}));
  apply(group_edit("lab", {"rdp:a"}, true));
  apply(set_block(group("lab"), true));
  Reply list = call([](Envelope::Builder e) { e.initGroupListRequest(); });
  ASSERT_TRUE(list.ok() && list.envelope().isGroupList());
  auto groups = list.envelope().getGroupList().getGroups();
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(std::string(groups[0].getName()), "lab");
  std::vector<std::string> members;
  for (auto s : groups[0].getStations()) members.emplace_back(s);
  EXPECT_EQ(members, (std::vector<std::string>{"rdp:b", "rdp:c"}));
  EXPECT_TRUE(effective("rdp:b").blocked);
  EXPECT_FALSE(effective("rdp:a").blocked);

  apply(group_edit("lab", {}, true));  // deletes the group and what was set on it
  EXPECT_FALSE(effective("rdp:b").blocked);
  list = call([](Envelope::Builder e) { e.initGroupListRequest(); });
  EXPECT_EQ(list.envelope().getGroupList().getGroups().size(), 0u);
}

TEST_F(Policy, TenThousandDomainListIsServed) {
  service->stations_seen({"rdp:a"});
  std::vector<std::string> domains;
  for (int i = 0; i < 10000; ++i) domains.push_back("site-" + std::to_string(i) + ".example");
  apply(edit_list(all(), WebList::BLOCK, domains));
  apply(set_web_mode(all(), WebMode::BLOCK_ONLY));
  EXPECT_EQ(effective("rdp:a").domains.size(), 10000u);
  settle();
  ASSERT_FALSE(updates.empty());
  EXPECT_EQ(updates.back().list_count, 10000u);
  EXPECT_TRUE(updates.back().effective.domains.empty()) << "lists travel apart from policies";
  restart_service();
  EXPECT_EQ(effective("rdp:a").domains.size(), 10000u);
  Reply report = call(show_request());
  EXPECT_TRUE(report.ok()) << report.error_text();
}

TEST_F(Policy, SharedListKeepsSnapshotSmallForManyStations) {
  std::vector<std::string> domains;
  for (int i = 0; i < 10000; ++i) domains.push_back("site-" + std::to_string(i) + ".example");
  apply(edit_list(all(), WebList::BLOCK, domains));
  apply(set_web_mode(all(), WebMode::BLOCK_ONLY));
  std::vector<std::string> stations;
  for (int i = 0; i < 500; ++i) stations.push_back("rdp:s" + std::to_string(i));
  service->stations_seen(stations);
  Reply reply = call(snapshot_request());
  ASSERT_TRUE(reply.ok()) << reply.error_text();
  auto snap = reply.envelope().getPolicySnapshot();
  EXPECT_EQ(snap.getEffective().size(), 501u);
  std::set<std::string> keys;
  for (auto e : snap.getEffective()) {
    EXPECT_EQ(e.getDomains().size(), 0u);
    EXPECT_EQ(e.getDomainList().getCount(), 10000u);
    keys.insert(e.getDomainList().getKey());
  }
  EXPECT_EQ(keys.size(), 1u) << "one list, shared by every station";
  EXPECT_LT(reply.message->size_bytes(), 200u * 1024) << "the snapshot stays small";
  // The report cuts each list and names the whole one.
  Reply report = call(show_request());
  ASSERT_TRUE(report.ok()) << report.error_text();
  auto scope = report.envelope().getPolicyReport().getScopes()[0];
  EXPECT_EQ(scope.getBlockList().size(), 50u);
  EXPECT_EQ(scope.getBlockListRef().getCount(), 10000u);
  EXPECT_EQ(std::string(scope.getBlockListRef().getKey().cStr()), *keys.begin());
  EXPECT_EQ(server->counters().handler_failures, 0u);
}

TEST_F(Policy, DomainListIsFetchedInPagesAndUnknownKeysAreRefused) {
  std::vector<std::string> domains;
  for (int i = 0; i < 10000; ++i) domains.push_back("d" + std::to_string(i) + ".example");
  apply(edit_list(all(), WebList::BLOCK, domains));
  apply(set_web_mode(all(), WebMode::BLOCK_ONLY));
  settle();
  ASSERT_FALSE(updates.empty());
  std::string key = updates.back().list_key;
  ASSERT_EQ(key.size(), 64u);
  Reply first = call(domain_list_fetch(key, 0, 3));
  ASSERT_TRUE(first.ok()) << first.error_text();
  EXPECT_EQ(first.envelope().getDomainListPage().getDomains().size(), 3u);
  EXPECT_EQ(first.envelope().getDomainListPage().getTotal(), 10000u);
  std::vector<std::string> pages;  // fetched 4,000 at a time
  while (pages.size() < 10000) {
    Reply page = call(domain_list_fetch(key, static_cast<std::uint32_t>(pages.size()), 4000));
    ASSERT_TRUE(page.ok()) << page.error_text();
    auto got = page.envelope().getDomainListPage().getDomains();
    ASSERT_GT(got.size(), 0u);
    for (auto d : got) pages.emplace_back(d);
  }
  std::sort(domains.begin(), domains.end());
  EXPECT_EQ(pages, domains);
  expect_invalid(domain_list_fetch(std::string(64, '0'), 0), "no domain list");
  expect_invalid(domain_list_fetch(key, 1u << 30), "past the list's end");
  expect_invalid(domain_list_fetch(std::string("\x01\x02"), 0), "no domain list");
  // A list no longer used is forgotten.
  apply(edit_list(all(), WebList::BLOCK, {"other.example"}, {}, true));
  expect_invalid(domain_list_fetch(key, 0), "no domain list");
}

TEST_F(Policy, NewStationGetsAllStationsPolicy) {
  // A stand-in for mp-session: answers the snapshot, then publishes a station update.
  mp::bus::Client session(bus.context(), reactor, bus.endpoints(),
                          mp::bus::ClientOptions{.service = "session"});
  session.serve([](const mp::bus::Incoming& request, Envelope::Builder reply) {
    if (!request.envelope().isSnapshotRequest()) return false;
    auto snap = reply.initSessionSnapshot();
    snap.initInfo().setTopic("session");
    snap.getInfo().setVersion(5);
    snap.initStations(1)[0].setKey("rdp:early");
    return true;
  });
  ASSERT_TRUE(reactor.run_until([&] { return session.counters().registrations > 0; }, 5s));
  apply(set_block(all(), true, "all eyes here"));

  SessionStations stations(*server, *service);
  stations.start();
  ASSERT_TRUE(reactor.run_until([&] { return stations.synced(); }, 5s));
  EXPECT_TRUE(effective("rdp:early").blocked);
  // The replica's subscription reaches the broker asynchronously; a repeated update with the
  // same version is dropped by the replica, so sending it until it is heard is safe.
  auto late_published = [&] {
    return std::any_of(updates.begin(), updates.end(),
                       [](const Update& u) { return u.effective.station_key == "rdp:late"; });
  };
  for (int attempt = 0; attempt < 50 && !late_published(); ++attempt) {
    session.publish(
        "session.station",
        [](Envelope::Builder e) {
          auto station = e.initStationUpdate().initStation();
          station.setKey("rdp:late");
          station.setState(mp::schema::StationState::ATTACHED);
        },
        6);
    reactor.run_until(late_published, 200ms);
  }
  ASSERT_TRUE(late_published());
  Effective late = effective("rdp:late");
  EXPECT_TRUE(late.blocked);
  EXPECT_EQ(late.block_message, "all eyes here");
  EXPECT_EQ(late.block_source, "all");
}

}  // namespace
}  // namespace mp::policy
