#include "sim/notifier.hpp"

#include <algorithm>
#include <optional>
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

bool acknowledged(channel via, const httplib::Response& response) {
  if (via == channel::wechat) return response.status == 200 || response.status == 204;
  return response.status == 200 && trimmed(response.body) == "success";
}

// The wait before the next attempt after `attempts` failed ones, or none
// when the schedule is exhausted.
std::optional<std::chrono::seconds> retry_delay(channel via, int attempts) {
  const auto index = static_cast<std::size_t>(attempts - 1);
  if (via == channel::wechat) {
    if (index >= limits::wechat_notify_retry_delays.size()) return std::nullopt;
    return limits::wechat_notify_retry_delays[index];
  }
  if (index >= limits::notify_retry_delays.size()) return std::nullopt;
  return limits::notify_retry_delays[index];
}

// The delivery's headers for this POST; false (with `status`) when they
// cannot be signed.
bool headers_for(const delivery& d, httplib::Headers& headers, std::string& status) {
  if (!d.sign_headers) return true;
  auto signed_headers = d.sign_headers(d.body);
  if (!signed_headers) {
    status = "error: cannot sign: " + signed_headers.error().detail;
    return false;
  }
  for (auto& [name, value] : *signed_headers) headers.emplace(name, value);
  return true;
}

// One POST; true when the receiver acknowledged it.
bool post(const delivery& d, std::string& status) {
  httplib::Headers headers;
  if (!headers_for(d, headers, status)) return false;
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
    const auto response = client.Post(path, headers, d.body, d.content_type);
    if (!response) {
      status = "error: " + httplib::to_string(response.error());
      return false;
    }
    const bool done = acknowledged(d.via, *response);
    status = done ? std::string("success")
                  : "http " + std::to_string(response->status) + ": " + response->body.substr(0, 64);
    return done;
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
      if (!held_ && faults_.current(batch.front().via).reorder_notify) {
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
  const faults f = faults_.current(d.via);
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
  const auto next_delay = retry_delay(d.via, d.attempts);
  const bool given_up = !delivered && !next_delay;
  report_({d.via, d.out_trade_no, d.notify_id, status, delivered, given_up});
  if (!delivered && !given_up) reschedule(std::move(d), *next_delay);
}

void notifier::reschedule(delivery d, std::chrono::seconds after) {
  const auto delay = std::chrono::duration<double>(after) / time_scale_;
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    due_.emplace(clock::now() + std::chrono::duration_cast<clock::duration>(delay), std::move(d));
  }
  wake_.notify_one();
}

}  // namespace payengine::sim
