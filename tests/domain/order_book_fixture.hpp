#pragma once
// Orders, channel answers and a tiny committer for the decision tests: a
// decision's write is applied to the book as the order actor does after
// the commit.

#include "domain/order_decisions.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace payengine::domain::test {

constexpr timestamp_us t0 = 1'700'000'000'000'000;
constexpr timestamp_us second = 1'000'000;

inline order_record order_in(order_status status, int64_t amount = 1000, int32_t attempt = 1) {
  order_record o;
  o.id = "ord_test0000000000000000001";
  o.merchant_id = "mch_test";
  o.merchant_order_no = "M-1";
  o.amount = amount;
  o.currency = "CNY";
  o.subject = "s";
  o.channel = "alipay";
  o.status = status;
  o.created_at = o.updated_at = t0;
  o.expires_at = t0 + 900 * second;
  o.version = 3;
  o.payment.attempt = attempt;
  bool paid = status == order_status::paid || status == order_status::completed
              || status == order_status::refunded;
  if (paid) {
    o.payment.paid_at = t0 + second;
    o.payment.channel_trade_no = "T1";
  }
  if (status == order_status::awaiting_payment)
    o.payment.qr_code = "https://qr/1";
  if (status == order_status::refunded)
    o.amount_refunded = amount;
  return o;
}

inline channel_event paid_event(const order_record& o, int32_t attempt, int64_t amount,
                                const std::string& trade_no, const std::string& notify_id = "n1") {
  channel_event ev;
  ev.order_id = o.id;
  ev.channel = "alipay";
  ev.out_trade_no = o.id + "_" + std::to_string(attempt);
  ev.state = static_cast<uint8_t>(trade_state::succeeded);
  ev.amount = amount;
  ev.channel_trade_no = trade_no;
  ev.paid_at = t0 + 2 * second;
  ev.notify_id = notify_id;
  ev.trade_status = "TRADE_SUCCESS";
  return ev;
}

inline channel_reply answer(channel_outcome outcome, std::string reason = {}) {
  channel_reply r;
  r.outcome = outcome;
  r.reason = std::move(reason);
  return r;
}

/// Applies a committed decision to the book, as the order actor does
/// (become_live, then the refund effects).
inline void commit(order_book& b, const decision& d) {
  if (d.write && !d.write->record_only)
    b.order = d.write->next;
  for (const auto& e : d.effects) {
    if (e.kind == effect_kind::execute_refund && !b.settled.count(e.refund.id)
        && std::none_of(b.owed.begin(), b.owed.end(), [&](auto& r) { return r.id == e.refund.id; }))
      b.owed.push_back(e.refund);
    if (e.kind == effect_kind::refund_settled) {
      b.settled.insert(e.refund.id);
      b.owed.erase(std::remove_if(b.owed.begin(), b.owed.end(),
                                  [&](auto& r) { return r.id == e.refund.id; }),
                   b.owed.end());
    }
  }
}

inline bool has_effect(const decision& d, effect_kind k) {
  return std::any_of(d.effects.begin(), d.effects.end(), [&](auto& e) { return e.kind == k; });
}

inline std::vector<std::string> merchant_event_types(const decision& d) {
  std::vector<std::string> out;
  if (d.write)
    for (const auto& m : d.write->merchant_events)
      out.push_back(m.type);
  return out;
}

} // namespace payengine::domain::test
