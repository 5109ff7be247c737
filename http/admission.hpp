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
//
// As in concurrency-limits' WindowedLimit, the limit moves once per window
// of samples, on their mean, not on each sample: on a saturated CPU single
// latencies scatter (p99 several times the median) with no trend, and a
// per-sample update reads every slow one as growth and halves the limit
// under a load that is merely steady.
//
// Two refinements, both for a payment API's mix of requests:
// - Each route keeps its own long-term RTT (a slot per route). A create that
//   commits in 30 ms beside reads answered in 0.3 ms is not queueing; one
//   average over both would read every create as latency growth and shrink
//   the limit under a load that is merely mixed.
// - Requests come in three classes (Stripe's "critical / normal / new
//   work" load shedding): a channel's notification may use the whole hard
//   bound (max_limit), work on an existing order the adaptive limit plus a
//   reserve, and new work (creates) only the adaptive limit and never the
//   reserve, so that orders already under way can finish when the engine
//   is full. Refusing the news that money
//   moved, or a started payment, to take one more new order, would turn
//   overload into stuck orders.

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

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
  /// The share of max_limit that new work may take (0..1]; the rest, the
  /// reserve, is kept for work on what exists, which may also go past the
  /// adaptive limit by the reserve. Rounded so that a small bound still
  /// admits new work up to the whole of it.
  double new_work_share = 0.75;
  /// How many long-term RTTs are kept (one per route; more routes share).
  uint32_t rtt_slots = 32;
  /// Samples per window: the limit moves once per window, on its mean.
  /// Large enough that a few slow commits among fast ones do not read as
  /// a trend (at 4,000 requests/s, 32 samples are 8 ms).
  uint32_t window_samples = 32;
};

/// Who may use how much of the limit.
enum class admission_class : uint8_t {
  /// A channel's notification: the money has moved already; refused, the
  /// channel retries minutes later and the order waits. Up to max_limit.
  critical,
  /// Work on what exists (pay, refund, read an order). Up to the limit
  /// plus the reserve (see new_work_share), within max_limit.
  normal,
  /// New orders and wallets. Up to the limit, never into the reserve;
  /// refused first.
  new_work,
};

/// Proof of an admitted request; give it back with release().
struct admission_ticket {
  uint32_t inflight_at_start = 0; // including this one
  uint32_t slot = 0;              // whose long-term RTT the latency is compared with
};

class adaptive_limiter {
public:
  explicit adaptive_limiter(admission_config cfg = {});

  /// A ticket, or nothing when the request's class has no room (shed it):
  /// see admission_class. `slot` names the route (any number; reduced
  /// modulo rtt_slots).
  std::optional<admission_ticket> try_acquire(admission_class c = admission_class::normal,
                                              uint32_t slot = 0);
  /// How many requests of class `c` may be in flight now.
  uint32_t room(admission_class c) const;

  /// The figures operators see, read together.
  struct figures {
    uint32_t inflight, limit, room_new_work, room_normal;
  };
  figures snapshot() const;

  /// The request of `t` finished after `latency`; `dropped`: it timed out
  /// or failed for lack of capacity (its latency says less than that).
  void release(const admission_ticket& t, std::chrono::nanoseconds latency, bool dropped);

  uint32_t limit() const;
  uint32_t inflight() const;
  uint64_t admitted() const;
  uint64_t shed() const;
  /// The long-term RTT estimate of `slot` in seconds (0 before its first
  /// sample).
  double long_rtt_s(uint32_t slot = 0) const;

private:
  void add_sample(const admission_ticket& t, double rtt_s, bool dropped);
  void update_limit();
  uint32_t room_locked(admission_class c) const;

  const admission_config cfg_;
  mutable std::mutex mtx_;
  double limit_;
  std::vector<double> long_rtt_s_;  // per slot: exponential average of its samples
  std::vector<double> short_rtt_s_; // per slot: the same over about a window
  uint32_t inflight_ = 0;
  struct window {
    uint32_t samples = 0;
    double ratio_sum = 0; // each latency over its route's long-term RTT
    double rtt_sum_s = 0;
    uint32_t max_inflight = 0;
    bool dropped = false;
  } window_;
  uint64_t admitted_ = 0;
  uint64_t shed_ = 0;
};

} // namespace payengine::http
