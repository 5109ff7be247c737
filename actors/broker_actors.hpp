#pragma once
// The RabbitMQ side of the engine (API.md "Events on RabbitMQ"), started by
// start_engine only when PAYENGINE_AMQP_URL is set: the event relay and the
// fulfillment consumer, each detached, and the status they report.

#include "config/config.hpp"
#include "messages/cluster.hpp"
#include "messages/interfaces.hpp"

#include <caf/actor_system.hpp>

#include <memory>

namespace payengine {

/// Spawns both into `h` (its registry shards must be there already).
void start_broker_actors(caf::actor_system& sys, const engine_config& cfg, engine_handles& h,
                         std::shared_ptr<shard_map> cluster);

} // namespace payengine
