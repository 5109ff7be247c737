#include "sim/trade_book.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "sim/limits.hpp"

namespace payengine::sim {
namespace {

namespace sub_codes = alipay::sub_codes;
using alipay::trade_status;

std::string now_text() { return alipay::format_timestamp(std::chrono::system_clock::now()); }

// "2024-05-01 12:00:00" -> "20240501"
std::string date_digits(const std::string& timestamp) {
  std::string digits;
  for (char c : timestamp.substr(0, 10)) {
    if (c != '-') digits += c;
  }
  return digits;
}

std::string padded(std::uint64_t value, int width) {
  char text[32];
  std::snprintf(text, sizeof text, "%0*llu", width, static_cast<unsigned long long>(value));
  return text;
}

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
  if (const auto it = trades_.find(request.out_trade_no); it != trades_.end()) {
    return replay_precreate(it->second, request);
  }
  if (trades_.size() >= limits::trades_max) {
    return refusal{alipay::codes::unavailable, sub_codes::unknown_error, "simulator full"};
  }
  trade t;
  t.seq = next_seq_++;
  t.app_id = app_id;
  t.out_trade_no = request.out_trade_no;
  t.trade_no = next_trade_no();
  t.subject = request.subject;
  t.notify_url = notify_url;
  t.qr_code = qr_base_url_ + "/qr/" + t.trade_no;
  t.total_amount = request.total_amount;
  t.gmt_create = now_text();
  out_trade_nos_[t.trade_no] = t.out_trade_no;
  return trades_.emplace(t.out_trade_no, t).first->second;
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
  const trade* t = locate(out_trade_no, trade_no);
  if (t == nullptr) return not_found();
  return *t;
}

outcome<change> trade_book::close(const std::string& out_trade_no, const std::string& trade_no) {
  std::lock_guard lock(mutex_);
  trade* t = locate(out_trade_no, trade_no);
  if (t == nullptr) return not_found();
  if (t->status != trade_status::wait_buyer_pay) return status_error(*t);
  t->status = trade_status::trade_closed;
  t->gmt_close = now_text();
  return change{*t, notice_for(*t)};
}

outcome<refund_outcome> trade_book::refund(const alipay::refund_request& request) {
  std::lock_guard lock(mutex_);
  trade* t = locate(request.out_trade_no, request.trade_no);
  if (t == nullptr) return not_found();
  const auto previous = std::find_if(t->refunds.begin(), t->refunds.end(), [&](const refund_record& r) {
    return r.out_request_no == request.out_request_no;
  });
  if (previous != t->refunds.end()) {
    if (previous->amount != request.refund_amount) return business(sub_codes::context_inconsistent, "退款信息不一致");
    return refund_outcome{*t, *previous, false, std::nullopt};
  }
  if (t->status != trade_status::trade_success) return status_error(*t);
  if (t->refunded_amount + request.refund_amount > t->paid_amount) {
    return business(sub_codes::refund_amount_exceeded, "退款金额超限");
  }
  const std::string now = now_text();
  t->refunds.push_back({request.out_request_no, request.refund_amount, now});
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
  return refund_outcome{*t, t->refunds.back(), true, std::move(notice)};
}

outcome<change> trade_book::pay(const std::string& trade_no, std::optional<std::int64_t> amount) {
  std::lock_guard lock(mutex_);
  trade* t = locate("", trade_no);
  if (t == nullptr) return not_found();
  if (t->status != trade_status::wait_buyer_pay) return status_error(*t);
  t->status = trade_status::trade_success;
  t->paid_amount = amount.value_or(t->total_amount);
  t->gmt_payment = now_text();
  return change{*t, notice_for(*t)};
}

outcome<change> trade_book::fail(const std::string& trade_no) {
  std::lock_guard lock(mutex_);
  trade* t = locate("", trade_no);
  if (t == nullptr) return not_found();
  if (t->status != trade_status::wait_buyer_pay) return status_error(*t);
  t->status = trade_status::trade_closed;
  t->gmt_close = now_text();
  return change{*t, notice_for(*t)};
}

void trade_book::record_attempt(const std::string& out_trade_no, const std::string& notify_id,
                                const std::string& status, bool delivered, bool given_up) {
  std::lock_guard lock(mutex_);
  const auto it = trades_.find(out_trade_no);
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

std::optional<trade> trade_book::find(const std::string& out_trade_no) const {
  std::lock_guard lock(mutex_);
  const auto it = trades_.find(out_trade_no);
  if (it == trades_.end()) return std::nullopt;
  return it->second;
}

trade* trade_book::locate(const std::string& out_trade_no, const std::string& trade_no) {
  return const_cast<trade*>(std::as_const(*this).locate(out_trade_no, trade_no));
}

// Either key names the trade; both must then name the same one.
const trade* trade_book::locate(const std::string& out_trade_no, const std::string& trade_no) const {
  std::string key = out_trade_no;
  if (!trade_no.empty()) {
    const auto by_trade_no = out_trade_nos_.find(trade_no);
    if (by_trade_no == out_trade_nos_.end()) return nullptr;
    if (!key.empty() && key != by_trade_no->second) return nullptr;
    key = by_trade_no->second;
  }
  const auto it = trades_.find(key);
  return it == trades_.end() ? nullptr : &it->second;
}

// Alipay-like: the date, "22001", then a counter; 28 digits.
std::string trade_book::next_trade_no() { return date_digits(now_text()) + "22001" + padded(next_seq_, 15); }

std::optional<alipay::notification> trade_book::notice_for(trade& t) {
  if (t.notify_url.empty()) return std::nullopt;
  const std::string now = now_text();
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
  t.deliveries.push_back({n.notify_id, t.status, 0, "pending", false, false});
  return n;
}

nlohmann::json to_json(const trade& t) {
  nlohmann::json refunds = nlohmann::json::array();
  for (const auto& r : t.refunds) {
    refunds.push_back({{"out_request_no", r.out_request_no}, {"amount", r.amount}, {"gmt_refund", r.gmt_refund}});
  }
  nlohmann::json deliveries = nlohmann::json::array();
  int attempts = 0;
  for (const auto& d : t.deliveries) {
    attempts += d.attempts;
    deliveries.push_back({{"notify_id", d.notify_id},
                          {"trade_status", alipay::to_string(d.status)},
                          {"attempts", d.attempts},
                          {"last_status", d.last_status},
                          {"delivered", d.delivered},
                          {"given_up", d.given_up}});
  }
  return {{"out_trade_no", t.out_trade_no}, {"trade_no", t.trade_no},
          {"app_id", t.app_id},             {"status", alipay::to_string(t.status)},
          {"subject", t.subject},           {"total_amount", t.total_amount},
          {"paid_amount", t.paid_amount},   {"refunded_amount", t.refunded_amount},
          {"qr_code", t.qr_code},           {"notify_url", t.notify_url},
          {"gmt_create", t.gmt_create},     {"gmt_payment", t.gmt_payment},
          {"gmt_close", t.gmt_close},       {"refunds", refunds},
          {"notifications", deliveries},    {"notify_attempts", attempts}};
}

}  // namespace payengine::sim
