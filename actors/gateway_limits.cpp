#include "actors/gateway_limits.hpp"

#include <algorithm>
#include <cmath>

namespace payengine {

// --- circuit breaker -------------------------------------------------------------

circuit_breaker::circuit_breaker(uint32_t failures_max,
                                 std::chrono::milliseconds open_for)
  : failures_max_(std::max<uint32_t>(1, failures_max)), open_for_(open_for) {
  // nop
}

circuit_breaker::state circuit_breaker::refresh(clock::time_point now) {
  if (state_ == state::open && now >= open_until_) {
    state_ = state::half_open;
    probing_ = false;
  }
  return state_;
}

circuit_breaker::decision circuit_breaker::admit() const {
  switch (state_) {
    case state::closed: return decision::pass;
    case state::open: return decision::refuse;
    case state::half_open: return probing_ ? decision::refuse : decision::probe;
  }
  return decision::refuse;
}

void circuit_breaker::start_probe() {
  probing_ = true;
}

void circuit_breaker::abandon_probe() {
  probing_ = false;
}

void circuit_breaker::record(bool healthy, bool probe, clock::time_point now) {
  if (probe) {
    probing_ = false;
    if (healthy) {
      state_ = state::closed;
      failures_ = 0;
    } else {
      ++failures_;
      open(now);
    }
    return;
  }
  // Only the probe decides outside `closed`: late answers just count.
  if (healthy) {
    if (state_ == state::closed)
      failures_ = 0;
    return;
  }
  ++failures_;
  if (state_ == state::closed && failures_ >= failures_max_)
    open(now);
}

std::chrono::milliseconds circuit_breaker::retry_after(clock::time_point now) const {
  using std::chrono::milliseconds;
  if (state_ == state::open && open_until_ > now)
    return std::max(milliseconds{1},
                    std::chrono::ceil<milliseconds>(open_until_ - now));
  return std::max(milliseconds{1}, open_for_); // a probe is deciding
}

void circuit_breaker::open(clock::time_point now) {
  state_ = state::open;
  open_until_ = now + open_for_;
}

std::string_view to_string(circuit_breaker::state x) {
  switch (x) {
    case circuit_breaker::state::closed: return "closed";
    case circuit_breaker::state::open: return "open";
    case circuit_breaker::state::half_open: return "half_open";
  }
  return "unknown";
}

// --- token bucket ----------------------------------------------------------------

token_bucket::token_bucket(double rate_per_s, double burst, clock::time_point now)
  : rate_per_s_(rate_per_s), burst_(burst), tokens_(burst), refilled_at_(now) {
  // nop
}

void token_bucket::refill(clock::time_point now) {
  if (now <= refilled_at_)
    return;
  std::chrono::duration<double> elapsed = now - refilled_at_;
  tokens_ = std::min(burst_, tokens_ + elapsed.count() * rate_per_s_);
  refilled_at_ = now;
}

bool token_bucket::take(clock::time_point now) {
  refill(now);
  if (tokens_ < 1.0)
    return false;
  tokens_ -= 1.0;
  return true;
}

double token_bucket::tokens(clock::time_point now) {
  refill(now);
  return tokens_;
}

std::chrono::milliseconds token_bucket::wait_for_one(clock::time_point now) {
  refill(now);
  auto ms = std::ceil((1.0 - tokens_) / rate_per_s_ * 1000.0);
  return std::chrono::milliseconds{static_cast<int64_t>(std::clamp(ms, 1.0, 4.0e9))};
}

// --- latency window --------------------------------------------------------------

latency_window::latency_window(uint32_t capacity)
  : capacity_(std::max<uint32_t>(1, capacity)) {
  samples_.reserve(capacity_);
}

void latency_window::add(uint32_t ms) {
  last_ = ms;
  if (samples_.size() < capacity_) {
    samples_.push_back(ms);
    return;
  }
  samples_[next_] = ms;
  next_ = (next_ + 1) % capacity_;
}

uint32_t latency_window::percentile(double q) const {
  if (samples_.empty())
    return 0;
  auto sorted = samples_;
  auto index = static_cast<size_t>(std::clamp(q, 0.0, 1.0)
                                   * static_cast<double>(sorted.size()));
  index = std::min(index, sorted.size() - 1);
  std::nth_element(sorted.begin(), sorted.begin() + static_cast<ptrdiff_t>(index),
                   sorted.end());
  return sorted[index];
}

} // namespace payengine
