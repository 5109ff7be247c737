#pragma once
// Calling actors from HTTP handlers, every request with a finite timeout:
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

#include <caf/all.hpp>

#include <chrono>
#include <functional>

namespace payengine::http {

/// True if `err` says the request was never processed by its receiver.
inline bool bounced(const caf::error& err) {
  return err == caf::sec::request_receiver_down;
}

/// Sends `xs...` to `dest` and waits for the reply or the timeout.
template <class Reply, class Handle, class... Ts>
caf::expected<Reply> ask(caf::actor_system& sys, const Handle& dest,
                         std::chrono::milliseconds timeout, const Ts&... xs) {
  caf::scoped_actor self{sys, true}; // hidden: not counted as a running actor
  caf::expected<Reply> out{caf::error{}};
  for (int attempt = 0; attempt < 2; ++attempt) {
    self->request(dest, timeout, xs...)
      .receive([&](Reply& r) { out = std::move(r); },
               [&](caf::error& err) { out = std::move(err); });
    if (out || !bounced(out.error()))
      break;
  }
  return out;
}

/// Sends `xs...` to `dest` without waiting: `then` gets the reply or the
/// error (timeout included) on a CAF thread. A short-lived hidden actor
/// makes the request and ends with it, so its late timeout message is
/// dropped with it. For handlers that run on the event loop.
template <class Reply, class Handle, class... Ts>
void ask_async(caf::actor_system& sys, const Handle& dest, std::chrono::milliseconds timeout,
               std::function<void(caf::expected<Reply>)> then, Ts... xs) {
  // `then` travels as a spawn argument: a spawned function without one
  // makes CAF 0.17 bind a reference to a null tuple (UBSan reports it).
  auto run = [dest, timeout, xs...](caf::event_based_actor* self,
                                    std::function<void(caf::expected<Reply>)> done) {
    self->request(dest, timeout, xs...)
      .then([done](Reply& r) { done(std::move(r)); },
            [=](caf::error& err) {
              if (!bounced(err))
                return done(std::move(err));
              self->request(dest, timeout, xs...)
                .then([done](Reply& r) { done(std::move(r)); },
                      [done](caf::error& again) { done(std::move(again)); });
            });
  };
  sys.spawn<caf::hidden>(run, std::move(then));
}

} // namespace payengine::http
