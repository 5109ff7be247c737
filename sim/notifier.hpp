#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "channels/channel_protocol.hpp"
#include "channels/result.hpp"
#include "sim/channel.hpp"
#include "sim/faults.hpp"

// Delivers signed notifications the way each channel does: a first attempt
// at once, then again on the channel's schedule (divided by the time scale)
// until the receiver acknowledges:
//   Alipay: after 4m, 10m, 10m, 1h, 2h, 6h, 15h; acknowledged by HTTP 200
//           with the plain text `success`;
//   WeChat: after 15s, 15s, 30s, 3m, 10m, 20m, 30m, 30m, 30m, 60m, 3h, 3h,
//           3h, 6h, 6h; acknowledged by HTTP 200 or 204.
// A few sender threads sleep on a condition variable until the earliest due
// attempt; no request handler ever waits for a delivery.
namespace payengine::sim {

struct delivery {
  channel via = channel::alipay;
  std::string out_trade_no;
  std::string notify_id;
  std::string notify_url;
  std::string body;  // the same for every attempt
  std::string content_type = "application/x-www-form-urlencoded; charset=utf-8";
  // Headers signed afresh for each POST (WeChat's signature carries a
  // timestamp the receiver checks against its clock); empty: none.
  std::function<channels::result<channels::header_list>(const std::string& body)> sign_headers;
  int attempts = 0;  // made so far
};

struct attempt_report {
  channel via = channel::alipay;
  std::string out_trade_no;
  std::string notify_id;
  std::string status;  // "success", "http 500: fail", "dropped", "error: Connection", ...
  bool delivered = false;
  bool given_up = false;  // the schedule is exhausted
};

class notifier {
 public:
  using clock = std::chrono::steady_clock;
  using report_fn = std::function<void(const attempt_report&)>;

  notifier(double time_scale, fault_state& faults, report_fn report);
  ~notifier();
  notifier(const notifier&) = delete;
  notifier& operator=(const notifier&) = delete;

  void enqueue(delivery d);
  // Stops the senders; attempts not yet made are dropped (the simulator
  // keeps nothing across restarts).
  void stop();

 private:
  void run();
  std::vector<delivery> take_due(std::unique_lock<std::mutex>& lock);
  void attempt(delivery d);
  void reschedule(delivery d, std::chrono::seconds after);

  const double time_scale_;
  fault_state& faults_;
  const report_fn report_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::multimap<clock::time_point, delivery> due_;
  std::optional<delivery> held_;  // reorder_notify: waits for the next one
  clock::time_point held_until_;
  bool stopping_ = false;
  std::vector<std::thread> senders_;
};

}  // namespace payengine::sim
