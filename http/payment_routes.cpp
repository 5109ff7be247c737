// Payments: POST /v1/orders/{id}/pay, and the channels' callbacks
// (POST /v1/callbacks/alipay), answered `success` only after commit.
#include "channels/alipay.hpp"
#include "config/logging.hpp"
#include "http/bridge.hpp"
#include "http/forward.hpp"
#include "http/routes.hpp"
#include "http/validation.hpp"
#include "messages/ids.hpp"

namespace payengine::http {

namespace {

using Request = request;
using Response = response;

void pay_handler(server_context& ctx, const Request& req, Response& res,
                 const merchant_record& m) {
  auto id = req.matches[1].str();
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

} // namespace

void add_payment_routes(router& svr, server_context& ctx) {
  svr.post(R"(/v1/orders/([^/]+)/pay)",
           merchant_route(ctx, [&ctx](const Request& req, Response& res, const merchant_record& m) {
             with_idempotency(ctx, req, res, m, [&](Response& r) { pay_handler(ctx, req, r, m); });
           }));
  svr.post("/v1/callbacks/alipay", [&ctx](const Request& req, Response& res) {
    alipay_callback(ctx, req, res);
  });
}

} // namespace payengine::http
