#pragma once
// The live actor tree as JSON, asked of the actors themselves: GET
// /admin/actors answers it, the stream's `stats` frames carry it (without
// the order actors, which the stream's lifecycle events keep current).

#include "http/context.hpp"

#include <nlohmann/json.hpp>

namespace payengine::http {

/// Supervisor, registry shards, storage writers, gateways, notifier (with
/// its delivery workers), inspector, and up to `orders_max` live orders
/// (most recently used first).
nlohmann::json actor_tree(server_context& ctx, uint32_t orders_max,
                          std::chrono::milliseconds timeout = std::chrono::seconds{2});

/// One order actor as the admin API shows it.
nlohmann::json order_actor_json(const order_actor_info& i);

} // namespace payengine::http
