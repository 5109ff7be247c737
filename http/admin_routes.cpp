// /admin/*: merchants, live actors, an order's live and stored state.
#include "http/actor_tree.hpp"
#include "http/bridge.hpp"
#include "messages/order_json.hpp"
#include "http/routes.hpp"
#include "http/validation.hpp"
#include "messages/ids.hpp"
#include "messages/timestamps.hpp"

namespace payengine::http {

namespace {

using Request = request;
using Response = response;
using json = nlohmann::json;

template <class F>
handler admin_route(server_context& ctx, F fn) {
  return [&ctx, fn](const Request& req, Response& res) {
    if (!is_admin(ctx, req)) {
      send(res, {401, "authentication_error", "invalid_admin_token",
                 "Provide the admin token as 'Authorization: Bearer <token>'.", {}, {}});
      return;
    }
    fn(req, res);
  };
}

/// The merchant object (API.md): the secrets are shown only at creation.
json merchant_json(const merchant_record& m) {
  return {{"id", m.id}, {"object", "merchant"}, {"name", m.name},
          {"notify_url", m.notify_url.empty() ? json(nullptr) : json(m.notify_url)},
          {"rate_per_s", m.rate_per_s}, {"burst", m.burst},
          {"created_at", to_rfc3339(m.created_at)}};
}

/// A new merchant from validated fields; the rate defaults from the config.
merchant_record new_merchant(const server_context& ctx, const merchant_fields& f) {
  merchant_record m;
  m.id = new_id("mch");
  m.name = *f.name;
  m.notify_url = f.notify_url.value_or("");
  m.rate_per_s = f.rate_per_s.value_or(ctx.cfg.merchant_rate_per_s);
  m.burst = f.burst.value_or(ctx.cfg.merchant_burst);
  m.webhook_secret = "whsec_" + base64_encode(random_bytes(32));
  m.created_at = now_us();
  return m;
}

void create_merchant(server_context& ctx, const Request& req, Response& res) {
  auto body = parse_json_object(req.body);
  if (auto* err = std::get_if<api_error>(&body))
    return send(res, *err);
  auto fields = parse_merchant_fields(std::get<json>(body), ctx.outbound_policy);
  if (auto* err = std::get_if<api_error>(&fields))
    return send(res, *err);
  auto& f = std::get<merchant_fields>(fields);
  if (!f.name)
    return send(res, invalid_param("name", "name must be a string of 1 to 200 characters, without NUL."));
  auto m = new_merchant(ctx, f);
  auto api_key = new_id("sk", 32);
  auto hash = sha256_hex(api_key);
  auto ok = ask<bool>(ctx.sys, ctx.handles()->writer_for(hash), ctx.request_timeout(),
                      insert_atom_v, m, hash);
  if (!ok)
    return send(res, from_engine_error(ok.error()));
  ctx.merchants.remember(hash, m);
  auto out = merchant_json(m);
  out["api_key"] = api_key;
  out["webhook_secret"] = m.webhook_secret;
  send_json(res, 201, out);
}

/// PATCH /admin/merchants/{id}: name, notify_url, rate_per_s, burst. This
/// node's cache takes the change at once; the others within their TTL.
void patch_merchant(server_context& ctx, const Request& req, Response& res) {
  auto id = req.matches[1];
  auto body = parse_json_object(req.body);
  if (auto* err = std::get_if<api_error>(&body))
    return send(res, *err);
  if (std::get<json>(body).empty())
    return send(res, invalid_request("empty_body", "Send at least one of name, notify_url, rate_per_s, burst."));
  auto fields = parse_merchant_fields(std::get<json>(body), ctx.outbound_policy);
  if (auto* err = std::get_if<api_error>(&fields))
    return send(res, *err);
  if (!well_formed_id(id, "mch"))
    return send(res, not_found("merchant"));
  const auto& f = std::get<merchant_fields>(fields);
  merchant_patch p{id, f.name.has_value(), f.name.value_or(""), f.notify_url.has_value(),
                   f.notify_url.value_or(""), f.rate_per_s.has_value(), f.rate_per_s.value_or(0),
                   f.burst.has_value(), f.burst.value_or(0)};
  auto changed = ask<std::vector<merchant_record>>(ctx.sys, ctx.handles()->writer_for(id),
                                                   ctx.request_timeout(), p);
  if (!changed)
    return send(res, from_engine_error(changed.error()));
  if (changed->empty())
    return send(res, not_found("merchant"));
  ctx.merchants.update(changed->front());
  send_json(res, 200, merchant_json(changed->front()));
}

void order_detail(server_context& ctx, const Request& req, Response& res) {
  auto id = req.matches[1];
  if (!well_formed_id(id, "ord"))
    return send(res, not_found());
  auto stored = ask<std::vector<order_record>>(ctx.sys, ctx.handles()->writer_for(id),
                                               ctx.request_timeout(), load_atom_v, id);
  if (!stored)
    return send(res, from_engine_error(stored.error()));
  if (stored->empty())
    return send(res, not_found());
  auto events = ask<std::vector<order_event_row>>(ctx.sys, ctx.handles()->writer_for(id),
                                                  ctx.request_timeout(), events_atom_v, id,
                                                  std::string{});
  auto live = ask<order_actor_info>(ctx.sys, ctx.handles()->shard_for(id), ctx.request_timeout(),
                                    inspect_order{id});
  send_json(res, 200, {{"stored", order_json(stored->front())},
                       {"actor", live ? order_actor_json(*live) : json(nullptr)},
                       {"events", events ? events_json(*events)["data"] : json::array()}});
}

void list_actors(server_context& ctx, const Request& req, Response& res) {
  auto limit = parse_bounded_int(req.has_param("limit") ? req.get_param_value("limit") : "100", 1, 1000);
  if (!limit)
    return send(res, invalid_param("limit", "limit must be an integer from 1 to 1000."));
  send_json(res, 200, actor_tree(ctx, static_cast<uint32_t>(*limit)));
}

/// The engine's own actors by name (order_registry-0, storage_writer-0,
/// gateway-alipay, notifier, ...): killing one makes the top supervisor
/// restart the engine's actors from storage.
void kill_engine_actor(server_context& ctx, const std::string& name, Response& res) {
  auto actor = ctx.handles()->child(name);
  if (!actor)
    return send(res, not_found("actor"));
  // An exit its handlers see (a shard stops its order actors first); any
  // death of an engine actor makes the supervisor restart them all.
  caf::anon_send_exit(actor, caf::exit_reason::user_shutdown);
  send_json(res, 202, {{"id", name}, {"killed", true}});
}

void kill_actor(server_context& ctx, const Request& req, Response& res) {
  auto id = req.matches[1];
  if (!well_formed_id(id, "ord"))
    return kill_engine_actor(ctx, id, res);
  auto killed = ask<bool>(ctx.sys, ctx.handles()->shard_for(id), ctx.request_timeout(), kill_atom_v, id);
  if (!killed)
    return send(res, from_engine_error(killed.error()));
  if (!*killed)
    return send(res, not_found("live actor"));
  send_json(res, 202, {{"id", id}, {"killed", true}});
}

/// One of the engine's own actors, as the tree shows it.
void one_engine_actor(server_context& ctx, const std::string& name, Response& res) {
  auto tree = actor_tree(ctx, 0);
  if (tree["supervisor"]["id"] == name)
    return send_json(res, 200, tree["supervisor"]);
  for (const auto& [key, value] : tree.items()) {
    if (value.is_object() && value.value("id", "") == name)
      return send_json(res, 200, value);
    if (value.is_array())
      for (const auto& node : value)
        if (node.value("id", "") == name)
          return send_json(res, 200, node);
  }
  send(res, not_found("actor"));
}

void one_actor(server_context& ctx, const Request& req, Response& res) {
  auto id = req.matches[1];
  if (!well_formed_id(id, "ord"))
    return one_engine_actor(ctx, id, res);
  auto live = ask<order_actor_info>(ctx.sys, ctx.handles()->shard_for(id), ctx.request_timeout(),
                                    inspect_order{id});
  if (!live)
    return send(res, from_engine_error(live.error()));
  send_json(res, 200, order_actor_json(*live));
}

void list_notifications(server_context& ctx, const Request& req, Response& res) {
  auto status = req.has_param("status") ? req.get_param_value("status") : "";
  if (!status.empty() && status != "pending" && status != "delivered" && status != "dead")
    return send(res, invalid_param("status", "status must be pending, delivered or dead."));
  auto limit = parse_bounded_int(req.has_param("limit") ? req.get_param_value("limit") : "100", 1, 1000);
  if (!limit)
    return send(res, invalid_param("limit", "limit must be an integer from 1 to 1000."));
  auto rows = ask<std::vector<std::string>>(ctx.sys, ctx.handles()->writers.front(), ctx.request_timeout(),
                                            notifs_atom_v, status, static_cast<uint32_t>(*limit));
  if (!rows)
    return send(res, from_engine_error(rows.error()));
  auto data = json::array();
  for (const auto& r : *rows)
    data.push_back(json::parse(r));
  send_json(res, 200, {{"object", "list"}, {"data", std::move(data)}});
}

void redeliver_notification(server_context& ctx, const Request& req, Response& res) {
  auto id = req.matches[1];
  if (!well_formed_id(id, "ntf"))
    return send(res, not_found("notification"));
  auto ok = ask<bool>(ctx.sys, ctx.handles()->writers.front(), ctx.request_timeout(), redeliver_atom_v, id);
  if (!ok)
    return send(res, from_engine_error(ok.error()));
  if (!*ok)
    return send(res, {409, "conflict_error", "not_redeliverable",
                      "No such notification, or it is still pending.", {}, {}});
  caf::anon_send(ctx.handles()->notifier, retry_atom_v);
  send_json(res, 202, {{"id", id}, {"status", "pending"}});
}

} // namespace

void add_admin_routes(router& svr, server_context& ctx) {
  svr.get("/admin/notifications", admin_route(ctx, [&ctx](const Request& req, Response& res) {
    list_notifications(ctx, req, res);
  }));
  svr.post(R"(/admin/notifications/([^/]+)/redeliver)", admin_route(ctx, [&ctx](const Request& req, Response& res) {
    redeliver_notification(ctx, req, res);
  }));
  svr.post("/admin/merchants", admin_route(ctx, [&ctx](const Request& req, Response& res) {
    create_merchant(ctx, req, res);
  }));
  svr.patch(R"(/admin/merchants/([^/]+))", admin_route(ctx, [&ctx](const Request& req, Response& res) {
    patch_merchant(ctx, req, res);
  }));
  svr.get(R"(/admin/orders/([^/]+))", admin_route(ctx, [&ctx](const Request& req, Response& res) {
    order_detail(ctx, req, res);
  }));
  svr.get("/admin/actors", admin_route(ctx, [&ctx](const Request& req, Response& res) {
    list_actors(ctx, req, res);
  }));
  svr.get(R"(/admin/actors/([^/]+))", admin_route(ctx, [&ctx](const Request& req, Response& res) {
    one_actor(ctx, req, res);
  }));
  svr.post(R"(/admin/actors/([^/]+)/kill)", admin_route(ctx, [&ctx](const Request& req, Response& res) {
    kill_actor(ctx, req, res);
  }));
}

void add_ops_routes(router& svr, server_context& ctx) {
  // Liveness only: answered on the event loop, it is the server's floor.
  auto alive = [](Response& res) { send_json(res, 200, {{"status", "ok"}}); };
  svr.get("/healthz", {[alive](const Request&, Response& res) { alive(res); },
                       [alive](const Request&, const std::shared_ptr<Response>& res, const reply_fn& done) {
                         alive(*res);
                         done();
                         return true;
                       }});
  svr.get("/readyz", [&ctx](const Request&, Response& res) {
    auto h = ctx.handles();
    bool db = true;
    for (const auto& w : h->writers)
      db = db && ask<bool>(ctx.sys, w, std::chrono::seconds{2}, ping_db_atom_v).engaged();
    bool actors = true;
    for (const auto& s : h->shards)
      actors = actors && ask<shard_info>(ctx.sys, s, std::chrono::seconds{2}, info_atom_v).engaged();
    auto restarts = ctx.directory->restarts();
    bool ready = db && actors && !restarts.gave_up;
    if (!ready)
      res.set_header("Retry-After", "5");
    send_json(res, ready ? 200 : 503,
              {{"status", ready ? "ready" : "not_ready"},
               {"database", db}, {"actors", actors}, {"engine_restarts", restarts.restarts}});
  });
}

} // namespace payengine::http
