#pragma once
// An adaptive concurrency limit for the API (DESIGN.md "Admission control"):
// requests beyond it are refused at once (429/503 with Retry-After) instead
// of queueing until they time out. Pure: no I/O, no clock; the caller
// measures each request's latency and reports it on release.
//
// The algorithm is Netflix concurrency-limits' Gradient2. Why not the others:
// - AIMD only backs off on drops (timeouts, errors), i.e. after the queue
//   has already grown to the request deadline; it cannot keep latency low.
// - Vegas compares against the minimum RTT ever seen; the engine's no-load
//   latency moves (group commit batch sizes, the database's own load), and
//   a stale minimum makes Vegas shrink the limit for good.
// - Gradient2 compares a short-term RTT (the last sample) with a long-term
//   exponential average that follows a moving baseline, and only grows the
//   limit when the limit is actually used (not when the client is idle).

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>

namespace payengine::http {

struct admission_config {
  double initial_limit = 20;
  double min_limit = 4;
  double max_limit = 1'000;
  /// Latency up to this factor above the long-term RTT is not queueing.
  double rtt_tolerance = 1.5;
  /// Weight of a new limit against the old one (0..1].
  double smoothing = 0.2;
  /// Samples in the long-term RTT's exponential average.
  uint32_t long_window = 600;
  /// Added at each sample: how much queueing the limit probes for.
  double queue_size = 4;
  /// A request answered within this many seconds never shrinks the limit:
  /// sub-millisecond reads that grow to a few milliseconds under load are
  /// queueing, but not overload worth refusing anyone for (0: off).
  double latency_target_s = 0;
};

/// Proof of an admitted request; give it back with release().
struct admission_ticket {
  uint32_t inflight_at_start = 0; // including this one
};

class adaptive_limiter {
public:
  explicit adaptive_limiter(admission_config cfg = {});

  /// A ticket, or nothing when `inflight() >= limit()` (shed the request).
  std::optional<admission_ticket> try_acquire();

  /// The request of `t` finished after `latency`; `dropped`: it timed out
  /// or failed for lack of capacity (its latency says less than that).
  void release(const admission_ticket& t, std::chrono::nanoseconds latency, bool dropped);

  uint32_t limit() const;
  uint32_t inflight() const;
  uint64_t admitted() const;
  uint64_t shed() const;
  /// The long-term RTT estimate in seconds (0 before the first sample).
  double long_rtt_s() const;

private:
  void update_limit(const admission_ticket& t, double rtt_s, bool dropped);

  const admission_config cfg_;
  mutable std::mutex mtx_;
  double limit_;
  double long_rtt_s_ = 0; // exponential average of the samples
  uint32_t inflight_ = 0;
  uint64_t admitted_ = 0;
  uint64_t shed_ = 0;
};

} // namespace payengine::http
