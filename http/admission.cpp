#include "http/admission.hpp"

#include <algorithm>
#include <cassert>

namespace payengine::http {

adaptive_limiter::adaptive_limiter(admission_config cfg) : cfg_(cfg) {
  assert(cfg_.min_limit >= 1 && cfg_.min_limit <= cfg_.max_limit);
  assert(cfg_.smoothing > 0 && cfg_.smoothing <= 1 && cfg_.long_window >= 1);
  limit_ = std::clamp(cfg_.initial_limit, cfg_.min_limit, cfg_.max_limit);
}

std::optional<admission_ticket> adaptive_limiter::try_acquire() {
  std::lock_guard lock{mtx_};
  if (inflight_ >= static_cast<uint32_t>(limit_)) {
    ++shed_;
    return std::nullopt;
  }
  ++inflight_;
  ++admitted_;
  return admission_ticket{inflight_};
}

void adaptive_limiter::release(const admission_ticket& t, std::chrono::nanoseconds latency,
                               bool dropped) {
  std::lock_guard lock{mtx_};
  assert(inflight_ > 0);
  --inflight_;
  update_limit(t, std::max(1e-9, std::chrono::duration<double>(latency).count()), dropped);
}

// Gradient2's update, one sample at a time.
void adaptive_limiter::update_limit(const admission_ticket& t, double rtt_s, bool dropped) {
  if (long_rtt_s_ == 0) {
    long_rtt_s_ = rtt_s;
  } else {
    double k = 2.0 / (cfg_.long_window + 1);
    long_rtt_s_ += k * (rtt_s - long_rtt_s_);
  }
  // After a long overload the average lags far above the recovered
  // latency: let it come down faster, or the limit would grow into the
  // next overload unchecked.
  if (long_rtt_s_ / rtt_s > 2)
    long_rtt_s_ *= 0.95;
  // Too few requests in flight to tell whether more would queue: the
  // limit is not the bottleneck, keep it (and never grow it unused).
  if (!dropped && t.inflight_at_start < limit_ / 2)
    return;
  // 1: no queueing within tolerance; below 1: latency grew, shrink; never
  // below half at once, so that one outlier cannot halve twice.
  double gradient = dropped ? 0.5 : std::clamp(cfg_.rtt_tolerance * long_rtt_s_ / rtt_s, 0.5, 1.0);
  if (!dropped && rtt_s <= cfg_.latency_target_s)
    gradient = 1.0; // fast enough: queueing, not overload
  double proposed = limit_ * gradient + cfg_.queue_size;
  double smoothed = limit_ * (1 - cfg_.smoothing) + proposed * cfg_.smoothing;
  limit_ = std::clamp(smoothed, cfg_.min_limit, cfg_.max_limit);
}

uint32_t adaptive_limiter::limit() const {
  std::lock_guard lock{mtx_};
  return static_cast<uint32_t>(limit_);
}

uint32_t adaptive_limiter::inflight() const {
  std::lock_guard lock{mtx_};
  return inflight_;
}

uint64_t adaptive_limiter::admitted() const {
  std::lock_guard lock{mtx_};
  return admitted_;
}

uint64_t adaptive_limiter::shed() const {
  std::lock_guard lock{mtx_};
  return shed_;
}

double adaptive_limiter::long_rtt_s() const {
  std::lock_guard lock{mtx_};
  return long_rtt_s_;
}

} // namespace payengine::http
