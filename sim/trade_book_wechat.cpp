// The trade book's WeChat Pay v3 rules: native prepay, query, close and
// refund, with WeChat's refusals (sim/wechat_requests.hpp).
#include <algorithm>

#include "sim/limits.hpp"
#include "sim/trade_book.hpp"
#include "sim/trade_book_keys.hpp"
#include "sim/wechat_keys.hpp"

namespace payengine::sim {
namespace {

using alipay::trade_status;
using book::date_digits;
using book::key_of;
using book::now_text;
using book::padded;

wechat_refusal order_not_found() { return {404, wechat_codes::order_not_exist, "订单不存在"}; }
wechat_refusal order_paid() { return {400, wechat_codes::order_paid, "该订单已支付"}; }

bool is_paid(const trade& t) {
  return t.status == trade_status::trade_success || t.status == trade_status::trade_finished;
}

bool same_order(const trade& t, const native_order& order) {
  return t.subject == order.description && t.total_amount == order.total && t.notify_url == order.notify_url;
}

std::string_view state_desc(wechat::trade_state state) {
  switch (state) {
    case wechat::trade_state::success: return "支付成功";
    case wechat::trade_state::refund: return "转入退款";
    case wechat::trade_state::notpay: return "未支付";
    case wechat::trade_state::closed: return "已关闭";
    case wechat::trade_state::revoked: return "已撤销";
    case wechat::trade_state::userpaying: return "用户支付中";
    case wechat::trade_state::payerror: return "支付失败";
  }
  return "";
}

}  // namespace

wechat::trade_state wechat_state(const trade& t) {
  switch (t.status) {
    case trade_status::wait_buyer_pay: return wechat::trade_state::notpay;
    case trade_status::trade_success:
    case trade_status::trade_finished:
      return t.refunded_amount > 0 ? wechat::trade_state::refund : wechat::trade_state::success;
    case trade_status::trade_closed: break;
  }
  return t.pay_failed ? wechat::trade_state::payerror : wechat::trade_state::closed;
}

// As Alipay's total_amount, amount.total is what was paid once paid (a
// tampered scan shows there), and payer_total what the buyer paid.
wechat::transaction to_transaction(const trade& t) {
  wechat::transaction x;
  x.appid = t.app_id;
  x.mchid = t.mch_id;
  x.out_trade_no = t.out_trade_no;
  x.trade_type = "NATIVE";
  x.state = wechat_state(t);
  x.trade_state_desc = std::string(state_desc(x.state));
  x.total = t.reported_amount();
  x.currency = "CNY";
  if (t.paid_amount > 0) {
    x.transaction_id = t.trade_no;
    x.success_time = t.gmt_payment;
    x.payer_total = t.paid_amount;
  }
  return x;
}

wechat_outcome<trade> trade_book::open_wechat(const native_order& order) {
  std::lock_guard lock(mutex_);
  if (const auto it = trades_.find(key_of(channel::wechat, order.out_trade_no)); it != trades_.end()) {
    return replay_open_wechat(it->second, order);
  }
  if (trades_.size() >= limits::trades_max) return wechat_refusal{500, wechat_codes::system_error, "simulator full"};
  trade t;
  t.via = channel::wechat;
  t.app_id = order.appid;
  t.mch_id = order.mchid;
  t.out_trade_no = order.out_trade_no;
  t.subject = order.description;
  t.notify_url = order.notify_url;
  t.total_amount = order.total;
  return add(std::move(t));
}

// The same order again gets the same code_url while it can be paid; the
// number with other parameters, or once paid or closed, is refused.
wechat_outcome<trade> trade_book::replay_open_wechat(const trade& existing, const native_order& order) const {
  if (is_paid(existing)) return order_paid();
  if (existing.status == trade_status::trade_closed) {
    return wechat_refusal{400, wechat_codes::order_closed, "当前订单已关闭，请重新下单"};
  }
  if (!same_order(existing, order)) return wechat_refusal{403, wechat_codes::out_trade_no_used, "商户订单号重复"};
  return existing;
}

wechat_outcome<trade> trade_book::query_wechat(const std::string& out_trade_no) const {
  std::lock_guard lock(mutex_);
  const trade* t = locate(channel::wechat, out_trade_no, "");
  if (t == nullptr) return order_not_found();
  return *t;
}

// Closing a closed (or failed) trade again succeeds; a paid one cannot close.
wechat_outcome<trade> trade_book::close_wechat(const std::string& out_trade_no) {
  std::lock_guard lock(mutex_);
  trade* t = locate(channel::wechat, out_trade_no, "");
  if (t == nullptr) return order_not_found();
  if (is_paid(*t)) return order_paid();
  if (t->status == trade_status::wait_buyer_pay) {
    t->status = trade_status::trade_closed;
    t->gmt_close = now_text(channel::wechat);
  }
  return *t;
}

wechat_outcome<refund_outcome> trade_book::refund_wechat(const refund_order& order) {
  std::lock_guard lock(mutex_);
  if (const auto it = out_refund_nos_.find(order.out_refund_no); it != out_refund_nos_.end()) {
    return replay_refund_wechat(it->second, order);
  }
  auto found = refundable_wechat(order);
  if (auto* refused = std::get_if<wechat_refusal>(&found)) return *refused;
  trade& t = *std::get<trade*>(found);
  if (t.refunded_amount + order.refund > t.paid_amount) return invalid_request("申请退款金额超过订单可退金额");
  const std::string now = now_text(channel::wechat);
  const std::string refund_id = "5030" + date_digits(now_text(channel::alipay)) + padded(next_refund_++, 17);
  t.refunds.push_back({order.out_refund_no, order.refund, now, refund_id});
  t.refunded_amount += order.refund;
  out_refund_nos_[order.out_refund_no] = key_of(channel::wechat, t.out_trade_no);
  auto notice = wechat_refund_notice(t, t.refunds.back(), order.notify_url);
  return refund_outcome{t, t.refunds.back(), true, std::nullopt, std::move(notice)};
}

// The trade a new refund is for: paid, and the refund's total is its amount.
wechat_outcome<trade*> trade_book::refundable_wechat(const refund_order& order) {
  trade* t = locate(channel::wechat, order.out_trade_no, order.transaction_id);
  if (t == nullptr) return wechat_refusal{404, wechat_codes::resource_not_exists, "订单不存在"};
  if (!is_paid(*t)) return invalid_request("订单未支付");
  if (order.total != t->total_amount && order.total != t->paid_amount) {
    return param_error("amount.total does not match the order's amount");
  }
  return t;
}

// An out_refund_no names one refund for good: the same request answers the
// same refund; other parameters under it are refused.
wechat_outcome<refund_outcome> trade_book::replay_refund_wechat(const std::string& trade_key,
                                                               const refund_order& order) const {
  const trade& t = trades_.at(trade_key);
  const auto same = [&](const refund_record& r) { return r.out_request_no == order.out_refund_no; };
  const refund_record& earlier = *std::find_if(t.refunds.begin(), t.refunds.end(), same);
  const bool same_trade = (order.out_trade_no.empty() || order.out_trade_no == t.out_trade_no) &&
                          (order.transaction_id.empty() || order.transaction_id == t.trade_no);
  if (!same_trade || earlier.amount != order.refund) {
    return invalid_request("退款单号已存在，且参数与原请求不一致");
  }
  return refund_outcome{t, earlier, false, std::nullopt, std::nullopt};
}

std::optional<wechat_notice> trade_book::wechat_paid_notice(trade& t) {
  if (t.notify_url.empty()) return std::nullopt;
  wechat::notification n;
  n.id = random_uuid();
  n.create_time = now_text(channel::wechat);
  n.event_type = "TRANSACTION.SUCCESS";
  n.summary = "支付成功";
  n.original_type = "transaction";
  n.trade = to_transaction(t);
  t.deliveries.push_back({n.id, n.event_type, 0, "pending", false, false});
  return wechat_notice{std::move(n), t.notify_url};
}

std::optional<wechat_notice> trade_book::wechat_refund_notice(trade& t, const refund_record& r,
                                                              const std::string& notify_url) {
  if (notify_url.empty()) return std::nullopt;
  wechat::refund_resource resource;
  resource.mchid = t.mch_id;
  resource.out_trade_no = t.out_trade_no;
  resource.transaction_id = t.trade_no;
  resource.out_refund_no = r.out_request_no;
  resource.refund_id = r.refund_id;
  resource.refund_status = "SUCCESS";
  resource.success_time = r.gmt_refund;
  resource.total = t.reported_amount();
  resource.refund = r.amount;
  wechat::notification n;
  n.id = random_uuid();
  n.create_time = r.gmt_refund;
  n.event_type = "REFUND.SUCCESS";
  n.summary = "退款成功";
  n.original_type = "refund";
  n.refund = std::move(resource);
  t.deliveries.push_back({n.id, n.event_type, 0, "pending", false, false});
  return wechat_notice{std::move(n), notify_url};
}

}  // namespace payengine::sim
