#pragma once
// The event relay (API.md "Events on RabbitMQ"): publishes every committed
// merchant event to the durable topic exchange `payengine.events`, routing
// key `<merchant id>.<event type>`, persistent, message_id = the event id,
// type = the event type, body = the webhook's body; an event counts as
// published when the broker confirmed it and PostgreSQL recorded that
// (merchant_events.published_at, migration 010). At least once: a crash
// between the confirm and the mark sends the event again, same message_id.
//
// A detached actor: the AMQP and PostgreSQL calls block, each bounded, on
// its own thread and connections (never a storage writer's), in short steps
// between which it reads its mailbox. In flight at most in_flight_max
// events, one per order at a time (order per order). Several nodes: each
// relays the events of the orders of the shards it owns.

#include "broker/amqp_connection.hpp"
#include "broker/backoff.hpp"
#include "broker/publish_window.hpp"
#include "messages/amqp_status.hpp"
#include "messages/cluster.hpp"
#include "messages/interfaces.hpp"
#include "storage/relay_table.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_actor.hpp>

#include <memory>
#include <optional>
#include <string>

namespace payengine {

/// The exchange every event goes to.
constexpr const char* events_exchange = "payengine.events";

struct relay_settings {
  broker::amqp_endpoint endpoint;
  broker::amqp_limits limits;
  std::string database_url;
  storage::session_limits db_limits;
  uint32_t in_flight_max = 256;     // events sent and not yet confirmed and marked
  uint32_t poll_ms = 20;            // how often an idle relay looks at the outbox
  uint32_t confirm_timeout_ms = 10'000; // a confirm this late: the connection is dropped
  uint32_t reconnect_min_ms = 100;  // back-off after a failure, doubling ...
  uint32_t reconnect_max_ms = 5'000; // ... up to this
  uint32_t lag_interval_ms = 1'000; // how often the backlog is counted
  std::shared_ptr<shard_map> cluster; // null: this node relays every event
  std::shared_ptr<amqp_status> status;
};

struct event_relay_state {
  static inline const char* name = "event_relay";
  event_relay_state() : window(1) {}
  relay_settings settings;
  std::unique_ptr<storage::relay_store> store;
  std::unique_ptr<broker::amqp_connection> conn;
  broker::publish_window window;
  relay_info info;
  broker::backoff backoff{100, 5'000}; // from the settings at start
  std::chrono::steady_clock::time_point retry_at; // no connection attempt before
  std::chrono::steady_clock::time_point lag_due;
  std::chrono::steady_clock::time_point full_scan_due;
  std::chrono::steady_clock::time_point read_due; // the next read of the backlog
  std::chrono::steady_clock::time_point mark_due; // the next record of confirmed events
  bool opened_once = false;
};

using event_relay_self = event_relay_actor::stateful_pointer<event_relay_state>;

event_relay_actor::behavior_type event_relay_impl(event_relay_self self, relay_settings settings);

/// The routing key of an event: `<merchant id>.<event type>`.
std::string routing_key_of(const std::string& merchant_id, const std::string& event_type);

} // namespace payengine
