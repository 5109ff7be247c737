#include "actors/request_timer.hpp"

#include <vector>

namespace payengine {

request_timer::request_timer(std::chrono::milliseconds tick)
  : tick_(tick), core_(std::make_shared<core>()) {
  if (tick.count() <= 0)
    return;
  // The thread holds the core, not `this`: the last owner of the timer may
  // be an actor released by this very thread (see the destructor).
  thread_ = std::thread([c = core_, tick] {
    std::unique_lock<std::mutex> guard{c->mx};
    while (!c->stopping) {
      c->stop_cv.wait_for(guard, tick);
      if (c->stopping)
        break;
      guard.unlock();
      fire(*c, clock_type::now());
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
  std::lock_guard<std::mutex> guard{core_->mx};
  ticket t{due, core_->next++};
  core_->by_due.emplace(t, entry{std::move(who), response, {}});
  return t;
}

void request_timer::send_later(std::chrono::milliseconds delay, caf::actor_addr who,
                               caf::message content) {
  auto due = clock_type::now() + delay;
  std::lock_guard<std::mutex> guard{core_->mx};
  ticket t{due, core_->next++};
  core_->by_due.emplace(t, entry{std::move(who), caf::make_message_id(), std::move(content)});
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
    }
  c.fired += due.size();
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
