#pragma once
// The fulfillment consumer (API.md "Events on RabbitMQ"): reads updates
// {"order_id", "merchant_id", "stage", "detail"} from the durable queue
// `payengine.fulfillment` with manual acknowledgements and at most
// `prefetch` unacknowledged, and applies each through the order's actor
// (fulfill_order, as POST /v1/orders/{id}/fulfillment does). A delivery is
// acknowledged only after the order actor answered, i.e. after the commit.
//
// - An update that can never apply (bad JSON, unknown order, wrong
//   merchant, a stage before the order's, an order not paid) is published to
//   `payengine.fulfillment.dead` with the reason in `x-payengine-error`, and
//   the original acknowledged once the broker confirmed the dead letter.
// - The same stage again (a producer's redelivery) is acknowledged as done.
// - A transient failure (storage down, a timeout), or an order of a shard
//   another node owns, is held `requeue_delay_ms` and given back to the
//   queue (the broker hands it to a consumer again, on any node).
//
// A detached actor: the AMQP calls block, each bounded, on its own thread
// and connection; the order actors' answers come back as messages between
// its short reads.

#include "broker/amqp_connection.hpp"
#include "broker/backoff.hpp"
#include "messages/amqp_status.hpp"
#include "messages/cluster.hpp"
#include "messages/interfaces.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_actor.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace payengine {

constexpr const char* fulfillment_queue = "payengine.fulfillment";
constexpr const char* fulfillment_dead_queue = "payengine.fulfillment.dead";

struct consumer_settings {
  broker::amqp_endpoint endpoint;
  broker::amqp_limits limits;
  uint16_t prefetch = 32;            // unacknowledged deliveries at most
  uint32_t requeue_delay_ms = 1'000; // hold before a transient failure goes back
  uint32_t apply_timeout_ms = 10'000; // the order actor's answer
  uint32_t poll_ms = 100;            // the longest read of the socket at once
  uint32_t reconnect_min_ms = 100;
  uint32_t reconnect_max_ms = 5'000;
  std::shared_ptr<shard_map> cluster; // null: every order is this node's
  std::shared_ptr<amqp_status> status;
};

/// Where an unacknowledged delivery is.
enum class delivery_phase : uint8_t { received, applying, held, dead_lettering };

struct fulfillment_consumer_state {
  static inline const char* name = "fulfillment_consumer";
  consumer_settings settings;
  std::vector<order_registry_actor> registries;
  std::unique_ptr<broker::amqp_connection> conn;
  uint64_t generation = 0;                  // of the connection: tags are per connection
  std::map<uint64_t, delivery_phase> unacked; // by delivery tag
  std::map<uint64_t, uint64_t> dead_letters; // publish confirm tag -> delivery tag
  consumer_info info;
  broker::backoff backoff{100, 5'000}; // from the settings at start
  std::chrono::steady_clock::time_point retry_at;
  bool opened_once = false;
  bool ticking = false; // a step is scheduled
};

using fulfillment_consumer_self =
  fulfillment_consumer_actor::stateful_pointer<fulfillment_consumer_state>;

fulfillment_consumer_actor::behavior_type
fulfillment_consumer_impl(fulfillment_consumer_self self, consumer_settings settings,
                          std::vector<order_registry_actor> registries);

} // namespace payengine
