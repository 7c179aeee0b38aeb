// PolicyView with shared domain lists: rules wait for their list, the previous rules stay in
// force meanwhile, one compiled list serves every station that names it.
#include <capnp/message.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "policy_view.h"

namespace mp::webfilter::test {
namespace {

using mp::schema::EffectivePolicy;

struct Wire {
  capnp::MallocMessageBuilder message;
  EffectivePolicy::Builder policy = message.initRoot<EffectivePolicy>();
};

void fill(EffectivePolicy::Builder out, const std::string& station, const std::string& key,
          std::uint32_t count, mp::schema::WebMode mode = mp::schema::WebMode::BLOCK_ONLY) {
  out.setStationKey(station);
  out.setWebMode(mode);
  out.setWebSource("all");
  out.initDomainList().setKey(key);
  out.getDomainList().setCount(count);
}

Verdict decide(const PolicyView& view, const std::string& station, const std::string& host) {
  return view.rules_for(station).decide(*normalize_host(host));
}

TEST(PolicyView, RulesWaitForTheirListAndThePreviousOnesStayMeanwhile) {
  PolicyView view;
  Wire first;
  fill(first.policy, "", "k1", 1);
  view.apply_update(first.policy.asReader());
  // Nothing known yet for this station: refused as "loading" (the proxy answers 503).
  EXPECT_EQ(decide(view, "", "a.example").reason, Reason::list_loading);
  EXPECT_EQ(view.missing_lists(), std::vector<std::string>{"k1"});
  view.list_arrived("k1", {"a.example"});
  EXPECT_TRUE(view.missing_lists().empty());
  EXPECT_EQ(decide(view, "", "a.example").reason, Reason::listed_blocked);
  EXPECT_TRUE(decide(view, "", "b.example").allowed);

  Wire second;
  fill(second.policy, "", "k2", 1);
  view.apply_update(second.policy.asReader());
  EXPECT_EQ(view.missing_lists(), std::vector<std::string>{"k2"});
  EXPECT_EQ(decide(view, "", "a.example").reason, Reason::listed_blocked) << "k1 still in force";
  view.list_arrived("k2", {"b.example"});
  EXPECT_TRUE(decide(view, "", "a.example").allowed);
  EXPECT_EQ(decide(view, "", "b.example").reason, Reason::listed_blocked);
  EXPECT_EQ(view.lists(), 1u) << "k1 is no longer used and was forgotten";
}

TEST(PolicyView, OneCompiledListServesEveryStationThatNamesIt) {
  PolicyView view;
  for (int i = 0; i < 100; ++i) {
    Wire w;
    fill(w.policy, "rdp:s" + std::to_string(i), "shared", 2);
    view.apply_update(w.policy.asReader());
  }
  EXPECT_EQ(view.missing_lists(), std::vector<std::string>{"shared"});
  view.list_arrived("shared", {"games.example", "*.video.example"});
  EXPECT_EQ(view.lists(), 1u);
  for (int i = 0; i < 100; ++i) {
    std::string station = "rdp:s" + std::to_string(i);
    EXPECT_EQ(decide(view, station, "www.video.example").reason, Reason::listed_blocked);
    EXPECT_TRUE(decide(view, station, "school.example").allowed);
  }
}

TEST(PolicyView, ListsSentInlineByOlderPeersApplyAtOnce) {
  PolicyView view;
  Wire w;
  w.policy.setStationKey("");
  w.policy.setWebMode(mp::schema::WebMode::ALLOW_ONLY);
  w.policy.initDomains(1).set(0, "school.example");
  view.apply_update(w.policy.asReader());
  EXPECT_TRUE(view.missing_lists().empty());
  EXPECT_TRUE(decide(view, "", "school.example").allowed);
  EXPECT_EQ(decide(view, "", "games.example").reason, Reason::not_allowed);
}

TEST(PolicyView, ListArrivingForNoStationIsNotKept) {
  PolicyView view;
  view.list_arrived("stale", {"a.example"});
  EXPECT_EQ(view.lists(), 0u);
}

}  // namespace
}  // namespace mp::webfilter::test
