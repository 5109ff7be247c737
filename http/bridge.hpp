#pragma once
// Calling actors from HTTP handlers, every request with a finite timeout
// that CAF's clock thread never sees:
// `ask` blocks a pool thread (a caf::scoped_actor per request), `ask_async`
// never blocks (for handlers that run on the event loop).
//
// Why not one scoped_actor per thread: in CAF 0.17 a request's timeout
// message is delivered even after the reply came, and a blocking actor
// keeps such stale messages in its mailbox and rescans them on every
// receive. A thread-long actor slows down without bound (seen in the
// benchmark: 60% of the engine's CPU); a per-request actor takes its stale
// timeout with it.
//
// Why `ask_async` uses a few long-lived askers and not an actor per
// request: every actor that ends makes CAF 0.17 cancel its timeouts on the
// clock thread (local_actor::cleanup), which wakes that thread, so an actor
// per request cost a clock wake-up per request besides its spawn. An
// event-based asker has none of the blocking actor's trouble: its requests
// carry no CAF timeout (their deadlines are on the engine's request_timer,
// actors/request_timer.hpp), a reply finds its handler by response id, and a
// deadline that passes is delivered as that request's `request_timeout`
// response, which removes the handler. So an asker holds only the requests
// in progress, each until its reply or its deadline. Should an asker end
// anyway, each request it held is answered `request_timeout` (its outcome
// is unknown) and the pool replaces the asker.
//
// A request that bounces (sec::request_receiver_down) is sent once more: it
// was never processed (CAF bounces only what its receiver did not handle),
// so sending it again is safe whatever it asks. The case it is for: an
// order actor that stopped on its own after its registry had routed the
// request there. The order actor tells its registry before it stops, so
// the second try waits there for the successor (actors/order.cpp, stop).
// Only once, and within the first try's deadline: a second bounce is
// answered as it is.

#include "actors/request_timer.hpp"
#include "config/logging.hpp"

#include <caf/all.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace payengine::http {

/// True if `err` says the request was never processed by its receiver.
inline bool bounced(const caf::error& err) {
  return err == caf::sec::request_receiver_down;
}

/// Sends `xs...` to `dest` and waits for the reply or the timeout. The
/// timeout is the blocking receive's own (a timed wait on this thread),
/// not a CAF request timeout: those wake CAF's clock thread when set and
/// again when they fire (see actors/request_timer.hpp).
template <class Reply, class Handle, class... Ts>
caf::expected<Reply> ask(caf::actor_system& sys, const Handle& dest,
                         std::chrono::milliseconds timeout, const Ts&... xs) {
  caf::scoped_actor self{sys, true}; // hidden: not counted as a running actor
  caf::expected<Reply> out{caf::error{}};
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto reply_id = self->request(dest, caf::infinite, xs...).id();
    caf::blocking_actor::accept_one_cond one;
    self->varargs_receive(one, reply_id,
                          [&](Reply& r) { out = std::move(r); },
                          [&](caf::error& err) { out = std::move(err); },
                          caf::after(timeout) >> [&] { out = caf::make_error(caf::sec::request_timeout); });
    if (out || !bounced(out.error()))
      break;
  }
  return out;
}

/// One request for an asker to make: runs inside the asker.
struct ask_job {
  std::function<void(caf::event_based_actor*)> run;
};

/// The long-lived hidden actors that make the event loop's requests
/// (`ask_async`), taken in turn. An asker that ends for any reason but
/// `stop()` is replaced at once. Made by `make` (the askers hold it weakly).
class asker_pool : public std::enable_shared_from_this<asker_pool> {
public:
  /// `count` askers, one at least.
  static std::shared_ptr<asker_pool> make(caf::actor_system& sys, size_t count);
  ~asker_pool();
  asker_pool(const asker_pool&) = delete;
  asker_pool& operator=(const asker_pool&) = delete;

  /// Hands `job` to the next asker; false once stopped (nothing was sent).
  bool post(ask_job job);
  /// Ends the askers. Each request they still wait on is answered
  /// `request_timeout` (it may have been processed) as its handler goes;
  /// with `wait`, this returns only once every asker is gone (or `wait`
  /// passed), so no answer runs after it.
  void stop(std::chrono::milliseconds wait = std::chrono::milliseconds{0});

