// The idle upstream pool: most recent first, bounded per destination and in all, expiry.
#include "upstream_pool.h"

#include <gtest/gtest.h>

namespace mp::webfilter {
namespace {

struct Conn {
  std::string key;
  bool parked = false;
  std::chrono::steady_clock::time_point idle_since;
};

using Pool = UpstreamPool<Conn>;
using namespace std::chrono_literals;

TEST(UpstreamPool, TakesTheMostRecentlyParkedForItsDestination) {
  Pool pool(10, 10);
  auto now = Pool::Clock::now();
  Conn a{"a.test:80"}, b{"a.test:80"}, c{"b.test:80"};
  ASSERT_TRUE(pool.park(a, now));
  ASSERT_TRUE(pool.park(b, now));
  ASSERT_TRUE(pool.park(c, now));
  EXPECT_EQ(pool.size(), 3u);
  EXPECT_EQ(pool.take("a.test:80"), &b);
  EXPECT_FALSE(b.parked);
  EXPECT_EQ(pool.take("a.test:80"), &a);
  EXPECT_EQ(pool.take("a.test:80"), nullptr);
  EXPECT_EQ(pool.take("c.test:80"), nullptr);
  EXPECT_EQ(pool.size(), 1u);
}

TEST(UpstreamPool, RefusesBeyondItsLimits) {
  Pool pool(3, 2);
  auto now = Pool::Clock::now();
  std::vector<Conn> same(3, Conn{"a.test:80"});
  EXPECT_TRUE(pool.park(same[0], now));
  EXPECT_TRUE(pool.park(same[1], now));
  EXPECT_FALSE(pool.park(same[2], now));  // per destination
  EXPECT_FALSE(same[2].parked);
  Conn b{"b.test:80"}, c{"c.test:80"};
  EXPECT_TRUE(pool.park(b, now));
  EXPECT_FALSE(pool.park(c, now));  // in all
}

TEST(UpstreamPool, RemovedAndExpiredConnectionsLeave) {
  Pool pool(10, 10);
  auto then = Pool::Clock::now();
  Conn old{"a.test:80"}, fresh{"a.test:80"}, gone{"b.test:80"};
  pool.park(old, then);
  pool.park(fresh, then + 20s);
  pool.park(gone, then);
  pool.remove(gone);
  EXPECT_FALSE(gone.parked);
  pool.remove(gone);  // twice: harmless
  EXPECT_EQ(pool.size(), 2u);
  auto expired = pool.expired(then + 30s, 30s);
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0], &old);
  pool.remove(old);
  EXPECT_EQ(pool.take("a.test:80"), &fresh);
}

TEST(UpstreamPool, EmptyDestinationsAreTrimmedOnlyWhenMany) {
  Pool pool(2, 2);
  auto now = Pool::Clock::now();
  for (int i = 0; i < 4; ++i) {
    Conn conn{"d" + std::to_string(i) + ":80"};
    pool.park(conn, now);
    pool.remove(conn);
  }
  EXPECT_GT(pool.destinations(), 2u);
  pool.trim();
  EXPECT_EQ(pool.destinations(), 0u);
}

}  // namespace
}  // namespace mp::webfilter
