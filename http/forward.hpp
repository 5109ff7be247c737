#pragma once
// Several nodes (API.md "Several nodes"): a request about an order whose
// shard another node owns is forwarded there, one hop, over internal HTTP;
// the owner's answer (status, headers, body) goes back as it is.

#include "http/context.hpp"

#include <httplib.h>

#include <string>

namespace payengine::http {

/// Marks a forwarded request (the owner never forwards it again); its
/// value is the forwarding node.
constexpr const char* forwarded_header = "X-Payengine-Forwarded";
constexpr const char* node_header = "X-Payengine-Node";

/// The order a request is about, from its path (/v1/orders/{id}...,
/// /admin/orders/{id}); empty if none.
std::string order_in_path(const std::string& path);

/// True when this node serves `order_id` itself (one node, its own shard,
/// or a request already forwarded once): nothing to forward.
bool served_here(const server_context& ctx, const request& req, const std::string& order_id);

/// True when `order_id`'s shard is served elsewhere and `res` holds the
/// answer: the owner's, or 503 with Retry-After while the shard moves (or
/// the owner cannot be reached; never a 2xx that was not committed).
/// False: this node serves it (it owns the shard, or the request was
/// already forwarded once).
bool forward_if_elsewhere(server_context& ctx, const request& req,
                          response& res, const std::string& order_id);

} // namespace payengine::http
