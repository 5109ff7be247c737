#pragma once
// The wait before the next connection attempt after failures: from `min_ms`,
// doubling, up to `max_ms`; back to nothing after a success. Plain code.

#include <algorithm>
#include <cstdint>

namespace payengine::broker {

class backoff {
public:
  backoff(uint32_t min_ms, uint32_t max_ms) : min_ms_(min_ms), max_ms_(std::max(min_ms, max_ms)) {}

  /// One more failure: the wait before the next try.
  uint32_t failed() {
    current_ms_ = current_ms_ == 0 ? min_ms_ : std::min(current_ms_ * 2, max_ms_);
    return current_ms_;
  }
  void succeeded() { current_ms_ = 0; }
  /// Failing for a while already (the wait is at its cap).
  bool at_cap() const { return current_ms_ == max_ms_; }

private:
  uint32_t min_ms_;
  uint32_t max_ms_;
  uint32_t current_ms_ = 0;
};

} // namespace payengine::broker
