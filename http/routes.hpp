#pragma once
// Route groups, registered by server.cpp. Each handler is thin: JSON to
// message, one actor request with a timeout, reply to JSON.

#include "http/context.hpp"

#include <httplib.h>

#include <functional>
#include <map>
#include <set>
#include <string>

namespace payengine::http {

/// Registers the routes on the server and remembers the methods of each
/// path pattern, so that another method on a known path answers 405 with
/// `Allow` instead of 404.
class router {
public:
  /// `intercept` runs before every handler; true: it answered (a request
  /// forwarded to another node).
  using interceptor = std::function<bool(const httplib::Request&, httplib::Response&)>;
  explicit router(httplib::Server& svr, interceptor intercept = {})
    : svr_(svr), intercept_(std::move(intercept)) {}
  void get(const std::string& pattern, httplib::Server::Handler handler);
  void post(const std::string& pattern, httplib::Server::Handler handler);
  void patch(const std::string& pattern, httplib::Server::Handler handler);
  /// After every route: the other methods of each pattern answer 405.
  void refuse_other_methods();

private:
  httplib::Server::Handler intercepted(httplib::Server::Handler handler) const;

  httplib::Server& svr_;
  interceptor intercept_;
  std::map<std::string, std::set<std::string>> methods_; // pattern -> methods
};

void add_order_routes(router& svr, server_context& ctx);
void add_admin_routes(router& svr, server_context& ctx);
void add_ops_routes(router& svr, server_context& ctx);
void add_payment_routes(router& svr, server_context& ctx);
void add_metrics_route(router& svr, server_context& ctx);
void add_refund_routes(router& svr, server_context& ctx);
void add_stream_route(router& svr, server_context& ctx);
void add_console_route(router& svr, server_context& ctx);
void add_cluster_routes(router& svr, server_context& ctx);

/// The API answer for an order actor's reply (order_routes.cpp).
void send_reply(httplib::Response& res, const caf::expected<order_reply>& reply, int ok_status);

/// Runs `fn(req, res, merchant)` for an authenticated merchant; 401 otherwise.
httplib::Server::Handler merchant_route(
  server_context& ctx,
  std::function<void(const httplib::Request&, httplib::Response&, const merchant_record&)> fn);

/// Runs `handler` under the request's Idempotency-Key (API.md): replays a
/// finished response, refuses a different body (422) or a request still in
/// flight (409), and records what `handler` answered.
void with_idempotency(server_context& ctx, const httplib::Request& req,
                      httplib::Response& res, const merchant_record& merchant,
                      const std::function<void(httplib::Response&)>& handler);

} // namespace payengine::http
