#pragma once

// A merchant endpoint for tests: records every notification and answers
// from a script ("fail", "fail", "success": the last answer repeats).
#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace payengine::test {

class notify_receiver {
 public:
  explicit notify_receiver(std::vector<std::string> answers) : answers_(std::move(answers)) {
    server_.Post("/notify", [this](const httplib::Request& req, httplib::Response& res) {
      res.set_content(record(req.body), "text/plain");
    });
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
    return arrived_.wait_for(lock, deadline, [&] { return bodies_.size() >= count; });
  }

  [[nodiscard]] std::vector<std::string> bodies() const {
    std::lock_guard lock(mutex_);
    return bodies_;
  }

 private:
  std::string record(const std::string& body) {
    std::lock_guard lock(mutex_);
    const std::string answer = answers_[std::min(bodies_.size(), answers_.size() - 1)];
    bodies_.push_back(body);
    arrived_.notify_all();
    return answer;
  }

  std::vector<std::string> answers_;
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  mutable std::mutex mutex_;
  std::condition_variable arrived_;
  std::vector<std::string> bodies_;
};

}  // namespace payengine::test
