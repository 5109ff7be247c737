// The idle sweep's pacing (plan_idle_sweep): a registry shard asks at most a
// batch of idle order actors per tick, and looks again soon while more are
// due. Orders created in one burst go idle in one burst; asking them all in
// one tick put tens of thousands of jobs in the scheduler's queue ahead of
// live requests (docs/benchmarks.md, "Passivations spread over time").
#include "actors/order_registry.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <random>
#include <vector>

namespace payengine {
namespace {

using std::chrono::milliseconds;

registry_settings settings_with(uint32_t batch, uint32_t pace_ms = 10, uint32_t idle_ms = 60'000) {
  registry_settings s;
  s.idle_sweep_batch = batch;
  s.idle_sweep_pace_ms = pace_ms;
  s.order.idle_ms = idle_ms;
  return s;
}

/// The LRU as the sweep sees it: each actor's idle time so far, in ms,
/// least recently routed first.
idle_sweep_plan plan_for(const std::vector<int>& idle_for_ms, const registry_settings& s) {
  auto due = [&](int idle_for) { return idle_for >= static_cast<int>(s.order.idle_ms); };
  return plan_idle_sweep(idle_for_ms.begin(), idle_for_ms.end(), due, s);
}

TEST(idle_sweep, asks_the_due_actors_at_the_front_of_the_lru_by_table) {
  const int due = 60'000, fresh = 10;
  struct row {
    const char* what;
    uint32_t batch;
    std::vector<int> lru;
    size_t ask;
    milliseconds next;
  } rows[] = {
    {"no actor", 32, {}, 0, milliseconds{15'000}},
    {"none due", 32, {fresh, fresh}, 0, milliseconds{15'000}},
    {"fewer due than a batch", 32, {due, due, fresh}, 2, milliseconds{15'000}},
    {"all due, fewer than a batch", 32, {due, due, due}, 3, milliseconds{15'000}},
    {"exactly a batch due: nothing left for a soon tick", 2, {due, due, fresh}, 2, milliseconds{15'000}},
    {"exactly a batch due, the LRU ends", 2, {due, due}, 2, milliseconds{15'000}},
    {"more due than a batch: the next tick after the pace", 2, {due, due, due, fresh}, 2, milliseconds{10}},
    {"the walk stops at the first not due", 32, {due, fresh, due}, 1, milliseconds{15'000}},
    {"a batch of 0 counts as 1", 0, {due, due}, 1, milliseconds{10}},
  };
  for (const auto& r : rows) {
    auto plan = plan_for(r.lru, settings_with(r.batch));
    EXPECT_EQ(plan.ask, r.ask) << r.what;
    EXPECT_EQ(plan.next, r.next) << r.what;
  }
}

TEST(idle_sweep, the_quiet_interval_is_a_quarter_of_the_idle_time_and_at_least_10_ms) {
  EXPECT_EQ(plan_for({}, settings_with(32, 10, 60'000)).next, milliseconds{15'000});
  EXPECT_EQ(plan_for({}, settings_with(32, 10, 30)).next, milliseconds{10});
  EXPECT_EQ(plan_for({100, 100, 100}, settings_with(1, 0, 30)).next, milliseconds{1})
    << "a pace of 0 would spin: at least 1 ms";
}

/// Seeded: a burst of orders of random size goes idle together (in odd
/// rounds with a few stragglers routed later), with random batches, paces
/// and idle times. Driving a shard's ticks by the plan's own `next` asks
/// every actor, none before it is due, never more than a batch per tick,
/// and none a second time while another still waits for its first ask
/// (the LRU keeps them in order, even when a burst takes longer than an
/// idle time to drain); a burst alone is asked at the first quiet tick
/// after it is due and then a batch every pace.
TEST(idle_sweep, a_burst_drains_a_batch_per_tick_and_each_actor_is_asked_once_seeded) {
  std::mt19937 rng{20261203};
  for (int round = 0; round < 200; ++round) {
    const uint32_t batch = std::uniform_int_distribution<uint32_t>{1, 64}(rng);
    const uint32_t pace = std::uniform_int_distribution<uint32_t>{1, 50}(rng);
    const uint32_t idle = std::uniform_int_distribution<uint32_t>{1'000, 120'000}(rng);
    const auto s = settings_with(batch, pace, idle);
    const int burst = std::uniform_int_distribution<int>{1, 2'000}(rng);
    const int late = round % 2 ? std::uniform_int_distribution<int>{1, 20}(rng) : 0;
    struct actor {
      int id;
      int64_t at; // last routed or asked, ms
    };
    std::deque<actor> lru; // least recently routed first
    for (int i = 0; i < burst; ++i)
      lru.push_back({i, 0});
    for (int i = 0; i < late; ++i)
      lru.push_back({burst + i, int64_t{idle} / 2 + i});
    std::vector<int> asked(burst + late, 0);
    std::vector<int64_t> asked_at(burst + late, -1);
    int64_t now = 0;
    int waiting = burst + late; // not asked yet
    const int64_t horizon = 2 * int64_t{idle} + int64_t{burst + late} * pace;
    while (waiting > 0 && now <= horizon) {
      auto due = [&](const actor& a) { return now - a.at >= int64_t{idle}; };
      auto plan = plan_idle_sweep(lru.begin(), lru.end(), due, s);
      ASSERT_LE(plan.ask, batch) << "round " << round;
      for (size_t n = 0; n < plan.ask; ++n) {
        auto a = lru.front();
        lru.pop_front();
        ASSERT_GE(now - a.at, int64_t{idle}) << "round " << round << ": asked before it was idle";
        if (asked[a.id]++ == 0)
          waiting--;
        asked_at[a.id] = now;
        a.at = now;
        lru.push_back(a);
      }
      now += plan.next.count();
    }
    for (int id = 0; id < burst + late; ++id)
      ASSERT_EQ(asked[id], 1) << "round " << round << " actor " << id;
    if (late == 0) {
      const int64_t quiet = std::max<int64_t>(10, idle / 4);
      const int64_t first = (int64_t{idle} + quiet - 1) / quiet * quiet;
      const int64_t ticks = (burst + batch - 1) / batch;
      EXPECT_EQ(asked_at.front(), first) << "round " << round;
      EXPECT_EQ(asked_at.back(), first + (ticks - 1) * pace) << "round " << round;
    }
  }
}

} // namespace
} // namespace payengine
