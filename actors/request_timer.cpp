#include "actors/request_timer.hpp"

#include <algorithm>
#include <vector>

namespace payengine {

request_timer::request_timer(std::chrono::milliseconds tick)
  : tick_(tick), core_(std::make_shared<core>()) {
  if (tick.count() <= 0)
    return;
  // The thread holds the core, not `this`: the last owner of the timer may
  // be an actor released by this very thread (see the destructor).
  thread_ = std::thread([c = core_, tick] {
    // Sleeps until the earliest deadline, but at least a tick after the
    // last look (deadlines due within a tick fire together), and without a
    // deadline until one is armed: an idle engine does not wake it.
    std::unique_lock<std::mutex> guard{c->mx};
    auto last = clock_type::now();
    while (!c->stopping) {
      if (c->by_due.empty()) {
        c->wake_at = clock_type::time_point::max();
        c->stop_cv.wait(guard);
        continue;
      }
      c->wake_at = std::max(c->by_due.begin()->first.first, last + tick);
      if (c->stop_cv.wait_until(guard, c->wake_at) != std::cv_status::timeout)
        continue; // stopping, or an earlier deadline was armed
      guard.unlock();
      last = clock_type::now();
      fire(*c, last);
      guard.lock();
    }
  });
}

request_timer::~request_timer() {
  {
    std::lock_guard<std::mutex> guard{core_->mx};
    core_->stopping = true;
  }
  core_->stop_cv.notify_all();
  if (!thread_.joinable())
    return;
  if (thread_.get_id() == std::this_thread::get_id())
    thread_.detach(); // released from a delivery: the thread ends after it
  else
    thread_.join();
}

request_timer::ticket request_timer::arm(std::chrono::milliseconds timeout, caf::actor_addr who,
                                         caf::message_id response) {
  auto due = clock_type::now() + timeout;
  ticket t;
  bool sooner;
  {
    std::lock_guard<std::mutex> guard{core_->mx};
    t = ticket{due, core_->next++};
    core_->by_due.emplace(t, entry{std::move(who), response, {}});
    sooner = due < core_->wake_at;
  }
  if (sooner) // rare: deadlines mostly come later than those already armed
    core_->stop_cv.notify_one();
  return t;
}

void request_timer::send_later(std::chrono::milliseconds delay, caf::actor_addr who,
                               caf::message content) {
  auto due = clock_type::now() + delay;
  bool sooner;
  {
    std::lock_guard<std::mutex> guard{core_->mx};
    ticket t{due, core_->next++};
    core_->by_due.emplace(t, entry{std::move(who), caf::make_message_id(), std::move(content)});
    sooner = due < core_->wake_at;
  }
  if (sooner)
    core_->stop_cv.notify_one();
}

void request_timer::cancel(const ticket& t) {
  std::lock_guard<std::mutex> guard{core_->mx};
  core_->by_due.erase(t);
}

size_t request_timer::fire_due(clock_type::time_point now) {
  return fire(*core_, now);
}

size_t request_timer::fire(core& c, clock_type::time_point now) {
  std::vector<entry> due;
  {
    std::lock_guard<std::mutex> guard{c.mx};
    auto end = c.by_due.upper_bound(ticket{now, UINT64_MAX});
    for (auto i = c.by_due.begin(); i != end; ++i)
      due.push_back(std::move(i->second));
    c.by_due.erase(c.by_due.begin(), end);
  }
  // Outside the lock: an actor released here may be the timer's last owner.
  for (auto& e : due)
    if (auto who = caf::actor_cast<caf::strong_actor_ptr>(e.who)) {
      if (e.content.empty())
        e.content = caf::make_message(caf::make_error(caf::sec::request_timeout));
      who->enqueue(caf::make_mailbox_element(nullptr, e.id, {}, std::move(e.content)), nullptr);
      ++c.fired; // delivered (an actor that is gone gets nothing)
    }
  return due.size();
}

size_t request_timer::pending() const {
  std::lock_guard<std::mutex> guard{core_->mx};
  return core_->by_due.size();
}

uint64_t request_timer::fired() const {
  return core_->fired.load();
}

} // namespace payengine
