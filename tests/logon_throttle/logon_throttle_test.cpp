// The logon throttle's rules, one test each, on an injected clock.
#include "mp/service/logon_throttle.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace mp::service {
namespace {

using namespace std::chrono_literals;
using Outcome = LogonThrottle::Outcome;

class ThrottleTest : public ::testing::Test {
 protected:
  LogonThrottle make(LogonThrottle::Options options = {}) {
    options.clock = [this] { return now; };
    return LogonThrottle(std::move(options));
  }
  // One whole attempt: begin, then finish with `outcome` if it was let through.
  bool attempt(LogonThrottle& throttle, const std::string& account, const std::string& source,
               Outcome outcome, const std::string& channel = "") {
    auto admission = throttle.begin(account, source, channel);
    if (!admission.allowed()) return false;
    throttle.finish(*admission.attempt, outcome);
    return true;
  }
  LogonThrottle::Clock::time_point now = LogonThrottle::Clock::time_point() + 1000h;
};

TEST_F(ThrottleTest, AFewFailuresAreFree) {
  auto throttle = make({.free_failures = 3});
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(attempt(throttle, "admin", "10.0.0.5", Outcome::failed));
  auto fourth = throttle.begin("admin", "10.0.0.5");
  EXPECT_FALSE(fourth.allowed());
  EXPECT_EQ(fourth.retry_after, 1000ms) << "the base delay after the free failures";
}

TEST_F(ThrottleTest, EachFurtherFailureDoublesTheDelayUpToTheCap) {
  auto throttle = make({.free_failures = 1, .base_delay = 1s, .max_delay = 10s});
  ASSERT_TRUE(attempt(throttle, "admin", "10.0.0.5", Outcome::failed));
  std::vector<std::chrono::milliseconds> waits;
  for (int i = 0; i < 6; ++i) {
    auto refused = throttle.begin("admin", "10.0.0.5");
    ASSERT_FALSE(refused.allowed());
    waits.push_back(refused.retry_after);
    now += refused.retry_after;
    ASSERT_TRUE(attempt(throttle, "admin", "10.0.0.5", Outcome::failed));
  }
  EXPECT_EQ(waits, (std::vector<std::chrono::milliseconds>{1s, 2s, 4s, 8s, 10s, 10s}));
}

TEST_F(ThrottleTest, AnAttemptInsideTheDelayIsRefusedWithTheTimeLeftAndDoesNotCount) {
  auto throttle = make({.free_failures = 1, .base_delay = 4s});
  ASSERT_TRUE(attempt(throttle, "admin", "10.0.0.5", Outcome::failed));
  now += 1s;
  auto refused = throttle.begin("admin", "10.0.0.5");
  EXPECT_FALSE(refused.allowed());
  EXPECT_EQ(refused.retry_after, 3s);
  // Refusals did not move the wait: it ends 4 s after the failure, however often one knocks.
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(throttle.begin("admin", "10.0.0.5").allowed());
  now += 3s;
  EXPECT_TRUE(throttle.begin("admin", "10.0.0.5").allowed());
}

TEST_F(ThrottleTest, NoHardLockOut) {
  auto throttle = make({.free_failures = 3, .max_delay = 5min});
  // A thousand guesses as fast as the throttle allows: each further one waits at most the cap.
  for (int i = 0; i < 1000; ++i) {
    auto admission = throttle.begin("admin", "10.0.0.5");
    if (!admission.allowed()) {
      EXPECT_LE(admission.retry_after, 5min);
      now += admission.retry_after;
      admission = throttle.begin("admin", "10.0.0.5");
    }
    ASSERT_TRUE(admission.allowed());
    throttle.finish(*admission.attempt, Outcome::failed);
  }
  now += 5min;
  EXPECT_TRUE(attempt(throttle, "admin", "10.0.0.5", Outcome::succeeded))
      << "the owner gets in after the cap";
}

TEST_F(ThrottleTest, ASuccessClearsTheAccountKey) {
  auto throttle = make({.free_failures = 2});
  ASSERT_TRUE(attempt(throttle, "admin", "10.0.0.5", Outcome::failed));
  ASSERT_TRUE(attempt(throttle, "admin", "10.0.0.5", Outcome::succeeded));
  EXPECT_TRUE(attempt(throttle, "admin", "10.0.0.5", Outcome::failed));
  EXPECT_TRUE(attempt(throttle, "admin", "10.0.0.5", Outcome::failed))
      << "two free failures again after the success";
  EXPECT_FALSE(throttle.begin("admin", "10.0.0.5").allowed());
}

TEST_F(ThrottleTest, KeysAreAccountAndSource) {
  auto throttle = make({.free_failures = 1});
  ASSERT_TRUE(attempt(throttle, "admin", "10.0.0.5", Outcome::failed));
  EXPECT_FALSE(throttle.begin("admin", "10.0.0.5").allowed());
  EXPECT_TRUE(attempt(throttle, "admin", "10.0.0.6", Outcome::failed))
      << "the same account from elsewhere has its own key";
  EXPECT_TRUE(attempt(throttle, "alice", "10.0.0.5", Outcome::failed))
      << "another account from the same source has its own key";
}

TEST_F(ThrottleTest, ChannelsAreCountedApart) {
  auto throttle = make({.free_failures = 1, .free_source_failures = 1});
  ASSERT_TRUE(attempt(throttle, "admin", "127.0.0.2", Outcome::failed, "rdp"));
  EXPECT_FALSE(throttle.begin("admin", "127.0.0.3", "rdp").allowed());
  EXPECT_TRUE(attempt(throttle, "admin", "127.0.0.1", Outcome::succeeded, "dashboard"))
      << "a flood over RDP does not keep the administrator out of the dashboard";
}

TEST_F(ThrottleTest, EveryLoopbackAddressIsOneSource) {
  auto throttle = make({.free_failures = 2});
  ASSERT_TRUE(attempt(throttle, "admin", "127.0.0.2", Outcome::failed));
  ASSERT_TRUE(attempt(throttle, "admin", "::ffff:127.4.5.6", Outcome::failed));
  for (const char* address : {"127.0.0.1", "127.0.0.50", "127.255.0.1", "::1", "[::1]"}) {
    EXPECT_FALSE(throttle.begin("admin", address).allowed()) << address;
  }
}

TEST_F(ThrottleTest, IPv6CountsByTheSlash64) {
  auto throttle = make({.free_failures = 1});
  ASSERT_TRUE(attempt(throttle, "admin", "2001:db8:1:2::10", Outcome::failed));
  EXPECT_FALSE(throttle.begin("admin", "2001:db8:1:2:ffff:1:2:3").allowed());
  EXPECT_TRUE(throttle.begin("admin", "2001:db8:1:3::10").allowed()) << "another /64";
}

TEST_F(ThrottleTest, ASourceSprayingManyAccountsIsDelayed) {
  auto throttle = make({.free_failures = 3, .free_source_failures = 5});
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(attempt(throttle, "user" + std::to_string(i), "10.0.0.5", Outcome::failed));
  }
  auto sixth = throttle.begin("user99", "10.0.0.5");
  EXPECT_FALSE(sixth.allowed()) << "a fresh account, but the source used up its free failures";
  EXPECT_EQ(sixth.retry_after, 1s);
  EXPECT_TRUE(attempt(throttle, "user99", "10.0.0.6", Outcome::failed)) << "other sources go on";
}

