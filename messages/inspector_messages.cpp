#include "messages/inspector_messages.hpp"

namespace payengine {

std::string_view to_string(actor_event_kind k) {
  switch (k) {
    case actor_event_kind::spawn: return "spawn";
    case actor_event_kind::passivate: return "passivate";
    case actor_event_kind::crash: return "crash";
    case actor_event_kind::restart: return "restart";
    case actor_event_kind::transition: return "transition";
    case actor_event_kind::event: return "event";
  }
  return "unknown";
}

} // namespace payengine
