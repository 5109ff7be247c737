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

void pay_async(server_context& ctx, const Request& req, const std::shared_ptr<Response>& res,
               const merchant_record& m, const reply_fn& done) {
  auto id = req.matches[1];
  if (!well_formed_id(id, "ord")) {
    send(*res, not_found());
    return done();
  }
  auto fields = parse_pay_fields(req.body);
  if (auto* err = std::get_if<api_error>(&fields)) {
    send(*res, *err);
    return done();
  }
  auto& f = std::get<pay_fields>(fields);
  // A balance payment is decided when answered (paid, or 402); a channel
  // payment is accepted and goes on at the channel.
  auto ok_status = f.method == "balance" ? 200 : 202;
  ask_async<order_reply>(ctx.askers, ctx.timer(), ctx.handles()->shard_for(id),
                         ctx.request_timeout() + std::chrono::seconds{2},
                         [res, done, ok_status](caf::expected<order_reply> reply) {
                           send_reply(*res, reply, ok_status);
                           done();
                         },
                         pay_order{id, m.id, request_id_of(req), f.method, f.wallet});
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

/// Alipay's asynchronous notification, verified (RSA2): what it tells the
/// order, or nothing when `res` already holds the answer (refused, or not
/// one of ours).
std::optional<channel_event> alipay_event(server_context& ctx, const Request& req, Response& res) {
  if (!ctx.alipay_key) {
    send(res, not_found("channel"));
    return std::nullopt;
  }
  auto n = channels::alipay::verify_notification(req.body, *ctx.alipay_key, ctx.cfg.alipay_app_id);
  if (!n) {
    logging::warn("callback.rejected", {{"channel", "alipay"},
                                        {"error", std::string{channels::to_string(n.error().code)}},
                                        {"detail", n.error().detail}});
    send(res, invalid_request("invalid_notification",
                              "The notification is unsigned, forged or malformed: nothing was changed."));
    return std::nullopt;
  }
  auto order_id = order_of(n->out_trade_no);
  if (!well_formed_id(order_id, "ord")) { // signed by the channel, but not ours
    logging::warn("callback.unknown_trade", {{"out_trade_no", n->out_trade_no}});
    answer_text(res, 200, "success");
    return std::nullopt;
  }
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
  return ev;
}

/// `success` only once what the notification causes is committed.
void answer_alipay(Response& res, const caf::expected<order_reply>& reply, const std::string& order_id) {
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
/// order actor: what it tells the order, or nothing when `res` already holds
/// the answer (refused, or not one of ours).
std::optional<channel_event> wechat_event(server_context& ctx, const Request& req, Response& res) {
  if (!ctx.wechat) {
    send(res, not_found("channel"));
    return std::nullopt;
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
    return std::nullopt;
  }
  std::string out_trade_no = n->trade ? n->trade->out_trade_no
                             : n->refund ? n->refund->out_trade_no : std::string{};
  auto order_id = order_of(out_trade_no);
  if (!well_formed_id(order_id, "ord")) { // signed by the channel, but not ours
    logging::warn("callback.unknown_trade", {{"channel", "wechat"}, {"out_trade_no", out_trade_no}});
    res.status = 204;
    return std::nullopt;
  }
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
  return ev;
}

/// 204 only once what the notification causes is committed.
void answer_wechat(Response& res, const caf::expected<order_reply>& reply, const std::string& order_id) {
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

using read_notification = std::optional<channel_event> (*)(server_context&, const Request&, Response&);
using answer_channel = void (*)(Response&, const caf::expected<order_reply>&, const std::string&);

/// A channel's notification route: verified, then committed by the owner of
/// the order's shard, whose answer goes back to the channel. On the event
/// loop when this node owns the shard; else on the pool, which forwards it
/// (and verifies it again there: forwarding is the rare case).
route_handlers callback_route(server_context& ctx, read_notification read, answer_channel answer) {
  auto blocking = [&ctx, read, answer](const Request& req, Response& res) {
    auto ev = read(ctx, req, res);
    if (!ev || forward_if_elsewhere(ctx, req, res, ev->order_id))
      return;
    auto reply = ask<order_reply>(ctx.sys, ctx.handles()->shard_for(ev->order_id), ctx.request_timeout(), *ev);
    answer(res, reply, ev->order_id);
  };
  auto fast = [&ctx, read, answer](const Request& req, const std::shared_ptr<Response>& res,
                                   const reply_fn& done) {
    auto ev = read(ctx, req, *res);
    if (!ev) {
      done();
      return true;
    }
    if (!served_here(ctx, req, ev->order_id))
      return false; // `res` untouched: the pool starts afresh
    auto order_id = ev->order_id;
    ask_async<order_reply>(ctx.askers, ctx.timer(), ctx.handles()->shard_for(order_id), ctx.request_timeout(),
                           [res, done, answer, order_id](caf::expected<order_reply> reply) {
                             answer(*res, reply, order_id);
                             done();
                           },
                           std::move(*ev));
    return true;
  };
  return {blocking, fast};
}

} // namespace

void add_payment_routes(router& svr, server_context& ctx) {
  svr.post(R"(/v1/orders/([^/]+)/pay)",
           merchant_async_write_route(ctx, [&ctx](const Request& req, const std::shared_ptr<Response>& res,
                                                  const merchant_record& m, const reply_fn& done) {
             pay_async(ctx, req, res, m, done);
           }));
  svr.post("/v1/callbacks/alipay", callback_route(ctx, alipay_event, answer_alipay));
  svr.post("/v1/callbacks/wechat", callback_route(ctx, wechat_event, answer_wechat));
}

} // namespace payengine::http