TEST_F(ThrottleTest, TheSourcesWaitIsTheWaitOfEveryAccountFromIt) {
  auto throttle = make({.free_failures = 3, .free_source_failures = 2});
  EXPECT_EQ(throttle.source_wait("10.0.0.5"), 0ms) << "never seen";
  EXPECT_TRUE(attempt(throttle, "a", "10.0.0.5", Outcome::failed));
  EXPECT_EQ(throttle.source_wait("10.0.0.5"), 0ms) << "one account's failure is not the source's";
  EXPECT_TRUE(attempt(throttle, "b", "10.0.0.5", Outcome::failed));
  EXPECT_EQ(throttle.source_wait("10.0.0.5"), 1s);
  EXPECT_EQ(throttle.source_wait("10.0.0.5", "dashboard"), 0ms) << "channels are apart";
  EXPECT_EQ(throttle.source_wait("10.0.0.6"), 0ms);
  now += 400ms;
  EXPECT_EQ(throttle.source_wait("10.0.0.5"), 600ms);
  EXPECT_EQ(throttle.begin("fresh", "10.0.0.5").retry_after, 600ms) << "what begin() says too";
  now += 600ms;
  EXPECT_EQ(throttle.source_wait("10.0.0.5"), 0ms);
}

TEST_F(ThrottleTest, SuccessesDoNotUseUpTheSourceBudget) {
  auto throttle = make({.free_failures = 3, .free_source_failures = 2});
  for (int i = 0; i < 50; ++i) {
    EXPECT_TRUE(attempt(throttle, "demo" + std::to_string(i), "127.0.0.1", Outcome::succeeded));
  }
  EXPECT_EQ(throttle.tracked_keys(), 0u);
}

