#pragma once
// The live actor tree as JSON, asked of the actors themselves: GET
// /admin/actors answers it, the stream's `stats` frames carry it (without
// the order actors, which the stream's lifecycle events keep current).

#include "http/context.hpp"
#include "messages/amqp_status.hpp"

#include <nlohmann/json.hpp>

namespace payengine::http {

/// Supervisor, registry shards, storage writers, gateways, notifier (with
/// its delivery workers), inspector, and up to `orders_max` live orders
/// (most recently used first).
nlohmann::json actor_tree(server_context& ctx, uint32_t orders_max,
                          std::chrono::milliseconds timeout = std::chrono::seconds{2});

/// The RabbitMQ relay and consumer as the admin API shows them.
nlohmann::json event_relay_json(const relay_info& r);
nlohmann::json fulfillment_consumer_json(const consumer_info& c);

/// One order actor as the admin API shows it.
nlohmann::json order_actor_json(const order_actor_info& i);

} // namespace payengine::http
