#include "http/bridge.hpp"

namespace payengine::http {

caf::scoped_actor& thread_self(caf::actor_system& sys) {
  // HTTP worker threads end before the actor system does (server stops first).
  thread_local std::unique_ptr<caf::scoped_actor> self;
  if (!self)
    self = std::make_unique<caf::scoped_actor>(sys);
  return *self;
}

} // namespace payengine::http
