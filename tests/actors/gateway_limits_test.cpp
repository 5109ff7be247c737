// The gateway's circuit breaker, token bucket and latency window
// (actors/gateway_limits.hpp) as tables: time is a number of milliseconds
// after a fixed start, handed to every call; nothing sleeps.
#include "actors/gateway_limits.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace payengine {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using state = circuit_breaker::state;
using decision = circuit_breaker::decision;

const circuit_breaker::clock::time_point t0{std::chrono::hours{1}};

circuit_breaker::clock::time_point at(int64_t ms) {
  return t0 + milliseconds{ms};
}

// --- circuit breaker ---------------------------------------------------------------

/// What happens at a step: an attempt's outcome, or a question.
enum class act {
  fail,          // a non-probe attempt failed
  succeed,       // a non-probe attempt succeeded
  probe_fail,    // the half-open probe failed
  probe_succeed, // the half-open probe succeeded
  admit,         // a new request asks (expect `admitted`); a probe is started
  abandon,       // the admitted probe was never sent
};

struct step {
  int64_t at_ms;
  act what;
  state after;                        // the breaker's state after the step
  std::optional<decision> admitted{}; // for act::admit
};

struct breaker_case {
  std::string name;
  uint32_t failures_max;
  int64_t open_ms;
  std::vector<step> steps;
};

void run(circuit_breaker& b, const step& s) {
  const auto now = at(s.at_ms);
  b.refresh(now);
  switch (s.what) {
    case act::fail: b.record(false, false, now); break;
    case act::succeed: b.record(true, false, now); break;
    case act::probe_fail: b.record(false, true, now); break;
    case act::probe_succeed: b.record(true, true, now); break;
    case act::abandon: b.abandon_probe(); break;
    case act::admit: {
      const auto d = b.admit();
      EXPECT_EQ(d, s.admitted);
      if (d == decision::probe)
        b.start_probe();
      break;
    }
  }
}

