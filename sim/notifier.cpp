#include "sim/notifier.hpp"

#include <algorithm>
#include <utility>

#include <httplib.h>

#include "sim/limits.hpp"

namespace payengine::sim {
namespace {

std::string trimmed(const std::string& text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

// One POST; true when the receiver acknowledged with `success`.
bool post(const delivery& d, std::string& status) {
  const auto scheme_end = d.notify_url.find("://");
  const auto path_begin = d.notify_url.find('/', scheme_end == std::string::npos ? 0 : scheme_end + 3);
  const std::string base = d.notify_url.substr(0, path_begin);
  const std::string path = path_begin == std::string::npos ? "/" : d.notify_url.substr(path_begin);
  try {
    httplib::Client client(base);
    client.set_connection_timeout(limits::notify_connect_timeout);
    client.set_read_timeout(limits::notify_read_timeout);
    client.set_write_timeout(limits::notify_read_timeout);
    client.set_tcp_nodelay(true);
    const auto response = client.Post(path, d.body, "application/x-www-form-urlencoded; charset=utf-8");
    if (!response) {
      status = "error: " + httplib::to_string(response.error());
      return false;
    }
    const bool acknowledged = response->status == 200 && trimmed(response->body) == "success";
    status = acknowledged ? std::string("success")
                          : "http " + std::to_string(response->status) + ": " + response->body.substr(0, 64);
    return acknowledged;
  } catch (const std::exception& e) {  // httplib throws on a URL it cannot use
    status = std::string("error: ") + e.what();
    return false;
  }
}

}  // namespace

notifier::notifier(double time_scale, fault_state& faults, report_fn report)
    : time_scale_(time_scale), faults_(faults), report_(std::move(report)) {
  for (std::size_t i = 0; i < limits::notify_senders; ++i) senders_.emplace_back([this] { run(); });
}

notifier::~notifier() { stop(); }

void notifier::enqueue(delivery d) {
  {
    std::lock_guard lock(mutex_);
    due_.emplace(clock::now(), std::move(d));
  }
  wake_.notify_one();
}

void notifier::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& sender : senders_) {
    if (sender.joinable()) sender.join();
  }
}

void notifier::run() {
  std::unique_lock lock(mutex_);
  for (auto batch = take_due(lock); !batch.empty(); batch = take_due(lock)) {
    lock.unlock();
    for (auto& d : batch) attempt(std::move(d));
    lock.lock();
  }
}

// Blocks until an attempt is due (then returns it, followed by a held-back
// one if any) or until stop (then returns nothing).
std::vector<delivery> notifier::take_due(std::unique_lock<std::mutex>& lock) {
  while (!stopping_) {
    const auto now = clock::now();
    if (!due_.empty() && due_.begin()->first <= now) {
      std::vector<delivery> batch{std::move(due_.begin()->second)};
      due_.erase(due_.begin());
      if (!held_ && faults_.current().reorder_notify) {
        held_ = std::move(batch.front());
        held_until_ = now + limits::reorder_hold_max;
        continue;
      }
      if (held_) batch.push_back(std::move(*std::exchange(held_, std::nullopt)));
      return batch;
    }
    if (held_ && held_until_ <= now) return {std::move(*std::exchange(held_, std::nullopt))};
    auto wake_at = due_.empty() ? clock::time_point::max() : due_.begin()->first;
    if (held_) wake_at = std::min(wake_at, held_until_);
    if (wake_at == clock::time_point::max()) {
      wake_.wait(lock);
    } else {
      wake_.wait_until(lock, wake_at);
    }
  }
  return {};
}

void notifier::attempt(delivery d) {
  const faults f = faults_.current();
  ++d.attempts;
  std::string status = "dropped";
  bool delivered = false;
  if (!faults_.roll(f.drop_notify_rate)) {
    delivered = post(d, status);
    if (faults_.roll(f.duplicate_notify_rate)) {
      std::string second;
      delivered = post(d, second) || delivered;
    }
  }
  const bool given_up = !delivered && d.attempts > static_cast<int>(limits::notify_retry_delays.size());
  report_({d.out_trade_no, d.notify_id, status, delivered, given_up});
  if (!delivered && !given_up) reschedule(std::move(d));
}

void notifier::reschedule(delivery d) {
  const auto delay = limits::notify_retry_delays[static_cast<std::size_t>(d.attempts - 1)] / time_scale_;
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    due_.emplace(clock::now() + std::chrono::duration_cast<clock::duration>(delay), std::move(d));
  }
  wake_.notify_one();
}

}  // namespace payengine::sim
