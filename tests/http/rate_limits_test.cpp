// The merchant token buckets: table tests and a seeded property over random
// request times (admitted in any window of T seconds <= burst + rate * T).
#include "http/rate_limits.hpp"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace payengine::http {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

const steady_time t0{std::chrono::hours{1}};

/// How many of `n` requests at `at` are admitted.
int admitted_of(token_bucket& b, int n, steady_time at) {
  int ok = 0;
  for (int i = 0; i < n; ++i)
    ok += b.take(at).admitted ? 1 : 0;
  return ok;
}

TEST(token_bucket, starts_full_and_refuses_beyond_the_burst) {
  token_bucket b{5, 5, t0};
  EXPECT_EQ(admitted_of(b, 20, t0), 5);
}

TEST(token_bucket, refills_at_the_rate) {
  token_bucket b{5, 5, t0};
  admitted_of(b, 5, t0);
  EXPECT_EQ(admitted_of(b, 10, t0 + 200ms), 1);
  EXPECT_EQ(admitted_of(b, 10, t0 + 1s), 4);
  EXPECT_EQ(admitted_of(b, 10, t0 + 1h), 5); // never above the burst
}

TEST(token_bucket, retry_after_is_the_exact_wait_rounded_up_to_the_ms) {
  struct row {
    uint32_t rate, burst;
    milliseconds since_empty, wait;
  };
  const row table[] = {
    {5, 5, 0ms, 200ms},   {5, 5, 50ms, 150ms}, {1, 1, 0ms, 1000ms},
    {3, 1, 0ms, 334ms},   // 333.33 ms rounded up
    {1000, 1, 0ms, 1ms},  {1, 10, 999ms, 1ms},
  };
  for (const auto& r : table) {
    token_bucket b{r.rate, r.burst, t0};
    admitted_of(b, static_cast<int>(r.burst), t0);
    auto v = b.take(t0 + r.since_empty);
    EXPECT_FALSE(v.admitted) << r.rate << "/" << r.burst;
    EXPECT_EQ(v.retry_after, r.wait) << r.rate << "/" << r.burst;
    EXPECT_TRUE(b.take(t0 + r.since_empty + v.retry_after).admitted) << r.rate << "/" << r.burst;
  }
}

TEST(token_bucket, burst_zero_means_one_second_of_rate_at_least_one) {
  EXPECT_EQ(effective_burst(7, 0), 7u);
  EXPECT_EQ(effective_burst(1, 0), 1u);
  EXPECT_EQ(effective_burst(7, 3), 3u);
  token_bucket b{7, 0, t0};
  EXPECT_EQ(admitted_of(b, 20, t0), 7);
}

TEST(token_bucket, a_clock_going_back_refills_nothing) {
  token_bucket b{10, 1, t0};
  EXPECT_TRUE(b.take(t0).admitted);
  EXPECT_FALSE(b.take(t0 - 1s).admitted);
  EXPECT_FALSE(b.take(t0 + 50ms).admitted); // the last refill was at t0, not t0 - 1 s
  EXPECT_TRUE(b.take(t0 + 100ms).admitted);
}

TEST(token_bucket, huge_rates_and_idle_times_do_not_overflow) {
  token_bucket b{4'000'000'000u, 4'000'000'000u, t0};
  EXPECT_TRUE(b.take(t0 + std::chrono::hours{24 * 365 * 100}).admitted);
  token_bucket c{1'000'000, 1'000'000, t0};
  EXPECT_EQ(admitted_of(c, 1'000'001, t0), 1'000'000);
}

TEST(merchant_rate_limits, rate_zero_is_unlimited_and_keeps_nothing) {
  merchant_rate_limits limits;
  for (int i = 0; i < 1000; ++i)
    EXPECT_TRUE(limits.admit("mch_a", 0, 0, t0).admitted);
  EXPECT_EQ(limits.size(), 0u);
}

