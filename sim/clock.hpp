#pragma once

#include <chrono>
#include <cstdint>

// The wall clock, as WeChat's timestamps need it (signatures, RFC 3339).
namespace payengine::sim {

[[nodiscard]] inline std::int64_t now_us() {
  const auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration_cast<std::chrono::microseconds>(since_epoch).count();
}

[[nodiscard]] inline std::int64_t now_s() { return now_us() / 1'000'000; }

}  // namespace payengine::sim
