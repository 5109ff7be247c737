#pragma once
// Route groups, registered by server.cpp. Each handler is thin: JSON to
// message, one actor request with a timeout, reply to JSON.

#include "http/context.hpp"

#include <httplib.h>

#include <functional>

namespace payengine::http {

void add_order_routes(httplib::Server& svr, server_context& ctx);
void add_admin_routes(httplib::Server& svr, server_context& ctx);
void add_ops_routes(httplib::Server& svr, server_context& ctx);

/// Runs `handler` under the request's Idempotency-Key (API.md): replays a
/// finished response, refuses a different body (422) or a request still in
/// flight (409), and records what `handler` answered.
void with_idempotency(server_context& ctx, const httplib::Request& req,
                      httplib::Response& res, const merchant_record& merchant,
                      const std::function<void(httplib::Response&)>& handler);

} // namespace payengine::http
