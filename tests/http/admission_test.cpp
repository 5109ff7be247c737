// The adaptive concurrency limit: it grows under steady latency, falls when
// latency climbs above the long-term RTT, stays in its bounds, and never
// admits beyond its limit (seeded property over random latency sequences).
#include "http/admission.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <random>

namespace payengine::http {
namespace {

using namespace std::chrono_literals;

admission_config small_config() {
  admission_config c;
  c.initial_limit = 10;
  c.min_limit = 2;
  c.max_limit = 100;
  return c;
}

/// Keeps the limiter full: acquires until refused, then releases every
/// ticket with `latency`. Returns how many were admitted.
uint32_t saturate(adaptive_limiter& l, std::chrono::nanoseconds latency, bool dropped = false) {
  std::vector<admission_ticket> held;
  while (auto t = l.try_acquire()) {
    EXPECT_LE(l.inflight(), l.limit());
    held.push_back(*t);
  }
  for (const auto& t : held)
    l.release(t, latency, dropped);
  return static_cast<uint32_t>(held.size());
}

TEST(adaptive_limiter, refuses_at_the_limit_and_counts) {
  adaptive_limiter l{small_config()};
  EXPECT_EQ(saturate(l, 10ms), 10u);
  EXPECT_EQ(l.admitted(), 10u);
  EXPECT_EQ(l.shed(), 1u);
  EXPECT_EQ(l.inflight(), 0u);
}

TEST(adaptive_limiter, constant_latency_grows_the_limit_to_its_max) {
  adaptive_limiter l{small_config()};
  for (int i = 0; i < 200; ++i)
    saturate(l, 10ms);
  EXPECT_EQ(l.limit(), 100u);
}

TEST(adaptive_limiter, an_idle_client_does_not_grow_the_limit) {
  adaptive_limiter l{small_config()};
  for (int i = 0; i < 1000; ++i) { // one request at a time: the limit is not what holds it back
    auto t = l.try_acquire();
    ASSERT_TRUE(t);
    l.release(*t, 10ms, false);
  }
  EXPECT_EQ(l.limit(), 10u);
}

TEST(adaptive_limiter, latency_well_above_the_long_term_rtt_shrinks_the_limit) {
  adaptive_limiter l{small_config()};
  for (int i = 0; i < 200; ++i)
    saturate(l, 10ms);
  ASSERT_EQ(l.limit(), 100u);
  for (int i = 0; i < 5; ++i)
    saturate(l, 100ms);
  EXPECT_LT(l.limit(), 50u);
  EXPECT_GE(l.limit(), 2u);
}

TEST(adaptive_limiter, latency_within_the_target_never_shrinks_the_limit) {
  auto c = small_config();
  c.latency_target_s = 0.020;
  adaptive_limiter l{c};
  for (int i = 0; i < 200; ++i)
    saturate(l, 100us);
  ASSERT_EQ(l.limit(), 100u);
  for (int i = 0; i < 50; ++i) // 50x the long-term RTT, yet answered in 5 ms
    saturate(l, 5ms);
  EXPECT_EQ(l.limit(), 100u);
  for (int i = 0; i < 5; ++i) // past the target: overload
    saturate(l, 100ms);
  EXPECT_LT(l.limit(), 50u);
}

TEST(adaptive_limiter, drops_shrink_the_limit_down_to_its_min) {
  adaptive_limiter l{small_config()};
  for (int i = 0; i < 200; ++i)
    saturate(l, 10ms, true);
  EXPECT_EQ(l.limit(), 8u); // 0.5 * L + queue_size, smoothed: L -> 2 * queue_size
  admission_config c = small_config();
  c.queue_size = 0;
  adaptive_limiter m{c};
  for (int i = 0; i < 200; ++i)
    saturate(m, 10ms, true);
  EXPECT_EQ(m.limit(), 2u);
}

TEST(adaptive_limiter, recovers_after_latency_comes_back_down) {
  adaptive_limiter l{small_config()};
  for (int i = 0; i < 50; ++i)
    saturate(l, 10ms);
  for (int i = 0; i < 20; ++i)
    saturate(l, 200ms);
  auto low = l.limit();
  for (int i = 0; i < 200; ++i)
    saturate(l, 10ms);
  EXPECT_GT(l.limit(), low);
  EXPECT_EQ(l.limit(), 100u);
}

/// Seeded: random acquire/release interleavings with random latencies
/// (steady phases, spikes, drops). The limit stays within its bounds, an
/// acquire never takes inflight above the limit, and the counters add up.
TEST(adaptive_limiter_property, bounds_hold_over_random_latencies) {
  for (uint32_t seed = 1; seed <= 100; ++seed) {
    std::mt19937_64 rng{seed};
    admission_config c;
    c.min_limit = std::uniform_int_distribution<int>{1, 10}(rng);
    c.max_limit = c.min_limit + std::uniform_int_distribution<int>{0, 200}(rng);
    c.initial_limit = std::uniform_real_distribution<double>{0, 300}(rng);
    adaptive_limiter l{c};
    std::deque<admission_ticket> held;
    uint64_t tries = 0;
    double base_ms = std::uniform_real_distribution<double>{0.1, 50}(rng);
    for (int step = 0; step < 5000; ++step) {
      if (step % 500 == 0) // a new phase: the baseline moves
        base_ms = std::uniform_real_distribution<double>{0.1, 50}(rng);
      if (std::bernoulli_distribution{0.55}(rng)) {
        ++tries;
        if (auto t = l.try_acquire()) {
          held.push_back(*t);
          ASSERT_LE(l.inflight(), l.limit()) << "seed " << seed;
        }
      } else if (!held.empty()) {
        double ms = base_ms * std::lognormal_distribution<double>{0, 0.5}(rng);
        if (std::bernoulli_distribution{0.02}(rng))
          ms *= 20; // a spike
        bool dropped = std::bernoulli_distribution{0.01}(rng);
        l.release(held.front(), std::chrono::nanoseconds{static_cast<int64_t>(ms * 1e6)}, dropped);
        held.pop_front();
      }
      ASSERT_GE(l.limit(), static_cast<uint32_t>(c.min_limit)) << "seed " << seed;
      ASSERT_LE(l.limit(), static_cast<uint32_t>(c.max_limit)) << "seed " << seed;
      ASSERT_EQ(l.inflight(), held.size()) << "seed " << seed;
    }
    EXPECT_EQ(l.admitted() + l.shed(), tries) << "seed " << seed;
  }
}

} // namespace
} // namespace payengine::http
