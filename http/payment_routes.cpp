// Payments: POST /v1/orders/{id}/pay, and the channels' callbacks
// (POST /v1/callbacks/alipay, POST /v1/callbacks/wechat), answered
// `success` / 204 only after commit.
#include "channels/alipay.hpp"
#include "channels/wechat.hpp"
#include "config/logging.hpp"
#include "http/bridge.hpp"
#include "http/forward.hpp"
#include "http/routes.hpp"
#include "http/validation.hpp"
#include "messages/ids.hpp"

#include <nlohmann/json.hpp>

#include <chrono>

namespace payengine::http {

namespace {

using Request = request;
using Response = response;

void pay_handler(server_context& ctx, const Request& req, Response& res,
                 const merchant_record& m) {
  auto id = req.matches[1];
  if (!well_formed_id(id, "ord")) {
    send(res, not_found());
    return;
  }
  auto fields = parse_pay_fields(req.body);
  if (auto* err = std::get_if<api_error>(&fields)) {
    send(res, *err);
    return;
  }
  auto& f = std::get<pay_fields>(fields);
  auto balance = f.method == "balance";
  auto reply = ask<order_reply>(ctx.sys, ctx.handles()->shard_for(id),
                                ctx.request_timeout() + std::chrono::seconds{2},
                                pay_order{id, m.id, request_id_of(req), f.method, f.wallet});
  // A balance payment is decided when answered (paid, or 402); a channel
  // payment is accepted and goes on at the channel.
  send_reply(res, reply, balance ? 200 : 202);
}

trade_state state_of(channels::alipay::trade_status s) {
  using channels::alipay::trade_status;
  switch (s) {
    case trade_status::wait_buyer_pay: return trade_state::waiting;
    case trade_status::trade_success:
    case trade_status::trade_finished: return trade_state::succeeded;
    case trade_status::trade_closed: return trade_state::closed;
  }
  return trade_state::unknown;
}

/// The order id inside "<order id>_<attempt>".
std::string order_of(const std::string& out_trade_no) {
  auto cut = out_trade_no.rfind('_');
  return cut == std::string::npos ? "" : out_trade_no.substr(0, cut);
}

void answer_text(Response& res, int status, const char* text) {
  res.status = status;
  res.set_content(text, "text/plain; charset=utf-8");
}

/// Alipay's asynchronous notification: verified (RSA2), routed to the
/// order actor, answered `success` only once what it causes is committed.
void alipay_callback(server_context& ctx, const Request& req, Response& res) {
  if (!ctx.alipay_key) {
    send(res, not_found("channel"));
    return;
  }
  auto n = channels::alipay::verify_notification(req.body, *ctx.alipay_key, ctx.cfg.alipay_app_id);
  if (!n) {
    logging::warn("callback.rejected", {{"channel", "alipay"},
                                        {"error", std::string{channels::to_string(n.error().code)}},
                                        {"detail", n.error().detail}});
    send(res, invalid_request("invalid_notification",
                              "The notification is unsigned, forged or malformed: nothing was changed."));
    return;
  }
  auto order_id = order_of(n->out_trade_no);
  if (!well_formed_id(order_id, "ord")) { // signed by the channel, but not ours
    logging::warn("callback.unknown_trade", {{"out_trade_no", n->out_trade_no}});
    answer_text(res, 200, "success");
    return;
  }
  // Verified here; committed by the owner of the order's shard, whose
  // answer (`success` only after its commit) goes back to the channel.
  if (forward_if_elsewhere(ctx, req, res, order_id))
    return;
  channel_event ev;
  ev.order_id = order_id;
  ev.channel = "alipay";
  ev.out_trade_no = n->out_trade_no;
  ev.state = static_cast<uint8_t>(state_of(n->status));
  ev.amount = n->total_amount;
  ev.channel_trade_no = n->trade_no;
  ev.notify_id = n->notify_id;
  ev.trade_status = std::string{channels::alipay::to_string(n->status)};
  ev.refund_notice = n->refund_fee.has_value();
  auto reply = ask<order_reply>(ctx.sys, ctx.handles()->shard_for(order_id), ctx.request_timeout(), ev);
  if (!reply) { // not committed: the channel must send it again
    logging::warn("callback.not_committed", {{"order_id", order_id}, {"error", caf::to_string(reply.error())}});
    answer_text(res, 503, "fail");
    return;
  }
  if (reply->outcome == order_outcome::not_found)
    logging::warn("callback.unknown_order", {{"order_id", order_id}});
  answer_text(res, 200, "success");
}

/// WeChat Pay's answer to a notification it must send again: 5xx with
/// {"code": "FAIL", "message"} (its documented failure format).
void wechat_fail(Response& res, int status, const std::string& message) {
  res.status = status;
  res.set_content(nlohmann::json{{"code", "FAIL"}, {"message", message}}.dump(),
                  "application/json; charset=utf-8");
}

trade_state state_of(channels::wechat::trade_state s) {
  return channels::wechat::to_engine_state(s);
}

/// WeChat Pay v3's notification: the platform signature over
/// "timestamp\nnonce\nbody\n" (Wechatpay-* headers, +-300 s, no probe
/// signatures), the resource decrypted with the APIv3 key, routed to the
/// order actor; 204 only once what it causes is committed.
void wechat_callback(server_context& ctx, const Request& req, Response& res) {
  if (!ctx.wechat) {
    send(res, not_found("channel"));
    return;
  }
  channels::header_list headers;
  for (const auto* name : {"Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Signature",
                           "Wechatpay-Serial"})
    if (req.has_header(name))
      headers.emplace_back(name, req.get_header_value(name));
  const auto now_s = static_cast<int64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                            std::chrono::system_clock::now().time_since_epoch())
                                            .count());
  const auto& keys = *ctx.wechat;
  auto n = channels::wechat::verify_notification(headers, req.body, keys.platform_key,
                                                 keys.platform_serial, keys.apiv3_key,
                                                 keys.mch_id, now_s);
  if (!n) {
    // Nothing was applied: a forged, stale, tampered or probe notification
    // is refused with a 4xx (WeChat does not retry those as its own).
    logging::warn("callback.rejected", {{"channel", "wechat"},
                                        {"error", std::string{channels::to_string(n.error().code)}},
                                        {"detail", n.error().detail}});
    send(res, invalid_request("invalid_notification",
                              "The notification is unsigned, forged, stale or malformed: nothing was changed."));
    return;
  }
  std::string out_trade_no = n->trade ? n->trade->out_trade_no
                             : n->refund ? n->refund->out_trade_no : std::string{};
  auto order_id = order_of(out_trade_no);
  if (!well_formed_id(order_id, "ord")) { // signed by the channel, but not ours
    logging::warn("callback.unknown_trade", {{"channel", "wechat"}, {"out_trade_no", out_trade_no}});
    res.status = 204;
    return;
  }
  if (forward_if_elsewhere(ctx, req, res, order_id))
    return;
  channel_event ev;
  ev.order_id = order_id;
  ev.channel = "wechat";
  ev.out_trade_no = out_trade_no;
  ev.notify_id = n->id;
  if (n->trade) {
    const auto& t = *n->trade;
    ev.state = static_cast<uint8_t>(state_of(t.state));
    ev.amount = t.total;
    ev.currency = t.currency;
    ev.channel_trade_no = t.transaction_id;
    ev.paid_at = channels::wechat::parse_rfc3339_us(t.success_time).value_or(0);
    ev.trade_status = std::string{channels::wechat::to_string(t.state)};
  } else {
    ev.state = static_cast<uint8_t>(trade_state::succeeded);
    ev.amount = n->refund->total;
    ev.channel_trade_no = n->refund->transaction_id;
    ev.trade_status = n->event_type;
    ev.refund_notice = true;
  }
  auto reply = ask<order_reply>(ctx.sys, ctx.handles()->shard_for(order_id), ctx.request_timeout(), ev);
  if (!reply) { // not committed: the channel must send it again
    logging::warn("callback.not_committed", {{"channel", "wechat"}, {"order_id", order_id},
                                             {"error", caf::to_string(reply.error())}});
    wechat_fail(res, 503, "not committed, send it again");
    return;
  }
  if (reply->outcome == order_outcome::not_found)
    logging::warn("callback.unknown_order", {{"channel", "wechat"}, {"order_id", order_id}});
  res.status = 204;
}

} // namespace

void add_payment_routes(router& svr, server_context& ctx) {
  svr.post(R"(/v1/orders/([^/]+)/pay)",
           merchant_route(ctx, [&ctx](const Request& req, Response& res, const merchant_record& m) {
             with_idempotency(ctx, req, res, m, [&](Response& r) { pay_handler(ctx, req, r, m); });
           }));
  svr.post("/v1/callbacks/alipay", [&ctx](const Request& req, Response& res) {
    alipay_callback(ctx, req, res);
  });
  svr.post("/v1/callbacks/wechat", [&ctx](const Request& req, Response& res) {
    wechat_callback(ctx, req, res);
  });
}

} // namespace payengine::http
