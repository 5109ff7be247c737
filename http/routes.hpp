#pragma once
// Route groups, registered by server.cpp and matched by http/router.cpp.
// Each handler is thin: JSON to message, one actor request with a timeout,
// reply to JSON.

#include "http/context.hpp"
#include "http/message.hpp"

#include <functional>
#include <map>
#include <regex>
#include <string>
#include <vector>

namespace payengine::http {

/// The routes, matched in the order they were added. Another method on a
/// known path answers 405 with `Allow` (HEAD is GET without the body); an
/// unknown path 404.
class router {
public:
  /// `intercept` runs before every handler; true: it answered (a request
  /// forwarded to another node).
  using interceptor = std::function<bool(const request&, response&)>;
  explicit router(interceptor intercept = {}) : intercept_(std::move(intercept)) {}
  void get(const std::string& pattern, handler h) { add("GET", pattern, std::move(h)); }
  void post(const std::string& pattern, handler h) { add("POST", pattern, std::move(h)); }
  void patch(const std::string& pattern, handler h) { add("PATCH", pattern, std::move(h)); }

  /// Runs the route of `req` (filling req.matches) and returns its label
  /// for the metrics ("unmatched" when no pattern matched).
  const std::string& dispatch(request& req, response& res) const;

private:
  struct route {
    std::string method;
    std::string pattern;
    std::regex regex;
    std::string label;
    handler run;
  };
  void add(const std::string& method, const std::string& pattern, handler h);

  interceptor intercept_;
  std::vector<route> routes_;
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
void send_reply(response& res, const caf::expected<order_reply>& reply, int ok_status);

/// Runs `fn(req, res, merchant)` for an authenticated merchant; 401 otherwise.
handler merchant_route(
  server_context& ctx,
  std::function<void(const request&, response&, const merchant_record&)> fn);

/// Runs `handler` under the request's Idempotency-Key (API.md): replays a
/// finished response, refuses a different body (422) or a request still in
/// flight (409), and records what `handler` answered.
void with_idempotency(server_context& ctx, const request& req,
                      response& res, const merchant_record& merchant,
                      const std::function<void(response&)>& handler);

} // namespace payengine::http
