#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace payengine::sim {

// Raised once at shutdown; injected delays sleep on it so that a stop never
// waits out a 30-second fault.
class stop_flag {
 public:
  void raise() {
    {
      std::lock_guard lock(mutex_);
      raised_ = true;
    }
    changed_.notify_all();
  }

  void sleep_for(std::chrono::milliseconds duration) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, duration, [this] { return raised_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool raised_ = false;
};

}  // namespace payengine::sim
