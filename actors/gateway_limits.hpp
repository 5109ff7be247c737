#pragma once
// What a gateway keeps about the health and the load of its channel, as
// plain code (no CAF, no I/O, no clock of its own: every call takes `now`,
// so tests drive time): the circuit breaker, the token bucket and the
// window of recent latencies. The gateway actor (actors/gateway.cpp) owns
// one of each; tests/actors/gateway_limits_test.cpp walks them as tables.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace payengine {

/// Opens after `failures_max` consecutive failed attempts; while open it
/// refuses everything; after `open_for` it lets exactly one probe through
/// (half-open): the probe's success closes it, its failure re-opens it.
class circuit_breaker {
public:
  using clock = std::chrono::steady_clock;
  enum class state : uint8_t { closed, open, half_open };
  enum class decision : uint8_t { pass, probe, refuse };

  circuit_breaker(uint32_t failures_max, std::chrono::milliseconds open_for);

  /// May move open -> half_open; call before deciding.
  state refresh(clock::time_point now);
  /// What to do with a new request; no side effects (see start_probe).
  decision admit() const;
  /// The admitted request is the half-open probe.
  void start_probe();
  /// The probe was admitted but never sent: let another one through.
  void abandon_probe();
  /// The outcome of an attempt; `probe`: it was the probe's.
  void record(bool healthy, bool probe, clock::time_point now);
  /// When a refused caller should come back.
  std::chrono::milliseconds retry_after(clock::time_point now) const;

  state current() const { return state_; }
  uint32_t consecutive_failures() const { return failures_; }

private:
  void open(clock::time_point now);

  uint32_t failures_max_;
  std::chrono::milliseconds open_for_;
  state state_ = state::closed;
  uint32_t failures_ = 0;
  bool probing_ = false;
  clock::time_point open_until_{};
};

std::string_view to_string(circuit_breaker::state x);

/// `rate_per_s` tokens a second, at most `burst` saved up; one per call.
class token_bucket {
public:
  using clock = std::chrono::steady_clock;

  token_bucket(double rate_per_s, double burst, clock::time_point now);

  bool take(clock::time_point now);
  double tokens(clock::time_point now);
  /// Until one token is there (at least 1 ms).
  std::chrono::milliseconds wait_for_one(clock::time_point now);

private:
  void refill(clock::time_point now);

  double rate_per_s_;
  double burst_;
  double tokens_;
  clock::time_point refilled_at_;
};

/// The last `capacity` latencies, for p50 / p99.
class latency_window {
public:
  explicit latency_window(uint32_t capacity);
  void add(uint32_t ms);
  uint32_t last() const { return last_; }
  /// q in [0, 1]; 0 when empty.
  uint32_t percentile(double q) const;

private:
  std::vector<uint32_t> samples_;
  size_t capacity_;
  size_t next_ = 0;
  uint32_t last_ = 0;
};

} // namespace payengine
