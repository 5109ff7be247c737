#pragma once
// Timeouts of the requests the engine's actors make of each other (an order
// asking its storage writer, a gateway or a wallet), kept off CAF's clock
// thread.
//
// A CAF 0.17 request timeout pushes an event to the clock thread when it is
// set, waking it, and its `request_timeout` message is delivered when it
// fires, long after the reply came (CAF does not cancel it). With several
// requests per order that was about two clock wake-ups per create and a
// quarter of the engine's context switches. Here the request goes out with
// no CAF timeout; its deadline is a map entry, erased when the reply comes,
// and one thread looks for due entries when the earliest is due, at most
// once a `tick` (10 ms), and sleeps while there are none. A due entry is
// answered exactly as CAF would: a `sec::request_timeout` error delivered to
// the asking actor as the response to that request, so `.await` and `.then`
// handlers see what they saw before. A timeout fires at most a tick late.

#include <caf/all.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

namespace payengine {

class request_timer {
public:
  using clock_type = std::chrono::steady_clock;
  using ticket = std::pair<clock_type::time_point, uint64_t>;

  /// `tick` 0: no thread; deadlines fire only through `fire_due` (tests).
  explicit request_timer(std::chrono::milliseconds tick = std::chrono::milliseconds{10});
  ~request_timer();
  request_timer(const request_timer&) = delete;
  request_timer& operator=(const request_timer&) = delete;

  /// After `timeout`, `who` gets `sec::request_timeout` as the response
  /// `response` (a request's response id), unless `cancel`led first.
  ticket arm(std::chrono::milliseconds timeout, caf::actor_addr who, caf::message_id response);
  /// After `delay`, `who` gets `content` as an ordinary message (what
  /// `delayed_send` does, without the clock thread). Not cancellable: the
  /// receiver ignores a message it no longer needs.
  void send_later(std::chrono::milliseconds delay, caf::actor_addr who, caf::message content);
  void cancel(const ticket& t);

  /// Delivers every timeout due by `now`; returns how many.
  size_t fire_due(clock_type::time_point now);

  size_t pending() const;
  uint64_t fired() const;
  std::chrono::milliseconds tick() const { return tick_; }

private:
  struct entry {
    caf::actor_addr who;
    caf::message_id id;   // a response id, or an ordinary message's
    caf::message content; // empty: sec::request_timeout
  };
  struct core {
    mutable std::mutex mx;
    std::condition_variable stop_cv;
    bool stopping = false;
    clock_type::time_point wake_at = clock_type::time_point::max(); // the thread's next look
    uint64_t next = 1;
    std::map<ticket, entry> by_due;
    std::atomic<uint64_t> fired{0};
  };
  static size_t fire(core& c, clock_type::time_point now);

  std::chrono::milliseconds tick_;
  std::shared_ptr<core> core_; // shared with the thread, which may outlive this
  std::thread thread_;
};

namespace detail {

/// A reply handler that first cancels its request's deadline. Keeps the
/// handler's exact signature (CAF matches replies by it).
template <class F, class Sig>
struct cancelling;

template <class F, class R, class... As>
struct cancelling<F, R(As...)> {
  std::shared_ptr<request_timer> timer;
  request_timer::ticket t;
  F f;
  R operator()(As... xs) {
    timer->cancel(t);
    return f(std::forward<As>(xs)...);
  }
};

template <class M>
struct member_signature;
template <class C, class R, class... As>
struct member_signature<R (C::*)(As...)> {
  using type = R(As...);
};
template <class C, class R, class... As>
struct member_signature<R (C::*)(As...) const> {
  using type = R(As...);
};

template <class F>
using signature_of = typename member_signature<decltype(&F::operator())>::type;

} // namespace detail

/// A response handle whose handlers cancel the request's deadline.
template <class Handle>
class timed_response {
public:
  timed_response(Handle h, std::shared_ptr<request_timer> timer, request_timer::ticket t)
    : h_(std::move(h)), timer_(std::move(timer)), t_(t) {}

  template <class F, class G>
  void await(F f, G g) {
    if (!timer_)
      return h_.await(std::move(f), std::move(g));
    h_.await(wrap(std::move(f)), wrap(std::move(g)));
  }

  template <class F, class G>
  void then(F f, G g) {
    if (!timer_)
      return h_.then(std::move(f), std::move(g));
    h_.then(wrap(std::move(f)), wrap(std::move(g)));
  }

private:
  template <class F>
  detail::cancelling<F, detail::signature_of<F>> wrap(F f) {
    return {timer_, t_, std::move(f)};
  }

  Handle h_;
  std::shared_ptr<request_timer> timer_;
  request_timer::ticket t_;
};

/// `self->request(dest, timeout, xs...)` with the timeout kept by `timer`
/// (null: CAF's own timeout, as before).
template <class Self, class Dest, class... Ts>
auto timed_request(Self* self, const std::shared_ptr<request_timer>& timer, const Dest& dest,
                   std::chrono::milliseconds timeout, Ts&&... xs) {
  using handle = decltype(self->request(dest, caf::infinite, std::forward<Ts>(xs)...));
  if (!timer)
    return timed_response<handle>{self->request(dest, timeout, std::forward<Ts>(xs)...), nullptr, {}};
  auto h = self->request(dest, caf::infinite, std::forward<Ts>(xs)...);
  auto t = timer->arm(timeout, self->address(), h.id());
  return timed_response<handle>{std::move(h), timer, t};
}

} // namespace payengine
