#pragma once
// The inspector: every order actor and registry shard tells it what
// happened (spawn, passivate, crash, restart, committed transitions). It
// keeps counters for /admin/actors and /metrics and publishes each event
// to /admin/stream through the stream hub. Telling it is fire-and-forget:
// nothing in the engine ever waits on it, and it never waits on a client.

#include "actors/stream_hub.hpp"
#include "messages/interfaces.hpp"

#include <memory>

namespace payengine {

struct inspector_state {
  static inline const char* name = "inspector";
  std::shared_ptr<stream_hub> hub;
  inspector_info counters;
};

using inspector_self = inspector_actor::stateful_pointer<inspector_state>;

inspector_actor::behavior_type inspector_impl(inspector_self self,
                                              std::shared_ptr<stream_hub> hub);

/// The JSON `data` of an event's frame (also what the console reads).
std::string actor_event_json(const actor_event& e);

} // namespace payengine