TEST_F(ThrottleTest, ConcurrentAttemptsCountWhenTheyStart) {
  auto throttle = make({.free_failures = 3});
  std::vector<LogonThrottle::Attempt> in_flight;
  int refused = 0;
  for (int i = 0; i < 20; ++i) {  // twenty at once, none answered yet
    auto admission = throttle.begin("admin", "127.0.0." + std::to_string(i + 2));
    if (admission.allowed()) {
      in_flight.push_back(*admission.attempt);
    } else {
      ++refused;
    }
  }
  EXPECT_EQ(in_flight.size(), 3u) << "only the free ones reach the password check";
  EXPECT_EQ(refused, 17);
  for (const auto& attempt : in_flight) throttle.finish(attempt, Outcome::failed);
  EXPECT_FALSE(throttle.begin("admin", "127.0.0.1").allowed());
}

TEST_F(ThrottleTest, ConcurrentAttemptsFromManyThreadsCountWhenTheyStart) {
  LogonThrottle throttle({.free_failures = 3});  // the real clock: nothing advances it by 1 s
  std::atomic<int> allowed = 0;
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&] {
      for (int n = 0; n < 50; ++n) {
        if (throttle.begin("admin", "127.0.0.1", "dashboard").allowed()) ++allowed;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(allowed.load(), 3);
}

TEST_F(ThrottleTest, AnUndecidedAttemptIsGivenBack) {
  auto throttle = make({.free_failures = 1});
  auto first = throttle.begin("admin", "10.0.0.5");
  ASSERT_TRUE(first.allowed());
  EXPECT_FALSE(throttle.begin("admin", "10.0.0.5").allowed()) << "reserved while in flight";
  throttle.finish(*first.attempt, Outcome::undecided);  // the checker did not answer
  EXPECT_TRUE(throttle.begin("admin", "10.0.0.5").allowed());
}

TEST_F(ThrottleTest, IdleKeysExpire) {
  auto throttle = make({.free_failures = 1, .forget_after = 30min});
  ASSERT_TRUE(attempt(throttle, "admin", "10.0.0.5", Outcome::failed));
  ASSERT_TRUE(attempt(throttle, "alice", "10.0.0.6", Outcome::failed));
  EXPECT_EQ(throttle.tracked_keys(), 4u);
  now += 30min;
  EXPECT_TRUE(attempt(throttle, "bob", "10.0.0.7", Outcome::succeeded));
  EXPECT_EQ(throttle.tracked_keys(), 0u) << "forgotten once idle for forget_after";
}

TEST_F(ThrottleTest, KeysAreCappedAndTheOldestGoesFirst) {
  auto throttle = make({.free_failures = 1, .max_keys = 100});
  ASSERT_TRUE(attempt(throttle, "admin", "10.0.0.1", Outcome::failed));
  now += 1ms;
  for (int i = 0; i < 1000; ++i) {  // a flood of distinct sources
    attempt(throttle, "x", "10.1." + std::to_string(i / 250) + "." + std::to_string(i % 250),
            Outcome::failed);
    EXPECT_LE(throttle.tracked_keys(), 100u);
  }
  EXPECT_TRUE(throttle.begin("admin", "10.0.0.1").allowed()) << "the oldest key was forgotten";
}

TEST_F(ThrottleTest, AnEmptyAccountCountsAgainstTheSourceOnly) {
  auto throttle = make({.free_failures = 1, .free_source_failures = 2});
  EXPECT_TRUE(attempt(throttle, "", "10.0.0.5", Outcome::failed));
  EXPECT_TRUE(attempt(throttle, "", "10.0.0.5", Outcome::failed));
  EXPECT_FALSE(throttle.begin("", "10.0.0.5").allowed());
  EXPECT_EQ(throttle.tracked_keys(), 1u);
}

TEST(RetryText, RoundsUpToWholeSeconds) {
  EXPECT_EQ(retry_text(std::chrono::milliseconds(1)), "try again in 1 s");
  EXPECT_EQ(retry_text(std::chrono::milliseconds(2001)), "try again in 3 s");
  EXPECT_EQ(retry_seconds(std::chrono::milliseconds(0)), 1);
}

}  // namespace
}  // namespace mp::service
