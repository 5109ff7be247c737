#pragma once
// Calling actors from HTTP threads: one caf::scoped_actor per thread, and
// every request with a finite timeout.

#include <caf/all.hpp>

#include <chrono>
#include <memory>

namespace payengine::http {

/// The calling thread's own blocking actor (created on first use).
caf::scoped_actor& thread_self(caf::actor_system& sys);

/// Sends `xs...` to `dest` and waits for the reply or the timeout.
template <class Reply, class Handle, class... Ts>
caf::expected<Reply> ask(caf::actor_system& sys, const Handle& dest,
                         std::chrono::milliseconds timeout, Ts&&... xs) {
  auto& self = thread_self(sys);
  caf::expected<Reply> out{caf::error{}};
  self->request(dest, timeout, std::forward<Ts>(xs)...)
    .receive([&](Reply& r) { out = std::move(r); },
             [&](caf::error& err) { out = std::move(err); });
  return out;
}

} // namespace payengine::http
