// The adaptive concurrency limit: it grows under steady latency, falls when
// latency climbs above the long-term RTT, stays in its bounds, never admits
// beyond its limit, keeps a reserve from new work for what is under way and
// lets the channels' notifications past it (seeded property over random
// latency sequences and request classes).
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
  c.new_work_share = 1; // no reserve: every class's room is the limit
  c.window_samples = 16;
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

TEST(adaptive_limiter, new_work_leaves_a_reserve_that_work_in_progress_and_callbacks_may_use) {
  auto c = small_config(); // limit 10, max 100
  c.new_work_share = 0.75; // a reserve of 25
  adaptive_limiter l{c};
  EXPECT_EQ(l.room(admission_class::new_work), 10u);
  EXPECT_EQ(l.room(admission_class::normal), 35u);
  EXPECT_EQ(l.room(admission_class::critical), 100u);
  std::vector<admission_ticket> held;
  while (auto t = l.try_acquire(admission_class::new_work))
    held.push_back(*t);
  EXPECT_EQ(held.size(), 10u);
  EXPECT_FALSE(l.try_acquire(admission_class::new_work)); // the loop's refusal was the first
  // The reserve: payments on existing orders still get in, 25 of them.
  for (int i = 0; i < 25; ++i) {
    auto t = l.try_acquire(admission_class::normal);
    ASSERT_TRUE(t) << i;
    held.push_back(*t);
  }
  EXPECT_FALSE(l.try_acquire(admission_class::normal));
  // Past that, only the news that money moved, up to the hard bound.
  for (int i = 0; i < 65; ++i) {
    auto t = l.try_acquire(admission_class::critical);
    ASSERT_TRUE(t) << i;
    held.push_back(*t);
  }
  EXPECT_FALSE(l.try_acquire(admission_class::critical));
  EXPECT_EQ(l.inflight(), 100u);
  EXPECT_EQ(l.shed(), 4u); // new work twice, one normal, one critical
  for (const auto& t : held)
    l.release(t, 10ms, false);
  EXPECT_EQ(l.inflight(), 0u);
}

TEST(adaptive_limiter, at_its_max_the_limit_still_keeps_the_reserve_from_new_work) {
  auto c = small_config();
  c.initial_limit = 100;
  c.new_work_share = 0.75;
  adaptive_limiter l{c};
  EXPECT_EQ(l.room(admission_class::new_work), 75u);
  EXPECT_EQ(l.room(admission_class::normal), 100u);
  EXPECT_EQ(l.room(admission_class::critical), 100u);
  // A small bound rounds the reserve down: new work may use all of 2.
  c.min_limit = 1;
  c.max_limit = c.initial_limit = 2;
  EXPECT_EQ(adaptive_limiter{c}.room(admission_class::new_work), 2u);
  c.max_limit = c.initial_limit = 4;
  EXPECT_EQ(adaptive_limiter{c}.room(admission_class::new_work), 3u);
}

/// Keeps the limiter full with a mix of two routes: half the requests a
/// fast read (`fast`), half a slower write (`slow`), released alternately.
void saturate_mixed(adaptive_limiter& l, uint32_t fast_slot, uint32_t slow_slot,
                    std::chrono::nanoseconds fast, std::chrono::nanoseconds slow) {
  std::vector<admission_ticket> held;
  for (uint32_t i = 0;; ++i) {
    auto t = l.try_acquire(admission_class::normal, i % 2 ? slow_slot : fast_slot);
    if (!t)
      break;
    held.push_back(*t);
  }
  for (size_t i = 0; i < held.size(); ++i)
    l.release(held[i], i % 2 ? slow : fast, false);
}

TEST(adaptive_limiter, slower_routes_joining_the_mix_are_not_read_as_queueing) {
  // Reads only (slot 0), then as many 100-times-slower creates join them,
  // in slot `create_slot`.
  auto reads_then_creates = [](adaptive_limiter& l, uint32_t create_slot) {
    for (int i = 0; i < 300; ++i)
      saturate_mixed(l, 0, 0, 300us, 300us);
    EXPECT_EQ(l.limit(), 100u);
    for (int i = 0; i < 20; ++i)
      saturate_mixed(l, 0, create_slot, 300us, 30ms);
  };
  // Each route against its own long-term RTT: the new mix is no growth.
  adaptive_limiter per_route{small_config()};
  reads_then_creates(per_route, 1);
  EXPECT_EQ(per_route.limit(), 100u);
  EXPECT_NEAR(per_route.long_rtt_s(0), 0.0003, 0.00005);
  EXPECT_NEAR(per_route.long_rtt_s(1), 0.030, 0.005);
  // One average over both reads every create as 100 times the reads.
  adaptive_limiter one_average{small_config()};
  reads_then_creates(one_average, 0);
  EXPECT_LT(one_average.limit(), 80u);
  // And a real rise on both routes still shrinks the per-route limit.
  for (int i = 0; i < 5; ++i)
    saturate_mixed(per_route, 0, 1, 3ms, 300ms);
  EXPECT_LT(per_route.limit(), 50u);
}

/// Seeded: a full limiter under a steady load whose latencies scatter as
/// they do on a saturated CPU (lognormal, p99 about 4x the median), with no
/// trend. That is no reason to refuse anyone: the limit holds near its max.
TEST(adaptive_limiter_property, steady_scattered_latency_does_not_shrink_the_limit) {
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    std::mt19937_64 rng{seed};
    adaptive_limiter l{small_config()};
    std::lognormal_distribution<double> scatter{0, 0.6};
    for (int round = 0; round < 400; ++round) {
      std::vector<admission_ticket> held;
      while (auto t = l.try_acquire())
        held.push_back(*t);
      for (const auto& t : held)
        l.release(t, std::chrono::nanoseconds{static_cast<int64_t>(30e6 * scatter(rng))}, false);
    }
    EXPECT_GE(l.limit(), 90u) << "seed " << seed;
  }
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
    c.new_work_share = std::uniform_real_distribution<double>{0.05, 1}(rng);
    c.rtt_slots = std::uniform_int_distribution<uint32_t>{1, 8}(rng);
    adaptive_limiter l{c};
    std::deque<admission_ticket> held;
    uint64_t tries = 0;
    double base_ms = std::uniform_real_distribution<double>{0.1, 50}(rng);
    for (int step = 0; step < 5000; ++step) {
      if (step % 500 == 0) // a new phase: the baseline moves
        base_ms = std::uniform_real_distribution<double>{0.1, 50}(rng);
      if (std::bernoulli_distribution{0.55}(rng)) {
        ++tries;
        auto cls = static_cast<admission_class>(std::uniform_int_distribution<int>{0, 2}(rng));
        auto before = l.inflight();
        auto room = l.room(cls);
        if (auto t = l.try_acquire(cls, std::uniform_int_distribution<uint32_t>{0, 20}(rng))) {
          held.push_back(*t);
          ASSERT_LT(before, room) << "seed " << seed; // admitted only with room in its class
          ASSERT_LE(l.inflight(), static_cast<uint32_t>(c.max_limit)) << "seed " << seed;
          ASSERT_LT(t->slot, c.rtt_slots) << "seed " << seed;
        } else {
          ASSERT_GE(before, room) << "seed " << seed; // refused only when full
        }
        // New work never takes more than the limit; the reserve never
        // goes negative.
        ASSERT_LE(l.room(admission_class::new_work), l.room(admission_class::normal)) << "seed " << seed;
        ASSERT_GE(l.room(admission_class::new_work), 1u) << "seed " << seed;
        ASSERT_LE(l.room(admission_class::normal), l.room(admission_class::critical)) << "seed " << seed;
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
