#include "http/admission.hpp"

#include <algorithm>
#include <cassert>

namespace payengine::http {

adaptive_limiter::adaptive_limiter(admission_config cfg) : cfg_(cfg) {
  assert(cfg_.min_limit >= 1 && cfg_.min_limit <= cfg_.max_limit);
  assert(cfg_.smoothing > 0 && cfg_.smoothing <= 1 && cfg_.long_window >= 1);
  assert(cfg_.new_work_share > 0 && cfg_.new_work_share <= 1 && cfg_.rtt_slots >= 1
         && cfg_.window_samples >= 1);
  limit_ = std::clamp(cfg_.initial_limit, cfg_.min_limit, cfg_.max_limit);
  long_rtt_s_.assign(cfg_.rtt_slots, 0.0);
  short_rtt_s_.assign(cfg_.rtt_slots, 0.0);
}

uint32_t adaptive_limiter::room_locked(admission_class c) const {
  auto limit = static_cast<uint32_t>(limit_);
  auto max = static_cast<uint32_t>(cfg_.max_limit);
  // The reserve rounds down: a hard bound of 2 lets new work use both.
  auto reserve = static_cast<uint32_t>(cfg_.max_limit * (1 - cfg_.new_work_share));
  switch (c) {
    case admission_class::critical:
      return max;
    case admission_class::normal: // may go past the adaptive limit by the reserve
      return std::min(max, limit + reserve);
    case admission_class::new_work:
      return std::min(limit, max - reserve);
  }
  return limit;
}

uint32_t adaptive_limiter::room(admission_class c) const {
  std::lock_guard lock{mtx_};
  return room_locked(c);
}

adaptive_limiter::figures adaptive_limiter::snapshot() const {
  std::lock_guard lock{mtx_};
  return {inflight_, static_cast<uint32_t>(limit_), room_locked(admission_class::new_work),
          room_locked(admission_class::normal)};
}

std::optional<admission_ticket> adaptive_limiter::try_acquire(admission_class c, uint32_t slot) {
  std::lock_guard lock{mtx_};
  if (inflight_ >= room_locked(c)) {
    ++shed_;
    return std::nullopt;
  }
  ++inflight_;
  ++admitted_;
  return admission_ticket{inflight_, slot % cfg_.rtt_slots};
}

void adaptive_limiter::release(const admission_ticket& t, std::chrono::nanoseconds latency,
                               bool dropped) {
  std::lock_guard lock{mtx_};
  assert(inflight_ > 0);
  --inflight_;
  add_sample(t, std::max(1e-9, std::chrono::duration<double>(latency).count()), dropped);
}

void adaptive_limiter::add_sample(const admission_ticket& t, double rtt_s, bool dropped) {
  double& long_rtt = long_rtt_s_[t.slot];
  double& short_rtt = short_rtt_s_[t.slot];
  if (long_rtt == 0)
    long_rtt = short_rtt = rtt_s;
  window_.samples++;
  window_.ratio_sum += rtt_s / long_rtt; // against the average before this sample
  window_.rtt_sum_s += rtt_s;
  window_.max_inflight = std::max(window_.max_inflight, t.inflight_at_start);
  window_.dropped = window_.dropped || dropped;
  long_rtt += 2.0 / (cfg_.long_window + 1) * (rtt_s - long_rtt);
  short_rtt += 2.0 / (cfg_.window_samples + 1) * (rtt_s - short_rtt);
  // After a long overload the average lags far above the recovered
  // latency: let it come down faster, or the limit would grow into the
  // next overload unchecked. (On the short-term average: one fast sample
  // among scattered ones is no recovery.)
  if (long_rtt / short_rtt > 2)
    long_rtt *= 0.95;
  if (window_.samples >= cfg_.window_samples) {
    update_limit();
    window_ = {};
  }
}

// Gradient2's update, once per window.
void adaptive_limiter::update_limit() {
  // Too few requests in flight to tell whether more would queue: the
  // limit is not the bottleneck, keep it (and never grow it unused).
  if (!window_.dropped && window_.max_inflight < limit_ / 2)
    return;
  // 1: no queueing within tolerance; below 1: latency grew, shrink; never
  // below half at once.
  double mean_ratio = window_.ratio_sum / window_.samples;
  double gradient = window_.dropped ? 0.5 : std::clamp(cfg_.rtt_tolerance / mean_ratio, 0.5, 1.0);
  if (!window_.dropped && window_.rtt_sum_s / window_.samples <= cfg_.latency_target_s)
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

double adaptive_limiter::long_rtt_s(uint32_t slot) const {
  std::lock_guard lock{mtx_};
  return long_rtt_s_[slot % cfg_.rtt_slots];
}

} // namespace payengine::http
