#pragma once
// Calling actors from HTTP threads: a caf::scoped_actor per request, and
// every request with a finite timeout.
//
// Why not one scoped_actor per thread: in CAF 0.17 a request's timeout
// message is delivered even after the reply came, and a blocking actor
// keeps such stale messages in its mailbox and rescans them on every
// receive. A thread-long actor slows down without bound (seen in the
// benchmark: 60% of the engine's CPU); a per-request actor takes its stale
// timeout with it.

#include <caf/all.hpp>

#include <chrono>

namespace payengine::http {

/// Sends `xs...` to `dest` and waits for the reply or the timeout.
template <class Reply, class Handle, class... Ts>
caf::expected<Reply> ask(caf::actor_system& sys, const Handle& dest,
                         std::chrono::milliseconds timeout, Ts&&... xs) {
  caf::scoped_actor self{sys, true}; // hidden: not counted as a running actor
  caf::expected<Reply> out{caf::error{}};
  self->request(dest, timeout, std::forward<Ts>(xs)...)
    .receive([&](Reply& r) { out = std::move(r); },
             [&](caf::error& err) { out = std::move(err); });
  return out;
}

} // namespace payengine::http