  size_t size() const;
  /// Askers that ended unexpectedly and were replaced.
  uint64_t replaced() const;
  /// Requests handed to the askers and not answered yet.
  int64_t pending() const { return pending_->load(); }
  const std::shared_ptr<std::atomic<int64_t>>& pending_counter() const { return pending_; }

private:
  explicit asker_pool(caf::actor_system& sys) : sys_(sys) {}
  caf::actor spawn_asker(size_t slot);
  void replace(size_t slot, const caf::error& reason);

  caf::actor_system& sys_;
  mutable std::mutex mx_;
  bool stopped_ = false;
  std::vector<caf::actor> askers_;
  size_t next_ = 0;
  uint64_t replaced_ = 0;
  std::shared_ptr<std::atomic<int64_t>> pending_ = std::make_shared<std::atomic<int64_t>>(0);
};

namespace detail {

/// One ask's answer, given exactly once: by the handler of its request
/// (the reply or its deadline) or, should every copy of that handler go
/// without running (its asker ended, or the job never ran), by the last
/// copy's end, as `request_timeout`: the request may have been processed.
/// A `then` that throws is logged; it never reaches the asker.
template <class Reply>
class ask_answer {
public:
  ask_answer(std::function<void(caf::expected<Reply>)> then, std::shared_ptr<std::atomic<int64_t>> pending)
    : then_(std::move(then)), pending_(std::move(pending)) {
    ++*pending_;
  }
  ~ask_answer() {
    if (!done_.exchange(true))
      call(caf::make_error(caf::sec::request_timeout));
  }
  ask_answer(const ask_answer&) = delete;
  ask_answer& operator=(const ask_answer&) = delete;

  void operator()(caf::expected<Reply> r) {
    if (!done_.exchange(true))
      call(std::move(r));
  }

private:
  void call(caf::expected<Reply> r) noexcept {
    --*pending_;
    try {
      then_(std::move(r));
    } catch (const std::exception& e) {
      logging::error("http.ask_handler_failed", {{"error", e.what()}});
    } catch (...) {
      logging::error("http.ask_handler_failed", {{"error", "unknown exception"}});
    }
  }

  std::atomic<bool> done_{false};
  std::function<void(caf::expected<Reply>)> then_;
  std::shared_ptr<std::atomic<int64_t>> pending_;
};

} // namespace detail

/// Sends `xs...` to `dest` without waiting: `then` gets the reply or the
/// error exactly once, on a CAF thread (on the caller's if the pool is
/// stopped: then nothing was sent). One of `askers` makes the request;
/// its deadline, `timeout` from now, is on `timer` (null: CAF's own
/// request timeout). For handlers that run on the event loop.
template <class Reply, class Handle, class... Ts>
void ask_async(const std::shared_ptr<asker_pool>& askers, const std::shared_ptr<request_timer>& timer,
               const Handle& dest, std::chrono::milliseconds timeout,
               std::function<void(caf::expected<Reply>)> then, Ts... xs) {
  using clock_type = std::chrono::steady_clock;
  using std::chrono::milliseconds;
  auto due = clock_type::now() + timeout;
  auto left = [due] { return std::chrono::duration_cast<milliseconds>(due - clock_type::now()); };
  auto answer = std::make_shared<detail::ask_answer<Reply>>(std::move(then), askers->pending_counter());
  // Everything that can throw in here runs before the handler is set: an
  // exception drops the handler, and the answer says request_timeout.
  auto run = [=](caf::event_based_actor* self) {
    if (left() <= milliseconds{0}) // waited in the asker's mailbox past its deadline
      return (*answer)(caf::make_error(caf::sec::request_timeout));
    timed_request(self, timer, dest, left(), xs...)
      .then([answer](Reply& r) { (*answer)(std::move(r)); },
            [=](caf::error& err) {
              if (!bounced(err) || left() <= milliseconds{0})
                return (*answer)(std::move(err));
              try { // once more, within the first try's deadline
                timed_request(self, timer, dest, left(), xs...)
                  .then([answer](Reply& r) { (*answer)(std::move(r)); },
                        [answer](caf::error& again) { (*answer)(std::move(again)); });
              } catch (...) {
                (*answer)(std::move(err)); // not sent again: the bounce stands
              }
            });
  };
  if (!askers->post(ask_job{std::move(run)}))
    (*answer)(caf::make_error(caf::sec::request_receiver_down)); // never sent: nothing changed
}

} // namespace payengine::http

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(payengine::http::ask_job)
