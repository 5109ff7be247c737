#include "sim/trade_book.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "sim/clock.hpp"
#include "sim/limits.hpp"
#include "sim/trade_book_keys.hpp"

namespace payengine::sim {
namespace {

namespace sub_codes = alipay::sub_codes;
using alipay::trade_status;
using book::date_digits;
using book::key_of;
using book::now_text;
using book::padded;

refusal business(std::string_view sub_code, std::string sub_msg) {
  return {alipay::codes::business_failed, sub_code, std::move(sub_msg)};
}

refusal not_found() { return business(sub_codes::trade_not_exist, "交易不存在"); }

refusal status_error(const trade& t) {
  return business(sub_codes::trade_status_error, "交易状态不合法: " + std::string(alipay::to_string(t.status)));
}

}  // namespace

std::int64_t trade::reported_amount() const { return paid_amount > 0 ? paid_amount : total_amount; }

outcome<trade> trade_book::precreate(const alipay::precreate_request& request, const std::string& app_id,
                                     const std::string& notify_url) {
  std::lock_guard lock(mutex_);
  if (const auto it = trades_.find(key_of(channel::alipay, request.out_trade_no)); it != trades_.end()) {
    return replay_precreate(it->second, request);
  }
  if (trades_.size() >= limits::trades_max) {
    return refusal{alipay::codes::unavailable, sub_codes::unknown_error, "simulator full"};
  }
  trade t;
  t.via = channel::alipay;
  t.app_id = app_id;
  t.out_trade_no = request.out_trade_no;
  t.subject = request.subject;
  t.notify_url = notify_url;
  t.total_amount = request.total_amount;
  return add(std::move(t));
}

// Numbers, QR code and creation time; the caller has checked that the
// key is free and the book not full.
trade& trade_book::add(trade t) {
  t.seq = next_seq_++;
  t.trade_no = next_trade_no(t.via);
  t.qr_code = qr_base_url_ + "/qr/" + t.trade_no;
  t.gmt_create = now_text(t.via);
  const std::string key = key_of(t.via, t.out_trade_no);
  out_trade_nos_[t.trade_no] = key;
  return trades_.emplace(key, std::move(t)).first->second;
}

// Alipay answers a repeated precreate with the open trade, but never reopens
// a closed or paid one, nor changes its amount.
outcome<trade> trade_book::replay_precreate(const trade& existing, const alipay::precreate_request& request) const {
  if (existing.status == trade_status::trade_closed) return business(sub_codes::trade_has_close, "交易已关闭");
  if (existing.status != trade_status::wait_buyer_pay) return business(sub_codes::trade_has_success, "交易已支付");
  if (existing.total_amount != request.total_amount) {
    return business(sub_codes::context_inconsistent, "交易信息被篡改");
  }
  return existing;
}

outcome<trade> trade_book::query(const std::string& out_trade_no, const std::string& trade_no) const {
  std::lock_guard lock(mutex_);
  const trade* t = locate(channel::alipay, out_trade_no, trade_no);
  if (t == nullptr) return not_found();
  return *t;
}

outcome<change> trade_book::close(const std::string& out_trade_no, const std::string& trade_no) {
  std::lock_guard lock(mutex_);
  trade* t = locate(channel::alipay, out_trade_no, trade_no);
  if (t == nullptr) return not_found();
  if (t->status != trade_status::wait_buyer_pay) return status_error(*t);
  t->status = trade_status::trade_closed;
  t->gmt_close = now_text(channel::alipay);
  return change{*t, notice_for(*t), std::nullopt};
}

outcome<refund_outcome> trade_book::refund(const alipay::refund_request& request) {
  std::lock_guard lock(mutex_);
  trade* t = locate(channel::alipay, request.out_trade_no, request.trade_no);
  if (t == nullptr) return not_found();
  const auto previous = std::find_if(t->refunds.begin(), t->refunds.end(), [&](const refund_record& r) {
    return r.out_request_no == request.out_request_no;
  });
  if (previous != t->refunds.end()) {
    if (previous->amount != request.refund_amount) return business(sub_codes::context_inconsistent, "退款信息不一致");
    return refund_outcome{*t, *previous, false, std::nullopt, std::nullopt};
  }
  if (t->status != trade_status::trade_success) return status_error(*t);
  if (t->refunded_amount + request.refund_amount > t->paid_amount) {
    return business(sub_codes::refund_amount_exceeded, "退款金额超限");
  }
  const std::string now = now_text(channel::alipay);
  t->refunds.push_back({request.out_request_no, request.refund_amount, now, ""});
  t->refunded_amount += request.refund_amount;
  if (t->refunded_amount == t->paid_amount) {  // fully refunded: Alipay closes the trade
    t->status = trade_status::trade_closed;
    t->gmt_close = now;
  }
  auto notice = notice_for(*t);
  if (notice) {
    notice->refund_fee = t->refunded_amount;
    notice->gmt_refund = now;
    notice->out_biz_no = request.out_request_no;
  }
  return refund_outcome{*t, t->refunds.back(), true, std::move(notice), std::nullopt};
}

// Alipay notifies every change; WeChat only the payment (TRANSACTION.SUCCESS).
outcome<change> trade_book::pay(const std::string& trade_no, std::optional<std::int64_t> amount) {
  std::lock_guard lock(mutex_);
  trade* t = by_trade_no(trade_no);
  if (t == nullptr) return not_found();
  if (t->status != trade_status::wait_buyer_pay) return status_error(*t);
  t->status = trade_status::trade_success;
  t->paid_amount = amount.value_or(t->total_amount);
  t->gmt_payment = now_text(t->via);
  if (t->via == channel::wechat) return change{*t, std::nullopt, wechat_paid_notice(*t)};
  return change{*t, notice_for(*t), std::nullopt};
}

// Alipay closes the trade and says so; WeChat marks it PAYERROR, silently.
outcome<change> trade_book::fail(const std::string& trade_no) {
  std::lock_guard lock(mutex_);
  trade* t = by_trade_no(trade_no);
  if (t == nullptr) return not_found();
  if (t->status != trade_status::wait_buyer_pay) return status_error(*t);
  t->status = trade_status::trade_closed;
  t->gmt_close = now_text(t->via);
  if (t->via == channel::wechat) {
    t->pay_failed = true;
    return change{*t, std::nullopt, std::nullopt};
  }
  return change{*t, notice_for(*t), std::nullopt};
}

outcome<trade> trade_book::scanned(const std::string& trade_no) const {
  std::lock_guard lock(mutex_);
  const auto key = out_trade_nos_.find(trade_no);
  if (key == out_trade_nos_.end()) return not_found();
  return trades_.at(key->second);
}

void trade_book::record_attempt(channel via, const std::string& out_trade_no, const std::string& notify_id,
                                const std::string& status, bool delivered, bool given_up) {
  std::lock_guard lock(mutex_);
  const auto it = trades_.find(key_of(via, out_trade_no));
  if (it == trades_.end()) return;
  for (auto& d : it->second.deliveries) {
    if (d.notify_id != notify_id) continue;
    ++d.attempts;
    d.last_status = status;
    d.delivered = d.delivered || delivered;
    d.given_up = given_up;
  }
}

std::vector<trade> trade_book::list() const {
  std::lock_guard lock(mutex_);
  std::vector<trade> all;
  all.reserve(trades_.size());
  for (const auto& [key, t] : trades_) all.push_back(t);
  std::sort(all.begin(), all.end(), [](const trade& a, const trade& b) { return a.seq < b.seq; });
  return all;
}

std::optional<trade> trade_book::find(const std::string& out_trade_no, std::optional<channel> only) const {
  std::lock_guard lock(mutex_);
  for (const channel via : all_channels) {
    if (only && *only != via) continue;
    const auto it = trades_.find(key_of(via, out_trade_no));
    if (it != trades_.end()) return it->second;
  }
  return std::nullopt;
}

trade* trade_book::locate(channel via, const std::string& out_trade_no, const std::string& trade_no) {
  return const_cast<trade*>(std::as_const(*this).locate(via, out_trade_no, trade_no));
}

// Either number names the trade of channel `via`; both must then name the
// same one.
const trade* trade_book::locate(channel via, const std::string& out_trade_no, const std::string& trade_no) const {
  std::string key = out_trade_no.empty() ? std::string{} : key_of(via, out_trade_no);
  if (!trade_no.empty()) {
    const auto by_trade_no = out_trade_nos_.find(trade_no);
    if (by_trade_no == out_trade_nos_.end()) return nullptr;
    if (!key.empty() && key != by_trade_no->second) return nullptr;
    key = by_trade_no->second;
  }
  const auto it = trades_.find(key);
  if (it == trades_.end() || it->second.via != via) return nullptr;
  return &it->second;
}

trade* trade_book::by_trade_no(const std::string& trade_no) {
  const auto key = out_trade_nos_.find(trade_no);
  return key == out_trade_nos_.end() ? nullptr : &trades_.at(key->second);
}

// Alipay-like: the date, "22001", then a counter; 28 digits. WeChat-like:
// "4200", the date, then a counter; 28 digits too.
std::string trade_book::next_trade_no(channel via) {
  const std::string date = date_digits(now_text(channel::alipay));
  if (via == channel::wechat) return "4200" + date + padded(next_seq_, 16);
  return date + "22001" + padded(next_seq_, 15);
}

std::optional<alipay::notification> trade_book::notice_for(trade& t) {
  if (t.notify_url.empty()) return std::nullopt;
  const std::string now = now_text(channel::alipay);
  alipay::notification n;
  n.notify_id = date_digits(now) + "00222" + padded(next_notify_++, 19);
  n.notify_time = now;
  n.notify_type = "trade_status_sync";
  n.app_id = t.app_id;
  n.out_trade_no = t.out_trade_no;
  n.trade_no = t.trade_no;
  n.status = t.status;
  n.total_amount = t.reported_amount();
  n.subject = t.subject;
  n.gmt_create = t.gmt_create;
  if (t.paid_amount > 0) {
    n.receipt_amount = t.paid_amount;
    n.gmt_payment = t.gmt_payment;
    n.buyer_id = std::string(sim_buyer_id);
    n.buyer_logon_id = std::string(sim_buyer_logon_id);
  }
  if (!t.gmt_close.empty()) n.gmt_close = t.gmt_close;
  t.deliveries.push_back({n.notify_id, std::string(alipay::to_string(t.status)), 0, "pending", false, false});
  return n;
}

std::string status_text(const trade& t) {
  if (t.via == channel::wechat) return std::string(wechat::to_string(wechat_state(t)));
  return std::string(alipay::to_string(t.status));
}

nlohmann::json to_json(const trade& t) {
  nlohmann::json refunds = nlohmann::json::array();
  for (const auto& r : t.refunds) {
    nlohmann::json refund = {{"out_request_no", r.out_request_no}, {"amount", r.amount}, {"gmt_refund", r.gmt_refund}};
    if (!r.refund_id.empty()) refund["refund_id"] = r.refund_id;
    refunds.push_back(std::move(refund));
  }
  nlohmann::json deliveries = nlohmann::json::array();
  int attempts = 0;
  for (const auto& d : t.deliveries) {
    attempts += d.attempts;
    deliveries.push_back({{"notify_id", d.notify_id},
                          {t.via == channel::wechat ? "event_type" : "trade_status", d.event},
                          {"attempts", d.attempts},
                          {"last_status", d.last_status},
                          {"delivered", d.delivered},
                          {"given_up", d.given_up}});
  }
  return {{"channel", to_string(t.via)},    {"out_trade_no", t.out_trade_no},
          {"trade_no", t.trade_no},         {"mch_id", t.mch_id},
          {"app_id", t.app_id},             {"status", status_text(t)},
          {"subject", t.subject},           {"total_amount", t.total_amount},
          {"paid_amount", t.paid_amount},   {"refunded_amount", t.refunded_amount},
          {"qr_code", t.qr_code},           {"notify_url", t.notify_url},
          {"gmt_create", t.gmt_create},     {"gmt_payment", t.gmt_payment},
          {"gmt_close", t.gmt_close},       {"refunds", refunds},
          {"notifications", deliveries},    {"notify_attempts", attempts}};
}

}  // namespace payengine::sim
