#pragma once

#include <mutex>
#include <random>
#include <string>
#include <variant>

#include <nlohmann/json.hpp>

#include "sim/limits.hpp"

// Fault injection set through POST /sim/faults.
namespace payengine::sim {

struct faults {
  long latency_ms = 0;       // added to every gateway call
  double error_rate = 0;     // answer 20000 (signed) or HTTP 500, half each
  double timeout_rate = 0;   // do the work, then hold the answer timeout_ms
  long timeout_ms = limits::fault_timeout_ms_default;
  double drop_notify_rate = 0;       // an attempt is not sent; counts as failed
  double duplicate_notify_rate = 0;  // an attempt is sent twice
  bool reorder_notify = false;       // each notification waits for the next one
};

// Every member optional (absent: default, so `{}` clears all faults);
// unknown members and out-of-range values are refused with a message.
[[nodiscard]] std::variant<faults, std::string> parse_faults(const nlohmann::json& body);
[[nodiscard]] nlohmann::json to_json(const faults& f);

// The current faults and the dice to apply them, shared by handler threads.
class fault_state {
 public:
  [[nodiscard]] faults current() const;
  void set(const faults& f);
  // True with probability `rate`.
  [[nodiscard]] bool roll(double rate);

 private:
  mutable std::mutex mutex_;
  faults faults_;
  std::mt19937_64 random_{std::random_device{}()};
};

}  // namespace payengine::sim
