#include "restart_policy.h"

#include <gtest/gtest.h>

namespace mp::supervisor {
namespace {

using namespace std::chrono_literals;
using Clock = RestartPolicy::Clock;

TEST(RestartPolicy, BackoffDoublesUpToMax) {
  RestartPolicy policy(RestartLimits{.initial_backoff = 100ms,
                                     .max_backoff = 1000ms,
                                     .healthy_after = 30s,
                                     .max_restarts = 100,
                                     .window = 60s});
  Clock::time_point now{};
  std::vector<std::chrono::milliseconds> delays;
  for (int i = 0; i < 7; ++i) {
    policy.started(now);
    now += 10ms;
    auto delay = policy.crashed(now);
    ASSERT_TRUE(delay.has_value());
    delays.push_back(*delay);
    now += *delay;
  }
  std::vector<std::chrono::milliseconds> expected{100ms,  200ms,  400ms, 800ms,
                                                  1000ms, 1000ms, 1000ms};
  EXPECT_EQ(delays, expected);
}

TEST(RestartPolicy, DefaultsAreHundredMillisecondsToFiveSeconds) {
  RestartPolicy policy;
  Clock::time_point now{};
  std::chrono::milliseconds last{};
  for (int i = 0; i < 5; ++i) {
    policy.started(now);
    now += 1ms;
    auto delay = policy.crashed(now);
    ASSERT_TRUE(delay.has_value());
    if (i == 0) {
      EXPECT_EQ(*delay, 100ms);
    }
    last = *delay;
    now += 20s;  // spread out so the intensity window never fills
  }
  EXPECT_EQ(last, 1600ms);
  EXPECT_EQ(policy.limits().max_backoff, 5000ms);
  EXPECT_EQ(policy.limits().max_restarts, 5);
  EXPECT_EQ(policy.limits().window, 60s);
}

TEST(RestartPolicy, ResetsAfterHealthyRun) {
  RestartPolicy policy(RestartLimits{.initial_backoff = 100ms,
                                     .max_backoff = 5000ms,
                                     .healthy_after = 30s,
                                     .max_restarts = 100,
                                     .window = 60s});
  Clock::time_point now{};
  for (int i = 0; i < 3; ++i) {
    policy.started(now);
    now += 1s;
    now += *policy.crashed(now);
  }
  // The next quick crash would wait 800 ms; a long healthy run starts over.
  policy.started(now);
  now += 31s;
  EXPECT_EQ(policy.crashed(now), 100ms);
  // A run just short of healthy keeps doubling.
  policy.started(now);
  now += 29s;
  EXPECT_EQ(policy.crashed(now), 200ms);
}

TEST(RestartPolicy, GivesUpPastIntensityLimit) {
  RestartPolicy policy(RestartLimits{.initial_backoff = 100ms,
                                     .max_backoff = 5000ms,
                                     .healthy_after = 30s,
                                     .max_restarts = 5,
                                     .window = 60s});
  Clock::time_point now{};
  for (int i = 0; i < 5; ++i) {
    policy.started(now);
    now += 1s;
    auto delay = policy.crashed(now);
    ASSERT_TRUE(delay.has_value()) << "restart " << i + 1 << " of 5 is allowed";
    now += *delay;
  }
  policy.started(now);
  now += 1s;
  EXPECT_FALSE(policy.crashed(now).has_value()) << "a sixth restart within 60 s is too many";
}

TEST(RestartPolicy, OldRestartsLeaveTheWindow) {
  RestartPolicy policy(RestartLimits{.initial_backoff = 100ms,
                                     .max_backoff = 100ms,
                                     .healthy_after = 30s,
                                     .max_restarts = 2,
                                     .window = 10s});
  Clock::time_point now{};
  EXPECT_TRUE(policy.crashed(now).has_value());
  EXPECT_TRUE(policy.crashed(now + 1s).has_value());
  EXPECT_FALSE(policy.crashed(now + 2s).has_value());
  // Ten seconds after the first restart, it no longer counts.
  RestartPolicy later(policy.limits());
  EXPECT_TRUE(later.crashed(now).has_value());
  EXPECT_TRUE(later.crashed(now + 1s).has_value());
  EXPECT_TRUE(later.crashed(now + 10s).has_value());
}

TEST(RestartPolicy, OperatorResetForgetsHistory) {
  RestartPolicy policy(RestartLimits{.initial_backoff = 100ms,
                                     .max_backoff = 5000ms,
                                     .healthy_after = 30s,
                                     .max_restarts = 1,
                                     .window = 60s});
  Clock::time_point now{};
  EXPECT_EQ(policy.crashed(now), 100ms);
  EXPECT_FALSE(policy.crashed(now + 1s).has_value());
  policy.reset();
  EXPECT_EQ(policy.crashed(now + 2s), 100ms);
}

TEST(RestartPolicy, ZeroRestartsMeansFirstCrashFails) {
  RestartPolicy policy(RestartLimits{.max_restarts = 0});
  EXPECT_FALSE(policy.crashed(Clock::time_point{}).has_value());
}

}  // namespace
}  // namespace mp::supervisor