TEST(merchant_rate_limits, merchants_are_independent) {
  merchant_rate_limits limits;
  int a = 0, b = 0;
  for (int i = 0; i < 10; ++i) {
    a += limits.admit("mch_a", 1, 2, t0).admitted;
    b += limits.admit("mch_b", 1, 5, t0).admitted;
  }
  EXPECT_EQ(a, 2);
  EXPECT_EQ(b, 5);
}

TEST(merchant_rate_limits, a_changed_limit_applies_at_once) {
  merchant_rate_limits limits;
  for (int i = 0; i < 5; ++i)
    limits.admit("mch_a", 5, 5, t0);
  EXPECT_FALSE(limits.admit("mch_a", 5, 5, t0).admitted);
  int ok = 0;
  for (int i = 0; i < 100; ++i)
    ok += limits.admit("mch_a", 50, 50, t0).admitted;
  EXPECT_EQ(ok, 50);
  EXPECT_TRUE(limits.admit("mch_a", 0, 0, t0).admitted); // unlimited again
}

TEST(merchant_rate_limits, idle_buckets_are_swept_busy_ones_kept) {
  merchant_rate_limits limits{100};
  for (int i = 0; i < 100; ++i)
    limits.admit("mch_" + std::to_string(i), 1, 1, t0);
  EXPECT_EQ(limits.size(), 100u);
  // One second later every bucket is full again: all are dropped, exactly.
  EXPECT_TRUE(limits.admit("mch_new", 1, 1, t0 + 1s).admitted);
  EXPECT_EQ(limits.size(), 1u);
  EXPECT_FALSE(limits.admit("mch_new", 1, 1, t0 + 1s).admitted);
}

TEST(merchant_rate_limits, the_map_stays_bounded_with_many_merchants) {
  merchant_rate_limits limits{64};
  for (int i = 0; i < 100'000; ++i)
    limits.admit("mch_" + std::to_string(i), 10, 1, t0 + milliseconds{i});
  // Only buckets younger than 100 ms (not yet full) can survive a sweep.
  EXPECT_LE(limits.size(), 2 * 128u);
}

/// Seeded: random rates, bursts and request times (bursts, gaps, ties);
/// in every window [t, t + T] the admitted count is <= burst + rate * T.
TEST(token_bucket_property, admitted_in_any_window_is_bounded) {
  for (uint32_t seed = 1; seed <= 200; ++seed) {
    std::mt19937_64 rng{seed};
    uint32_t rate = std::uniform_int_distribution<uint32_t>{1, 50}(rng);
    uint32_t burst = std::uniform_int_distribution<uint32_t>{0, 20}(rng);
    uint32_t eff = effective_burst(rate, burst);
    merchant_rate_limits limits{8};
    std::vector<int64_t> admitted_ns;
    int64_t now_ns = 0;
    std::uniform_int_distribution<int> kind{0, 9};
    std::uniform_int_distribution<int64_t> gap{1, 400'000'000};
    for (int i = 0; i < 400; ++i) {
      int k = kind(rng);
      now_ns += k < 4 ? 0 : k < 8 ? gap(rng) / 100 : gap(rng); // ties, close, far
      auto v = limits.admit("mch_p", rate, burst, t0 + std::chrono::nanoseconds{now_ns});
      if (v.admitted) {
        admitted_ns.push_back(now_ns);
        EXPECT_EQ(v.retry_after.count(), 0);
      } else {
        EXPECT_GT(v.retry_after.count(), 0);
        EXPECT_LE(v.retry_after.count(), 1000 / static_cast<int64_t>(rate) + 1);
      }
    }
    for (size_t a = 0; a < admitted_ns.size(); ++a)
      for (size_t b = a; b < admitted_ns.size(); ++b) {
        int64_t window_ns = admitted_ns[b] - admitted_ns[a];
        int64_t count = static_cast<int64_t>(b - a + 1);
        ASSERT_LE(count * 1'000'000'000, int64_t{eff} * 1'000'000'000 + int64_t{rate} * window_ns)
          << "seed " << seed << " rate " << rate << " burst " << eff;
      }
  }
}

} // namespace
} // namespace payengine::http
