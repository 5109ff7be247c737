#pragma once
// Route groups, registered by server.cpp and matched by http/router.cpp.
// Each handler is thin: JSON to message, one actor request with a timeout,
// reply to JSON.

#include "http/context.hpp"
#include "http/message.hpp"

#include <functional>
#include <map>
#include <memory>
#include <type_traits>
#include <string>
#include <vector>

namespace payengine::http {

/// Completes an asynchronous handler's response: call it exactly once,
/// from any thread, when `res` is complete.
using reply_fn = std::function<void()>;

/// A handler that never blocks: it asks actors without waiting (CAF
/// replies) and calls `done` when the response is complete. The server runs
/// it on the event loop. It returns false, having touched nothing, when it
/// would have to block (an API key not cached yet): the route's blocking
/// handler then runs on the worker pool instead.
using async_handler =
  std::function<bool(const request&, const std::shared_ptr<response>&, const reply_fn&)>;

/// A route's handlers: the blocking one always, an asynchronous one where
/// the route has it.
struct route_handlers {
  template <class F, class = std::enable_if_t<std::is_convertible_v<F, handler>>>
  route_handlers(F f) : run(std::move(f)) {}
  route_handlers(handler h, async_handler f) : run(std::move(h)), fast(std::move(f)) {}
  handler run;
  async_handler fast;
};

/// A route's path: literal segments and `([^/]+)` captures (the only
/// pattern the routes use), matched segment by segment: a request's path
/// is compared once per route without a regular-expression engine.
class path_pattern {
public:
  explicit path_pattern(const std::string& pattern);
  /// Whether `path` matches; if so, `groups` gets the whole path, then
  /// each captured segment.
  bool match(const std::string& path, std::vector<std::string>& groups) const;

private:
  std::vector<std::string> segments_; // an empty one is a capture
};

/// The routes, matched in the order they were added. Another method on a
/// known path answers 405 with `Allow` (HEAD is GET without the body); an
/// unknown path 404.
class router {
public:
  /// `intercept` runs before every blocking handler; true: it answered (a
  /// request forwarded to another node). `local` says whether a request is
  /// served on this node (only then may an asynchronous handler take it).
  using interceptor = std::function<bool(const request&, response&)>;
  using locality = std::function<bool(const request&)>;
  router(interceptor intercept = {}, locality local = {})
    : intercept_(std::move(intercept)), local_(std::move(local)) {}
  void get(const std::string& pattern, route_handlers h) { add("GET", pattern, std::move(h)); }
  void post(const std::string& pattern, route_handlers h) { add("POST", pattern, std::move(h)); }
  void patch(const std::string& pattern, route_handlers h) { add("PATCH", pattern, std::move(h)); }

  struct route {
    std::string method;
    std::string pattern;
    path_pattern path; // literal segments and `([^/]+)` captures
    std::string label; // for the metrics
    uint32_t index;    // the order it was added in
    route_handlers handlers;
  };

  /// The route of `req` (req.matches filled in), or null: `res` then holds
  /// the 404 or 405 answer.
  const route* match(request& req, response& res) const;
  /// Whether `r` may run its asynchronous handler for `req`.
  bool may_run_async(const route& r, const request& req) const {
    return r.handlers.fast && (!local_ || local_(req));
  }
  /// Runs `r`'s blocking handler (after the interceptor).
  void run(const route& r, const request& req, response& res) const;

  /// The label of unmatched requests.
  static const std::string& unmatched();

private:
  void add(const std::string& method, const std::string& pattern, route_handlers h);

  interceptor intercept_;
  locality local_;
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
void add_wallet_routes(router& svr, server_context& ctx);

/// The API answer for an order actor's reply (order_routes.cpp).
void send_reply(response& res, const caf::expected<order_reply>& reply, int ok_status);

/// Runs `fn(req, res, merchant)` for an authenticated merchant; 401 otherwise.
handler merchant_route(
  server_context& ctx,
  std::function<void(const request&, response&, const merchant_record&)> fn);

/// A merchant route written once, without blocking: `body` asks actors
/// asynchronously and calls `done`. On the event loop when the API key is
/// cached; else on the pool after the key was checked in the database
/// (the pool thread waits for `done`).
using merchant_async_body = std::function<void(const request&, const std::shared_ptr<response>&,
                                               const merchant_record&, const reply_fn&)>;
route_handlers merchant_async_route(server_context& ctx, merchant_async_body body);

/// The same for a route that changes something: on the event loop unless
/// the request carries an Idempotency-Key (its claim is a PostgreSQL round
/// trip), which runs on the pool under with_idempotency.
route_handlers merchant_async_write_route(server_context& ctx, merchant_async_body body);

/// Runs an asynchronous `body` on this (pool) thread and waits until it
/// calls `done`; its answer is then in `res` (a timeout's answer if it
/// never does within the request timeout and a margin).
void run_and_wait(server_context& ctx, const merchant_async_body& body, const request& req,
                  response& res, const merchant_record& m);

/// Runs `handler` under the request's Idempotency-Key (API.md): replays a
/// finished response, refuses a different body (422) or a request still in
/// flight (409), and records what `handler` answered.
void with_idempotency(server_context& ctx, const request& req,
                      response& res, const merchant_record& merchant,
                      const std::function<void(response&)>& handler);

} // namespace payengine::http
