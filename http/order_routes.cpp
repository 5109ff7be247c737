// /v1/orders: create, read (with long poll), list, cancel, events.
#include "config/logging.hpp"
#include "actors/read_cache.hpp"
#include "http/bridge.hpp"
#include "messages/order_json.hpp"
#include "http/routes.hpp"
#include "http/validation.hpp"
#include "messages/errors.hpp"
#include "messages/ids.hpp"
#include "messages/timestamps.hpp"

#include <algorithm>
#include <cmath>
#include <future>

namespace payengine::http {

namespace {

using Request = request;
using Response = response;

/// The merchant's token bucket on this node (API.md v1.1 "Overload"): a 429
/// beyond it, before the handler, so nothing of the request is applied.
std::optional<api_error> over_rate_limit(server_context& ctx, const merchant_record& m) {
  auto v = ctx.rate_limits.admit(m.id, m.rate_per_s, m.burst, std::chrono::steady_clock::now());
  if (v.admitted)
    return std::nullopt;
  ctx.metrics.shed("merchant_rate");
  api_error e{429, "rate_limit_error", "rate_limited",
              "Too many requests: this merchant's limit is " + std::to_string(m.rate_per_s)
                + " a second (burst " + std::to_string(effective_burst(m.rate_per_s, m.burst))
                + "); nothing was changed. Retry after the Retry-After seconds.",
              {}, {}, true};
  // Retry-After is whole seconds: round up, never 0 (that would invite a retry now).
  e.retry_after_s = static_cast<uint32_t>(std::max<int64_t>(1, (v.retry_after.count() + 999) / 1000));
  return e;
}

} // namespace

handler merchant_route(
  server_context& ctx,
  std::function<void(const request&, response&, const merchant_record&)> fn) {
  return [&ctx, fn](const Request& req, Response& res) {
    auto m = authenticate(ctx, req);
    if (auto* err = std::get_if<api_error>(&m)) {
      send(res, *err);
      return;
    }
    const auto& merchant = std::get<merchant_record>(m);
    if (auto refused = over_rate_limit(ctx, merchant)) {
      send(res, *refused);
      return;
    }
    fn(req, res, merchant);
  };
}

route_handlers merchant_async_route(server_context& ctx, merchant_async_body body) {
  auto fast = [&ctx, body](const request& req, const std::shared_ptr<response>& res,
                           const reply_fn& done) {
    auto m = authenticate_cached(ctx, req);
    if (!m)
      return false; // the key must be looked up: the pool does it
    if (auto* err = std::get_if<api_error>(&*m)) {
      send(*res, *err);
      done();
      return true;
    }
    const auto& merchant = std::get<merchant_record>(*m);
    if (auto refused = over_rate_limit(ctx, merchant)) {
      send(*res, *refused);
      done();
      return true;
    }
    body(req, res, merchant, done);
    return true;
  };
  auto blocking = [&ctx, body](const request& req, response& res) {
    auto m = authenticate(ctx, req);
    if (auto* err = std::get_if<api_error>(&m))
      return send(res, *err);
    const auto& merchant = std::get<merchant_record>(m);
    if (auto refused = over_rate_limit(ctx, merchant))
      return send(res, *refused);
    run_and_wait(ctx, body, req, res, merchant);
  };
  return {blocking, fast};
}

void run_and_wait(server_context& ctx, const merchant_async_body& body, const request& req,
                  response& res, const merchant_record& m) {
  // Shared with the body's reply handlers, which may outlive this call.
  auto out = std::make_shared<response>();
  auto finished = std::make_shared<std::promise<void>>();
  auto answered = finished->get_future();
  body(req, out, m, [finished] { finished->set_value(); });
  // The body's asks end at their deadlines (the engine's request timer);
  // past them (the askers stopped at shutdown) this thread gives up on its own.
  auto backstop = ctx.request_timeout() + std::chrono::seconds{5};
  if (answered.wait_for(backstop) != std::future_status::ready) {
    send(res, from_engine_error(caf::make_error(caf::sec::request_timeout)));
    return;
  }
  res = std::move(*out);
}

route_handlers merchant_async_write_route(server_context& ctx, merchant_async_body body) {
  auto async = merchant_async_route(ctx, body);
  auto fast = [fast = std::move(async.fast)](const request& req, const std::shared_ptr<response>& res,
                                             const reply_fn& done) {
    return !req.has_header("Idempotency-Key") && fast(req, res, done);
  };
  auto blocking = merchant_route(ctx, [&ctx, body](const request& req, response& res,
                                                   const merchant_record& m) {
    with_idempotency(ctx, req, res, m, [&](response& r) { run_and_wait(ctx, body, req, r, m); });
  });
  return {blocking, fast};
}

void send_reply(Response& res, const caf::expected<order_reply>& reply, int ok_status) {
  if (!reply) {
    send(res, from_engine_error(reply.error()));
    return;
  }
  const auto& r = *reply;
  switch (r.outcome) {
    case order_outcome::ok:
    case order_outcome::created:
      send_json(res, ok_status, order_json(r.order));
      return;
    case order_outcome::not_found:
      send(res, not_found());
      return;
    case order_outcome::invalid_state: {
      auto status = std::string{to_string(r.order.status)};
      switch (r.refusal) {
        case refusal_code::insufficient_funds:
          send(res, {402, "payment_error", "insufficient_funds",
                     "The wallet's available balance does not cover the amount; nothing was changed.",
                     "wallet", {}});
          return;
        case refusal_code::reversal_insufficient:
          send(res, {409, "conflict_error", "insufficient_funds",
                     "The top-up's wallet no longer holds the amount to take back; nothing was changed.",
                     "amount", {}});
          return;
        case refusal_code::wallet_missing:
          send(res, not_found("wallet"));
          return;
        case refusal_code::currency_mismatch:
          send(res, invalid_request("currency_mismatch",
                                    "The wallet holds another currency than the order.", "wallet"));
          return;
        case refusal_code::topup_by_balance:
          send(res, invalid_request("topup_by_balance",
                                    "A top-up is paid through a channel, not from a balance.", "method"));
          return;
        case refusal_code::no_channel:
          send(res, from_engine_error(make_error(engine_error::channel_unavailable, "no channel")));
          return;
        case refusal_code::past_expiry:
          send(res, {409, "conflict_error", "invalid_state",
                     "The order reached its expires_at and can no longer be paid; its expiry is being recorded.",
                     {}, {{"status", status}, {"expires_at", to_rfc3339(r.order.expires_at)}}});
          return;
        default:
          break;
      }
      if (r.refusal == refusal_code::fulfillment_not_forward) {
        auto stage = std::string{to_string(r.order.fulfillment)};
        send(res, {409, "conflict_error", "invalid_state",
                   "Fulfillment is " + stage + "; stages only move forward.", "stage",
                   {{"status", status}, {"fulfillment", stage}}});
        return;
      }
      send(res, {409, "conflict_error", "invalid_state",
                 "The order is " + status + "; this action is not allowed.", {},
                 {{"status", status}}});
      return;
    }
    case order_outcome::duplicate:
      send(res, {409, "conflict_error", "duplicate_order",
                 "An order with this merchant_order_no exists.", "merchant_order_no",
                 {{"id", r.order.id}}});
      return;
  }
}

namespace {

bool valid_order_id(const std::string& id) {
  return well_formed_id(id, "ord");
}

/// A fresh order id in a shard this node owns (API.md "Several nodes": a
/// create is served where it arrives). Empty if none was found: the node
/// owns no shard now.
std::string owned_order_id(const shard_map* cluster) {
  constexpr int tries_max = 1'000; // 64 shards, one owned: miss all ~ e^-15
  for (int i = 0; i < tries_max; ++i) {
    auto id = new_id("ord");
    if (!cluster || cluster->owns_order(id))
      return id;
  }
  return {};
}

order_record draft_from(const new_order_fields& f, const merchant_record& m,
                        const engine_config& cfg, const shard_map* cluster) {
  order_record o;
  o.id = owned_order_id(cluster);
  o.merchant_id = m.id;
  o.merchant_order_no = f.merchant_order_no;
  o.amount = f.amount;
  o.currency = f.currency;
  o.subject = f.subject;
  o.channel = f.channel;
  o.status = order_status::created;
  o.notify_url = f.notify_url;
  o.customer_phone = f.customer_phone;
  o.metadata = f.metadata;
  o.topup_wallet = f.topup_wallet;
  o.created_at = now_us();
  o.updated_at = o.created_at;
  // Under PAYENGINE_TIME_SCALE the order lives proportionally shorter.
  auto life_ms = cfg.scaled_ms(static_cast<uint64_t>(f.expires_in_s) * 1000);
  o.expires_at = o.created_at + int64_t{life_ms} * 1000;
  o.version = 1;
  return o;
}

/// The create itself, once the fields are checked: `draft` committed by
/// its new order actor.
void create_checked_order(server_context& ctx, order_record draft, const std::string& request_id,
                          const std::shared_ptr<Response>& res, const reply_fn& done) {
  auto shard = ctx.handles()->shard_for(draft.id);
  ask_async<order_reply>(ctx.askers, ctx.timer(), shard, ctx.request_timeout(),
                         [res, done](caf::expected<order_reply> reply) {
                           send_reply(*res, reply, 201);
                           done();
                         },
                         create_order{std::move(draft), request_id});
}

/// `POST /v1/orders`. Never blocks: each ask completes the next step.
void create_order_async(server_context& ctx, const Request& req, const std::shared_ptr<Response>& res,
                        const merchant_record& m, const reply_fn& done) {
  auto body = parse_json_object(req.body);
  if (auto* err = std::get_if<api_error>(&body)) {
    send(*res, *err);
    return done();
  }
  auto fields = parse_new_order(std::get<nlohmann::json>(body), ctx.channels);
  if (auto* err = std::get_if<api_error>(&fields)) {
    send(*res, *err);
    return done();
  }
  auto nf = std::get<new_order_fields>(std::move(fields));
  if (auto err = check_notify_url_target(nf.notify_url, ctx.outbound_policy)) {
    send(*res, *err);
    return done();
  }
  // Made here, on the request's thread: what may throw (drawing the id)
  // is answered by the server, not lost in a reply handler.
  auto draft = draft_from(nf, m, ctx.cfg, ctx.cluster.get());
  if (draft.id.empty()) {
    send(*res, unavailable_nothing_changed("shard_moving", "This node owns no shard now; nothing was changed. Retry."));
    return done();
  }
  auto request_id = request_id_of(req);
  if (nf.topup_wallet.empty())
    return create_checked_order(ctx, std::move(draft), request_id, res, done);
  // A top-up names a wallet of this merchant, in the order's currency.
  wallet_op get;
  get.wallet_id = nf.topup_wallet;
  get.merchant_id = m.id;
  ask_async<wallet_reply>(
    ctx.askers, ctx.timer(), ctx.handles()->wallets, ctx.request_timeout(),
    [&ctx, nf, draft = std::move(draft), request_id, res, done](caf::expected<wallet_reply> w) {
      if (!w) {
        send(*res, from_engine_error(w.error()));
        return done();
      }
      if (w->outcome != wallet_outcome::ok) {
        send(*res, invalid_param("topup_wallet", "No such wallet: " + nf.topup_wallet + "."));
        return done();
      }
      if (w->wallet.currency != nf.currency) {
        send(*res, invalid_request("currency_mismatch",
                                   "The wallet holds " + w->wallet.currency + ", the order is in "
                                     + nf.currency + ".", "topup_wallet"));
        return done();
      }
      create_checked_order(ctx, draft, request_id, res, done);
    },
    get);
}

/// `GET /v1/orders/{id}?wait_for_change=N&version=V`: a bounded long poll.
/// Never blocks: the reply (or the change) completes the response.
void get_order_async(server_context& ctx, const Request& req, const std::shared_ptr<Response>& res,
                     const merchant_record& m, const reply_fn& done) {
  auto id = req.matches[1];
  if (!valid_order_id(id)) {
    send(*res, not_found());
    return done();
  }
  auto answer = [res, done](caf::expected<order_reply> reply) {
    send_reply(*res, reply, 200);
    done();
  };
  if (!req.has_param("wait_for_change")) {
    // Read before: answered as committed, on the event loop (actors/read_cache.hpp).
    auto handles = ctx.handles();
    if (handles->reads)
      if (auto body = handles->reads->find(id, m.id)) {
        send_json_text(*res, 200, *body);
        return done();
      }
    return ask_async<order_reply>(ctx.askers, ctx.timer(), ctx.handles()->shard_for(id), ctx.request_timeout(),
                                  answer, get_order{id, m.id});
  }
  auto wait_s = parse_bounded_int(req.get_param_value("wait_for_change"), 0,
                                  ctx.cfg.long_poll_max_s);
  auto version = parse_bounded_int(req.has_param("version") ? req.get_param_value("version") : "0",
                                   0, INT64_MAX);
  if (!wait_s || !version) {
    send(*res, invalid_request("parameter_invalid",
                               "wait_for_change must be 0 to " + std::to_string(ctx.cfg.long_poll_max_s)
                                 + " seconds and version a non-negative integer.",
                               !wait_s ? "wait_for_change" : "version"));
    return done();
  }
  auto polls = ctx.long_polls;
  if (polls->fetch_add(1) >= ctx.cfg.long_polls_max) {
    polls->fetch_sub(1);
    send(*res, {429, "rate_limit_error", "too_many_long_polls",
                "Too many concurrent wait_for_change requests; retry later.", {}, {}, true});
    return done();
  }
  auto wait_ms = static_cast<uint32_t>(*wait_s * 1000);
  ask_async<order_reply>(ctx.askers, ctx.timer(), ctx.handles()->shard_for(id),
                         ctx.request_timeout() + std::chrono::milliseconds{wait_ms},
                         [polls, answer](caf::expected<order_reply> reply) {
                           polls->fetch_sub(1);
                           answer(std::move(reply));
                         },
                         watch_order{id, m.id, *version, wait_ms});
}

void list_orders_handler(server_context& ctx, const Request& req, Response& res,
                         const merchant_record& m) {
  auto params = parse_list_params(req.params);
  if (auto* err = std::get_if<api_error>(&params)) {
    send(res, *err);
    return;
  }
  auto& p = std::get<list_params>(params);
  auto page = ask<order_page>(ctx.sys, ctx.handles()->writer_for(m.id), ctx.request_timeout(),
                              order_page_query{m.id, p.status, p.starting_after, p.limit});
  if (!page) {
    send(res, from_engine_error(page.error()));
    return;
  }
  auto data = nlohmann::json::array();
  for (const auto& o : page->data)
    data.push_back(order_json(o));
  send_json(res, 200, {{"object", "list"}, {"data", std::move(data)}, {"has_more", page->has_more}});
}

void cancel_order_async(server_context& ctx, const Request& req, const std::shared_ptr<Response>& res,
                        const merchant_record& m, const reply_fn& done) {
  auto id = req.matches[1];
  if (!valid_order_id(id)) {
    send(*res, not_found());
    return done();
  }
  ask_async<order_reply>(ctx.askers, ctx.timer(), ctx.handles()->shard_for(id), ctx.request_timeout(),
                         [res, done](caf::expected<order_reply> reply) {
                           send_reply(*res, reply, 200);
                           done();
                         },
                         cancel_order{id, m.id, request_id_of(req)});
}

void events_handler(server_context& ctx, const Request& req, Response& res,
                    const merchant_record& m) {
  auto id = req.matches[1];
  if (!valid_order_id(id)) {
    send(res, not_found());
    return;
  }
  auto events = ask<std::vector<order_event_row>>(ctx.sys, ctx.handles()->writer_for(id),
                                                  ctx.request_timeout(), events_atom_v, id, m.id);
  if (!events) {
    send(res, from_engine_error(events.error()));
    return;
  }
  if (events->empty()) { // every stored order has its creation event
    send(res, not_found());
    return;
  }
  send_json(res, 200, events_json(*events));
}

/// GET /v1/events: what happened to the merchant's orders, in creation order.
void merchant_events_handler(server_context& ctx, const Request& req, Response& res,
                             const merchant_record& m) {
  uint32_t limit = 10;
  std::string after;
  for (const auto& [k, v] : req.params) {
    if (k == "limit") {
      auto n = parse_bounded_int(v, 1, 100);
      if (!n)
        return send(res, invalid_param("limit", "limit must be an integer from 1 to 100."));
      limit = static_cast<uint32_t>(*n);
    } else if (k == "starting_after") {
      if (!well_formed_id(v, "evt"))
        return send(res, invalid_param("starting_after", "starting_after must be an event id."));
      after = v;
    } else {
      return send(res, invalid_request("parameter_unknown", "Received unknown parameter: " + k.substr(0, 64) + ".", k.substr(0, 64)));
    }
  }
  auto rows = ask<std::vector<std::string>>(ctx.sys, ctx.handles()->writer_for(m.id), ctx.request_timeout(),
                                            events_atom_v, m.id, after, limit + 1);
  if (!rows)
    return send(res, from_engine_error(rows.error()));
  auto data = nlohmann::json::array();
  for (size_t i = 0; i < rows->size() && i < limit; ++i)
    data.push_back(nlohmann::json::parse((*rows)[i]));
  send_json(res, 200, {{"object", "list"}, {"data", std::move(data)}, {"has_more", rows->size() > limit}});
}

} // namespace

void add_order_routes(router& svr, server_context& ctx) {
  svr.get("/v1/events", merchant_route(ctx, [&ctx](const Request& req, Response& res,
                                                   const merchant_record& m) {
    merchant_events_handler(ctx, req, res, m);
  }));
  svr.post("/v1/orders",
           merchant_async_write_route(ctx, [&ctx](const Request& req, const std::shared_ptr<Response>& res,
                                                  const merchant_record& m, const reply_fn& done) {
             create_order_async(ctx, req, res, m, done);
           }));
  svr.get("/v1/orders", merchant_route(ctx, [&ctx](const Request& req, Response& res,
                                                   const merchant_record& m) {
    list_orders_handler(ctx, req, res, m);
  }));
  svr.get(R"(/v1/orders/([^/]+))",
          merchant_async_route(ctx, [&ctx](const Request& req, const std::shared_ptr<Response>& res,
                                           const merchant_record& m, const reply_fn& done) {
            get_order_async(ctx, req, res, m, done);
          }));
  svr.post(R"(/v1/orders/([^/]+)/cancel)",
           merchant_async_write_route(ctx, [&ctx](const Request& req, const std::shared_ptr<Response>& res,
                                                  const merchant_record& m, const reply_fn& done) {
             cancel_order_async(ctx, req, res, m, done);
           }));
  svr.get(R"(/v1/orders/([^/]+)/events)", merchant_route(ctx, [&ctx](const Request& req, Response& res,
                                                                    const merchant_record& m) {
    events_handler(ctx, req, res, m);
  }));
}

} // namespace payengine::http
