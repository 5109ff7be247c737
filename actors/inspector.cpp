#include "actors/inspector.hpp"

#include "messages/timestamps.hpp"

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

namespace payengine {

std::string actor_event_json(const actor_event& e) {
  nlohmann::json out = {{"type", std::string{to_string(e.kind)}},
                        {"order_id", e.order_id},
                        {"actor_id", e.actor_id},
                        {"shard", e.shard},
                        {"at", to_rfc3339(e.at)}};
  switch (e.kind) {
    case actor_event_kind::transition:
    case actor_event_kind::event:
      out["event"] = e.type;
      out["from"] = e.from;
      out["to"] = e.to;
      out["version"] = e.version;
      out["amount"] = e.amount;
      out["currency"] = e.currency;
      if (!e.request_id.empty())
        out["request_id"] = e.request_id;
      break;
    case actor_event_kind::crash:
      out["reason"] = e.type;
      break;
    default:
      if (!e.type.empty())
        out["reason"] = e.type;
  }
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

namespace {

void count(inspector_info& c, actor_event_kind k) {
  switch (k) {
    case actor_event_kind::spawn: c.spawns++; break;
    case actor_event_kind::passivate: c.passivations++; break;
    case actor_event_kind::crash: c.crashes++; break;
    case actor_event_kind::restart: c.restarts++; break;
    case actor_event_kind::transition: c.transitions++; break;
    case actor_event_kind::event: c.events++; break;
  }
}

/// The SSE event type: the stream separates transitions from lifecycle.
const char* frame_type(actor_event_kind k) {
  return k == actor_event_kind::transition || k == actor_event_kind::event ? "transition"
                                                                           : "lifecycle";
}

} // namespace

inspector_actor::behavior_type inspector_impl(inspector_self self,
                                              std::shared_ptr<stream_hub> hub) {
  self->state.hub = std::move(hub);
  return {
    [=](const actor_event& e) {
      count(self->state.counters, e.kind);
      auto& hub = *self->state.hub;
      if (hub.has_clients()) // formatting costs; nobody reads it otherwise
        hub.publish(frame_type(e.kind), actor_event_json(e));
    },
    [=](info_atom) {
      auto info = self->state.counters;
      info.stream_clients = self->state.hub->clients();
      info.stream_dropped = self->state.hub->dropped();
      info.mailbox_depth = self->mailbox().size();
      return info;
    },
  };
}

} // namespace payengine
