#pragma once
// Per-merchant request rate limits (API.md v1.1 "Overload"): a token bucket
// per merchant. Pure: no I/O, no clock of its own (the caller passes `now`),
// so tests drive time.

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace payengine::http {

using steady_time = std::chrono::steady_clock::time_point;

/// What a bucket says about one request.
struct rate_verdict {
  bool admitted = true;
  /// When refused: the exact wait until one token is there (rounded up to
  /// the millisecond). The caller rounds it up to whole seconds for
  /// Retry-After. Zero when admitted.
  std::chrono::milliseconds retry_after{0};
};

/// `rate_per_s` tokens a second, at most `burst` saved up; starts full.
/// Tokens are counted in token-nanoseconds (1 token = 1e9 units), integers
/// only: a refill is exact, so no rounding can ever admit one request more
/// than burst + rate * T in a window of T seconds.
class token_bucket {
public:
  /// rate_per_s >= 1; burst 0 means max(1, rate_per_s).
  token_bucket(uint32_t rate_per_s, uint32_t burst, steady_time now);

  rate_verdict take(steady_time now);

  /// True when the bucket would be full at `now`: forgetting it changes nothing.
  bool full_at(steady_time now) const;

  uint32_t rate_per_s() const { return rate_; }
  uint32_t burst() const { return burst_; }

private:
  void refill(steady_time now);

  uint32_t rate_;
  uint32_t burst_;
  int64_t units_;  // tokens * 1e9
  steady_time at_; // of the last refill; never goes back
};

/// burst 0 means max(1, rate): one second's worth.
uint32_t effective_burst(uint32_t rate_per_s, uint32_t burst);

/// The buckets of all merchants, thread-safe. A merchant's rate and burst
/// come with each request (from its cached record), so a changed limit
/// takes effect at the next request: the bucket is rebuilt (full).
class merchant_rate_limits {
public:
  /// The map is swept when it reaches `sweep_at` entries: buckets that have
  /// filled up again are dropped, which is exact (a new bucket starts full).
  explicit merchant_rate_limits(size_t sweep_at = 4'096) : sweep_at_(sweep_at), next_sweep_(sweep_at) {}

  /// rate_per_s 0: unlimited (always admitted, nothing kept).
  rate_verdict admit(const std::string& merchant_id, uint32_t rate_per_s, uint32_t burst,
                     steady_time now);

  size_t size() const;

private:
  void sweep(steady_time now);

  mutable std::mutex mtx_;
  std::unordered_map<std::string, token_bucket> buckets_;
  size_t sweep_at_;
  size_t next_sweep_; // grows while the buckets are busy, so sweeps stay rare
};

} // namespace payengine::http
