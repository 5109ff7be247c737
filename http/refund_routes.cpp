// Refunds and fulfillment: POST/GET /v1/orders/{id}/refunds,
// POST /v1/orders/{id}/fulfillment.
#include "http/bridge.hpp"
#include "messages/order_json.hpp"
#include "http/routes.hpp"
#include "http/validation.hpp"
#include "messages/ids.hpp"
#include "messages/money.hpp"
#include "messages/timestamps.hpp"

namespace payengine::http {

namespace {

using Request = request;
using Response = response;
using json = nlohmann::json;

json refund_json(const refund_row& r) {
  return {{"id", r.id},         {"object", "refund"},          {"order_id", r.order_id},
          {"amount", r.amount}, {"status", to_string(r.status)},
          {"origin", to_string(r.origin)}, {"reason", r.reason},
          {"failure_reason", r.failure_reason.empty() ? json(nullptr) : json(r.failure_reason)},
          {"created_at", to_rfc3339(r.created_at)}};
}

std::optional<api_error> unknown_params(const json& body, std::initializer_list<const char*> known) {
  for (const auto& item : body.items()) {
    const std::string& k = item.key();
    if (std::none_of(known.begin(), known.end(), [&](const char* n) { return k == n; }))
      return invalid_request("parameter_unknown", "Received unknown parameter: " + k.substr(0, 64) + ".",
                             k.substr(0, 64));
  }
  return std::nullopt;
}

/// The order id of the path and the JSON body of a command on it, or the
/// 4xx already sent.
std::optional<std::pair<std::string, json>> command_on_order(const Request& req, Response& res,
                                                             std::initializer_list<const char*> known) {
  auto id = req.matches[1];
  if (!well_formed_id(id, "ord")) {
    send(res, not_found());
    return std::nullopt;
  }
  auto body = parse_json_object(req.body);
  if (auto* err = std::get_if<api_error>(&body)) {
    send(res, *err);
    return std::nullopt;
  }
  if (auto err = unknown_params(std::get<json>(body), known)) {
    send(res, *err);
    return std::nullopt;
  }
  return std::make_pair(id, std::get<json>(std::move(body)));
}

void create_refund(server_context& ctx, const Request& req, Response& res, const merchant_record& m) {
  auto cmd = command_on_order(req, res, {"amount", "reason"});
  if (!cmd)
    return;
  const auto& [id, b] = *cmd;
  auto fields = parse_refund_fields(b);
  if (auto* err = std::get_if<api_error>(&fields))
    return send(res, *err);
  const auto& [amount, reason] = std::get<refund_fields>(fields);
  refund_order order{id, m.id, request_id_of(req), amount, reason, {}};
  // Under an Idempotency-Key the refund's id follows from the key: if the
  // key's record is lost after an unknown outcome, running the request
  // again finds the refund instead of refunding twice.
  if (auto key = req.get_header_value("Idempotency-Key"); !key.empty())
    order.refund_id = "rfd_" + sha256_hex("payengine/refund/" + m.id + "/" + id + "/" + key).substr(0, 32);
  auto reply = ask<order_reply>(ctx.sys, ctx.handles()->shard_for(id), ctx.request_timeout(), order);
  if (reply && reply->refusal == refusal_code::refund_exceeds_amount)
    return send(res, {409, "conflict_error", "refund_exceeds_amount",
                      "Refunds would exceed the order's amount; at most "
                        + std::to_string(reply->refundable) + " can be refunded.",
                      "amount", {{"refundable", reply->refundable}}});
  if (!reply || reply->outcome != order_outcome::created)
    return send_reply(res, reply, 202);
  refund_row r;
  r.id = reply->created_id;
  r.order_id = id;
  r.amount = amount;
  r.origin = refund_origin::merchant;
  r.reason = reason.empty() ? "requested_by_merchant" : reason;
  r.created_at = reply->order.updated_at;
  send_json(res, 202, refund_json(r));
}

void list_refunds(server_context& ctx, const Request& req, Response& res, const merchant_record& m) {
  auto id = req.matches[1];
  if (!well_formed_id(id, "ord"))
    return send(res, not_found());
  auto order = ask<order_reply>(ctx.sys, ctx.handles()->shard_for(id), ctx.request_timeout(), get_order{id, m.id});
  if (!order || order->outcome != order_outcome::ok)
    return send_reply(res, order, 200);
  auto rows = ask<std::vector<refund_row>>(ctx.sys, ctx.handles()->writer_for(id), ctx.request_timeout(),
                                           refunds_atom_v, id);
  if (!rows)
    return send(res, from_engine_error(rows.error()));
  auto data = json::array();
  for (const auto& r : *rows)
    data.push_back(refund_json(r));
  send_json(res, 200, {{"object", "list"}, {"data", std::move(data)}});
}

void fulfill(server_context& ctx, const Request& req, Response& res, const merchant_record& m) {
  auto cmd = command_on_order(req, res, {"stage", "detail"});
  if (!cmd)
    return;
  const auto& [id, b] = *cmd;
  auto stage = b.find("stage");
  uint8_t code = 0;
  for (auto s : {fulfillment_stage::produced, fulfillment_stage::shipped, fulfillment_stage::delivered})
    if (stage != b.end() && stage->is_string() && stage->get<std::string>() == to_string(s))
      code = static_cast<uint8_t>(s);
  if (code == 0)
    return send(res, invalid_param("stage", "stage must be one of produced, shipped, delivered."));
  std::string detail;
  if (auto d = b.find("detail"); d != b.end() && !d->is_null()) {
    if (!d->is_string() || !acceptable_text(d->get_ref<const std::string&>(), 500))
      return send(res, invalid_param("detail", "detail must be a string of at most 500 characters, without NUL."));
    detail = d->get<std::string>();
  }
  auto reply = ask<order_reply>(ctx.sys, ctx.handles()->shard_for(id), ctx.request_timeout(),
                                fulfill_order{id, m.id, request_id_of(req), code, detail});
  if (reply && reply->outcome == order_outcome::invalid_state && reply->order.status == order_status::paid)
    return send(res, {409, "conflict_error", "invalid_stage",
                      "Fulfillment only moves forward; it is " + std::string{to_string(reply->order.fulfillment)} + ".",
                      "stage", {}});
  send_reply(res, reply, 200);
}

} // namespace

void add_refund_routes(router& svr, server_context& ctx) {
  svr.post(R"(/v1/orders/([^/]+)/refunds)",
           merchant_route(ctx, [&ctx](const Request& req, Response& res, const merchant_record& m) {
             with_idempotency(ctx, req, res, m, [&](Response& r) { create_refund(ctx, req, r, m); });
           }));
  svr.get(R"(/v1/orders/([^/]+)/refunds)",
          merchant_route(ctx, [&ctx](const Request& req, Response& res, const merchant_record& m) {
            list_refunds(ctx, req, res, m);
          }));
  svr.post(R"(/v1/orders/([^/]+)/fulfillment)",
           merchant_route(ctx, [&ctx](const Request& req, Response& res, const merchant_record& m) {
             with_idempotency(ctx, req, res, m, [&](Response& r) { fulfill(ctx, req, r, m); });
           }));
}

} // namespace payengine::http
