#pragma once
// The threads that run route handlers. A handler may block (it asks an
// actor and waits for the reply with a deadline, or holds a long poll), so
// it never runs on the event loop that reads and writes sockets; how many
// handlers may run at once is decided before a task gets here (the
// admission limit, the long-poll cap, the never-shed operator routes).

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace payengine::http {

class worker_pool {
public:
  explicit worker_pool(std::size_t threads) {
    for (std::size_t i = 0; i < threads; ++i)
      threads_.emplace_back([this] { work(); });
  }
  ~worker_pool() { join(); }
  worker_pool(const worker_pool&) = delete;
  worker_pool& operator=(const worker_pool&) = delete;

  void post(std::function<void()> task) {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      tasks_.push_back(std::move(task));
    }
    ready_.notify_one();
  }

  /// Tasks waiting for a thread (for the metrics).
  std::size_t queued() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return tasks_.size();
  }

  std::size_t size() const { return threads_.size(); }

  /// Runs what was posted, then ends the threads.
  void join() {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      stopping_ = true;
    }
    ready_.notify_all();
    for (auto& t : threads_)
      if (t.joinable())
        t.join();
  }

private:
  void work() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> lock{mtx_};
        ready_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
        if (tasks_.empty())
          return; // stopping, and nothing left
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }

  mutable std::mutex mtx_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

} // namespace payengine::http
