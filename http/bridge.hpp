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
// A request that bounces (sec::request_receiver_down) is sent once more: it
// was never processed (CAF bounces only what its receiver did not handle),
// so sending it again is safe whatever it asks. The case it is for: an
// order actor that stopped on its own after its registry had routed the
// request there. The order actor tells its registry before it stops, so
// the second try waits there for the successor (actors/order.cpp, stop).
// Only once: a second bounce is answered as it is.

#include "http/ask_deadlines.hpp"

#include <caf/all.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>

namespace payengine::http {

/// True if `err` says the request was never processed by its receiver.
inline bool bounced(const caf::error& err) {
  return err == caf::sec::request_receiver_down;
}

/// Sends `xs...` to `dest` and waits for the reply or the timeout. The
/// timeout is the blocking receive's own (a timed wait on this thread),
/// not a CAF request timeout: those wake CAF's clock thread when set and
/// again when they fire (see ask_deadlines.hpp).
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

/// Sends `xs...` to `dest` without waiting: `then` gets the reply or the
/// error (timeout included) exactly once, on a CAF thread or, for the
/// timeout, on the event loop. A short-lived hidden actor makes the request
/// and ends with it. The timeout is an entry in `deadlines` (checked by the
/// event loop), not a CAF request timeout; when it passes, `then` gets
/// `request_timeout` and the asking actor is killed, so a reply that never
/// comes holds nothing. For handlers that run on the event loop.
template <class Reply, class Handle, class... Ts>
void ask_async(caf::actor_system& sys, const std::shared_ptr<ask_deadlines>& deadlines,
               const Handle& dest, std::chrono::milliseconds timeout,
               std::function<void(caf::expected<Reply>)> then, Ts... xs) {
  struct pending {
    std::atomic<bool> done{false};
    std::function<void(caf::expected<Reply>)> then;
    ask_deadlines::ticket ticket;
    std::mutex mx;
    caf::actor_addr asker; // set once spawned
  };
  auto p = std::make_shared<pending>();
  p->then = std::move(then);
  std::function<void(caf::expected<Reply>)> finish = [p, deadlines](caf::expected<Reply> r) {
    if (p->done.exchange(true))
      return; // the deadline answered first
    deadlines->remove(p->ticket);
    auto f = std::move(p->then);
    f(std::move(r));
  };
  p->ticket = deadlines->add(ask_deadlines::clock_type::now() + timeout, [p] {
    if (p->done.exchange(true))
      return;
    auto f = std::move(p->then);
    f(caf::make_error(caf::sec::request_timeout));
    std::lock_guard<std::mutex> guard{p->mx};
    if (auto asker = caf::actor_cast<caf::actor>(p->asker))
      caf::anon_send_exit(asker, caf::exit_reason::kill);
  });
  // `done` travels as a spawn argument: a spawned function without one
  // makes CAF 0.17 bind a reference to a null tuple (UBSan reports it).
  auto run = [dest, xs...](caf::event_based_actor* self,
                           std::function<void(caf::expected<Reply>)> done) {
    self->request(dest, caf::infinite, xs...)
      .then([done](Reply& r) { done(std::move(r)); },
            [=](caf::error& err) {
              if (!bounced(err))
                return done(std::move(err));
              self->request(dest, caf::infinite, xs...)
                .then([done](Reply& r) { done(std::move(r)); },
                      [done](caf::error& again) { done(std::move(again)); });
            });
  };
  auto asker = sys.spawn<caf::hidden>(run, std::move(finish));
  std::lock_guard<std::mutex> guard{p->mx};
  p->asker = asker.address();
}

} // namespace payengine::http
