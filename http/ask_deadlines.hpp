#pragma once
// Deadlines of the event loop's asynchronous asks (http/bridge.hpp,
// ask_async), checked by the loop's 5 ms probe (http/server.cpp) instead of
// CAF's clock thread. A CAF request timeout costs a wake-up of the clock
// thread when it is set (CAF 0.17 notifies its condition variable on every
// new timeout) and another when it fires, long after the answer; on reads
// that was a tenth of the engine's CPU. Here a deadline is a map entry set
// and erased under an uncontended mutex, and nobody wakes up for it.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

namespace payengine::http {

class ask_deadlines {
public:
  using clock_type = std::chrono::steady_clock;
  using ticket = std::pair<clock_type::time_point, uint64_t>;

  /// Runs `expire` from `expire_due` once `due` has passed, unless
  /// `remove`d first.
  ticket add(clock_type::time_point due, std::function<void()> expire) {
    std::lock_guard<std::mutex> guard{mx_};
    ticket t{due, next_++};
    by_due_.emplace(t, std::move(expire));
    return t;
  }

  void remove(const ticket& t) {
    std::lock_guard<std::mutex> guard{mx_};
    by_due_.erase(t);
  }

  /// Runs (outside the lock) the functions of every deadline due by `now`;
  /// returns how many ran.
  std::size_t expire_due(clock_type::time_point now) {
    std::vector<std::function<void()>> due;
    {
      std::lock_guard<std::mutex> guard{mx_};
      auto end = by_due_.upper_bound(ticket{now, UINT64_MAX});
      for (auto i = by_due_.begin(); i != end; ++i)
        due.push_back(std::move(i->second));
      by_due_.erase(by_due_.begin(), end);
    }
    for (auto& f : due)
      f();
    return due.size();
  }

  std::size_t size() const {
    std::lock_guard<std::mutex> guard{mx_};
    return by_due_.size();
  }

private:
  mutable std::mutex mx_;
  uint64_t next_ = 1;
  std::map<ticket, std::function<void()>> by_due_;
};

} // namespace payengine::http
