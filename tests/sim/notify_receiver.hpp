#pragma once

// A merchant endpoint for tests: records every notification (headers and
// body) and answers from a script ("fail", "fail", "success": the last
// answer repeats), each with HTTP 200 unless `statuses` says otherwise
// (WeChat's receivers acknowledge with 200 or 204: {500, 500, 204}).
#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace payengine::test {

class notify_receiver {
 public:
  struct received {
    httplib::Headers headers;
    std::string body;
  };

  explicit notify_receiver(std::vector<std::string> answers, std::vector<int> statuses = {200})
      : answers_(std::move(answers)), statuses_(std::move(statuses)) {
    server_.Post("/notify", [this](const httplib::Request& req, httplib::Response& res) { answer(req, res); });
    port_ = server_.bind_to_any_port("127.0.0.1");
    // Bound and listening already: connections queue until the loop accepts.
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }

  ~notify_receiver() {
    server_.stop();
    thread_.join();
  }

  [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/notify"; }

  // Waits (bounded) until at least `count` notifications arrived.
  bool wait_for(std::size_t count, std::chrono::milliseconds deadline = std::chrono::seconds(10)) {
    std::unique_lock lock(mutex_);
    return arrived_.wait_for(lock, deadline, [&] { return requests_.size() >= count; });
  }

  [[nodiscard]] std::vector<std::string> bodies() const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (const auto& r : requests_) out.push_back(r.body);
    return out;
  }

  [[nodiscard]] std::vector<received> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  template <class T>
  static const T& nth(const std::vector<T>& script, std::size_t n) {
    return script[std::min(n, script.size() - 1)];
  }

  void answer(const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mutex_);
    const std::size_t n = requests_.size();
    requests_.push_back({req.headers, req.body});
    arrived_.notify_all();
    res.status = nth(statuses_, n);
    if (res.status != 204) res.set_content(nth(answers_, n), "text/plain");
  }

  std::vector<std::string> answers_;
  std::vector<int> statuses_;
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  mutable std::mutex mutex_;
  std::condition_variable arrived_;
  std::vector<received> requests_;
};

}  // namespace payengine::test
