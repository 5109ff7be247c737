#pragma once
// What the inspector (actors/inspector.cpp) hears and tells: lifecycle and
// transition events of the order actors, and the notifier's queue.

#include "messages/timestamps.hpp"

#include <caf/meta/type_name.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace payengine {

/// What happened to an actor. `transition` and `event` come from an order
/// actor after its write committed; the others from its registry shard.
enum class actor_event_kind : uint8_t {
  spawn,      // activated: created, or loaded from storage on demand
  passivate,  // stopped after idleness or eviction; its row stays
  crash,      // died with an error (or was killed by an operator)
  restart,    // spawned again from storage after a crash
  transition, // committed a status change
  event,      // committed an event without a status change (a refund, a flag)
};

std::string_view to_string(actor_event_kind k);

struct actor_event {
  actor_event_kind kind = actor_event_kind::spawn;
  std::string order_id;
  std::string actor_id;   // CAF actor id, for the console's tree
  std::string type;       // event type ("order.paid") or the reason of a crash
  std::string from;       // statuses, for transitions
  std::string to;
  int64_t version = 0;
  int64_t amount = 0;     // minor units, with currency (transitions)
  std::string currency;
  std::string request_id;
  uint32_t shard = 0;
  timestamp_us at = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, actor_event& x) {
  return f(caf::meta::type_name("actor_event"), x.kind, x.order_id, x.actor_id, x.type,
           x.from, x.to, x.version, x.amount, x.currency, x.request_id, x.shard, x.at);
}

/// The inspector's own counters (GET /admin/actors, /metrics).
struct inspector_info {
  uint64_t spawns = 0;
  uint64_t passivations = 0;
  uint64_t crashes = 0;
  uint64_t restarts = 0;
  uint64_t transitions = 0;
  uint64_t events = 0;
  uint32_t stream_clients = 0;
  uint64_t stream_dropped = 0; // events dropped for slow stream clients
  uint64_t mailbox_depth = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, inspector_info& x) {
  return f(caf::meta::type_name("inspector_info"), x.spawns, x.passivations, x.crashes,
           x.restarts, x.transitions, x.events, x.stream_clients, x.stream_dropped,
           x.mailbox_depth);
}

/// The notifier's view of the outbox (GET /admin/actors, /metrics).
struct notifier_info {
  uint32_t workers = 0;
  uint32_t in_flight = 0;      // attempts running on workers
  uint32_t waiting = 0;        // claimed, merchant at its concurrency bound
  uint64_t attempts = 0;
  uint64_t delivered = 0;
  uint64_t dead = 0;
  uint64_t pending = 0;        // outbox rows not yet delivered (database)
  uint64_t dead_rows = 0;      // dead letters in the outbox (database)
  timestamp_us next_attempt_at = 0; // earliest pending attempt; 0 if none
  uint64_t mailbox_depth = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, notifier_info& x) {
  return f(caf::meta::type_name("notifier_info"), x.workers, x.in_flight, x.waiting,
           x.attempts, x.delivered, x.dead, x.pending, x.dead_rows, x.next_attempt_at,
           x.mailbox_depth);
}

} // namespace payengine
