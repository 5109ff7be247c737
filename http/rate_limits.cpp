#include "http/rate_limits.hpp"

#include <algorithm>
#include <cassert>

namespace payengine::http {

namespace {

constexpr int64_t unit = 1'000'000'000; // token-nanoseconds per token

} // namespace

uint32_t effective_burst(uint32_t rate_per_s, uint32_t burst) {
  return burst != 0 ? burst : std::max<uint32_t>(1, rate_per_s);
}

token_bucket::token_bucket(uint32_t rate_per_s, uint32_t burst, steady_time now)
  : rate_(rate_per_s), burst_(effective_burst(rate_per_s, burst)),
    units_(int64_t{burst_} * unit), at_(now) {
  assert(rate_ >= 1);
}

void token_bucket::refill(steady_time now) {
  if (now <= at_) // a caller's clock read before ours: no refill, no going back
    return;
  auto elapsed = std::chrono::duration_cast<std::chrono::nanoseconds>(now - at_).count();
  at_ = now;
  auto missing = int64_t{burst_} * unit - units_;
  // Compare before multiplying: a long idle time times the rate would overflow.
  if (elapsed >= (missing + rate_ - 1) / rate_)
    units_ += missing;
  else
    units_ += elapsed * rate_;
  assert(units_ >= 0 && units_ <= int64_t{burst_} * unit);
}

rate_verdict token_bucket::take(steady_time now) {
  refill(now);
  if (units_ >= unit) {
    units_ -= unit;
    return {true, std::chrono::milliseconds{0}};
  }
  auto wait_ns = (unit - units_ + rate_ - 1) / rate_;
  return {false, std::chrono::milliseconds{(wait_ns + 999'999) / 1'000'000}};
}

bool token_bucket::full_at(steady_time now) const {
  auto copy = *this;
  copy.refill(now);
  return copy.units_ == int64_t{burst_} * unit;
}

rate_verdict merchant_rate_limits::admit(const std::string& merchant_id, uint32_t rate_per_s,
                                         uint32_t burst, steady_time now) {
  if (rate_per_s == 0)
    return {};
  std::lock_guard lock{mtx_};
  auto i = buckets_.find(merchant_id);
  if (i == buckets_.end()) {
    if (buckets_.size() >= next_sweep_)
      sweep(now);
    i = buckets_.emplace(merchant_id, token_bucket{rate_per_s, burst, now}).first;
  } else if (i->second.rate_per_s() != rate_per_s
             || i->second.burst() != effective_burst(rate_per_s, burst)) {
    i->second = token_bucket{rate_per_s, burst, now}; // the new limit applies at once
  }
  return i->second.take(now);
}

void merchant_rate_limits::sweep(steady_time now) {
  for (auto i = buckets_.begin(); i != buckets_.end();)
    i = i->second.full_at(now) ? buckets_.erase(i) : std::next(i);
  // Every bucket busy: the next sweep waits until the map doubles, so that
  // a sweep costs O(1) per request amortized.
  next_sweep_ = std::max(sweep_at_, buckets_.size() * 2);
}

size_t merchant_rate_limits::size() const {
  std::lock_guard lock{mtx_};
  return buckets_.size();
}

} // namespace payengine::http