const std::vector<breaker_case> breaker_cases = {
  {"opens_after_n_consecutive_failures", 3, 100,
   {{0, act::fail, state::closed},
    {1, act::fail, state::closed},
    {2, act::admit, state::closed, decision::pass},
    {3, act::fail, state::open}}},
  {"a_success_resets_the_count", 3, 100,
   {{0, act::fail, state::closed},
    {1, act::fail, state::closed},
    {2, act::succeed, state::closed},
    {3, act::fail, state::closed},
    {4, act::fail, state::closed},
    {5, act::fail, state::open}}},
  {"fails_fast_while_open", 2, 100,
   {{0, act::fail, state::closed},
    {0, act::fail, state::open},
    {1, act::admit, state::open, decision::refuse},
    {99, act::admit, state::open, decision::refuse},
    {50, act::succeed, state::open}}}, // a late success does not close it
  {"half_open_lets_a_single_probe_through_after_the_open_interval", 1, 100,
   {{0, act::fail, state::open},
    {100, act::admit, state::half_open, decision::probe},
    {101, act::admit, state::half_open, decision::refuse},
    {5'000, act::admit, state::half_open, decision::refuse}}},
  {"closes_when_the_probe_succeeds", 1, 100,
   {{0, act::fail, state::open},
    {100, act::admit, state::half_open, decision::probe},
    {120, act::probe_succeed, state::closed},
    {121, act::admit, state::closed, decision::pass},
    {122, act::fail, state::open}}}, // counting starts afresh
  {"re_opens_when_the_probe_fails", 1, 100,
   {{0, act::fail, state::open},
    {100, act::admit, state::half_open, decision::probe},
    {110, act::probe_fail, state::open},
    {150, act::admit, state::open, decision::refuse},
    {209, act::admit, state::open, decision::refuse},
    {210, act::admit, state::half_open, decision::probe}}},
  {"late_non_probe_answers_decide_nothing_while_half_open", 1, 100,
   {{0, act::fail, state::open},
    {100, act::admit, state::half_open, decision::probe},
    {101, act::fail, state::half_open},
    {102, act::succeed, state::half_open},
    {103, act::probe_succeed, state::closed}}},
  {"an_abandoned_probe_lets_the_next_one_through", 1, 10,
   {{0, act::fail, state::open},
    {10, act::admit, state::half_open, decision::probe},
    {10, act::abandon, state::half_open},
    {11, act::admit, state::half_open, decision::probe}}},
};

TEST(gateway_limits, circuit_breaker_table) {
  for (const auto& c : breaker_cases) {
    SCOPED_TRACE(c.name);
    circuit_breaker b{c.failures_max, milliseconds{c.open_ms}};
    EXPECT_EQ(b.current(), state::closed);
    for (size_t i = 0; i < c.steps.size(); ++i) {
      SCOPED_TRACE("step " + std::to_string(i));
      run(b, c.steps[i]);
      EXPECT_EQ(b.current(), c.steps[i].after);
    }
  }
}

TEST(gateway_limits, circuit_breaker_says_when_to_come_back) {
  circuit_breaker b{1, 100ms};
  b.record(false, false, at(0));
  EXPECT_EQ(b.retry_after(at(10)), 90ms);   // the rest of the open interval
  EXPECT_EQ(b.retry_after(at(99)), 1ms);
  b.refresh(at(100));
  b.start_probe();
  EXPECT_EQ(b.retry_after(at(100)), 100ms); // a probe is deciding
  EXPECT_EQ(b.consecutive_failures(), 1u);
}

// --- token bucket ----------------------------------------------------------------------

struct bucket_step {
  int64_t at_ms;
  bool taken;                   // take() answers
  int64_t wait_ms_after = -1;   // wait_for_one() after the take, when >= 0
};

struct bucket_case {
  std::string name;
  double rate_per_s;
  double burst;
  std::vector<bucket_step> steps;
};

const std::vector<bucket_case> bucket_cases = {
  {"spends_the_burst_then_refuses", 10, 2,
   {{0, true}, {0, true, 100}, {0, false, 100}, {40, false, 60}}},
  {"refills_by_time_at_the_rate", 10, 2,
   {{0, true}, {0, true}, {50, false, 50}, {100, true}, {150, false, 50}, {200, true}}},
  {"never_saves_more_than_the_burst", 1'000, 3,
   {{0, true}, {10'000, true}, {10'000, true}, {10'000, true}, {10'000, false, 1}}},
  {"a_slow_rate_waits_seconds", 0.5, 1,
   {{0, true, 2'000}, {1'000, false, 1'000}, {2'000, true}}},
};

TEST(gateway_limits, token_bucket_table) {
  for (const auto& c : bucket_cases) {
    SCOPED_TRACE(c.name);
    token_bucket bucket{c.rate_per_s, c.burst, at(0)};
    for (size_t i = 0; i < c.steps.size(); ++i) {
      SCOPED_TRACE("step " + std::to_string(i));
      const auto& s = c.steps[i];
      EXPECT_EQ(bucket.take(at(s.at_ms)), s.taken);
      if (s.wait_ms_after >= 0) {
        EXPECT_EQ(bucket.wait_for_one(at(s.at_ms)), milliseconds{s.wait_ms_after});
      }
    }
  }
}

TEST(gateway_limits, token_bucket_counts_its_tokens) {
  token_bucket bucket{10, 2, at(0)};
  EXPECT_DOUBLE_EQ(bucket.tokens(at(0)), 2.0);
  bucket.take(at(0));
  bucket.take(at(0));
  EXPECT_DOUBLE_EQ(bucket.tokens(at(50)), 0.5);
  EXPECT_DOUBLE_EQ(bucket.tokens(at(10'000)), 2.0); // never above the burst
  EXPECT_DOUBLE_EQ(bucket.tokens(at(5'000)), 2.0);  // time going back changes nothing
}

// --- latency window ----------------------------------------------------------------------

struct latency_case {
  std::string name;
  uint32_t capacity;
  std::vector<uint32_t> samples;
  uint32_t last, p50, p99;
};

std::vector<uint32_t> one_to(uint32_t n) {
  std::vector<uint32_t> xs;
  for (uint32_t i = 1; i <= n; ++i)
    xs.push_back(i);
  return xs;
}

const std::vector<latency_case> latency_cases = {
  {"empty_is_zero", 10, {}, 0, 0, 0},
  {"one_sample", 10, {42}, 42, 42, 42},
  {"p50_and_p99_of_a_hundred", 100, one_to(100), 100, 51, 100},
  {"keeps_only_the_recent_samples", 100, one_to(300), 300, 251, 300}, // 201..300
  {"a_slow_tail_shows_in_p99_not_p50", 100,
   [] {
     std::vector<uint32_t> xs(98, 10);
     xs.push_back(900);
     xs.push_back(1'000);
     return xs;
   }(),
   1'000, 10, 1'000},
};

TEST(gateway_limits, latency_window_table) {
  for (const auto& c : latency_cases) {
    SCOPED_TRACE(c.name);
    latency_window w{c.capacity};
    for (auto ms : c.samples)
      w.add(ms);
    EXPECT_EQ(w.last(), c.last);
    EXPECT_EQ(w.percentile(0.50), c.p50);
    EXPECT_EQ(w.percentile(0.99), c.p99);
  }
}

} // namespace
} // namespace payengine
