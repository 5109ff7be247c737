#pragma once

#include <array>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <variant>

#include <nlohmann/json.hpp>

#include "sim/channel.hpp"
#include "sim/limits.hpp"

// Fault injection set through POST /sim/faults, for one channel or both.
namespace payengine::sim {

struct faults {
  long latency_ms = 0;       // added to every gateway call
  // Alipay: answer 20000 (signed) or HTTP 500, half each; WeChat: a signed
  // 500 SYSTEM_ERROR or 429 FREQUENCY_LIMITED, half each. Nothing is done.
  double error_rate = 0;
  double timeout_rate = 0;   // do the work, then hold the answer timeout_ms
  long timeout_ms = limits::fault_timeout_ms_default;
  double drop_notify_rate = 0;       // an attempt is not sent; counts as failed
  double duplicate_notify_rate = 0;  // an attempt is sent twice
  bool reorder_notify = false;       // each notification waits for the next one
};

// A POST /sim/faults body: the faults, and the one channel they are for
// ("channel": "alipay" | "wechat"; absent: every channel).
struct fault_setting {
  faults values;
  std::optional<channel> only;
};

// Every member optional (absent: default, so `{}` clears all faults);
// unknown members and out-of-range values are refused with a message.
[[nodiscard]] std::variant<fault_setting, std::string> parse_faults(const nlohmann::json& body);
[[nodiscard]] nlohmann::json to_json(const faults& f);

// The current faults of each channel and the dice to apply them, shared by
// handler threads.
class fault_state {
 public:
  [[nodiscard]] faults current(channel c) const;
  void set(const fault_setting& s);
  // {"alipay": {...}, "wechat": {...}}, or one channel's faults.
  [[nodiscard]] nlohmann::json describe(std::optional<channel> only) const;
  // True with probability `rate`.
  [[nodiscard]] bool roll(double rate);

 private:
  mutable std::mutex mutex_;
  std::array<faults, channel_count> faults_{};
  std::mt19937_64 random_{std::random_device{}()};
};

}  // namespace payengine::sim
