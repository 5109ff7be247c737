#include "domain/order_events.hpp"

#include <algorithm>
#include <stdexcept>

namespace payengine::domain {

namespace {

using f = order_fact;

const std::vector<fact_info> table = {
  // fact                       type                        merchant customer
  {f::order_created,            "order.created",            false,   false},
  {f::order_paying,             "order.paying",             false,   false},
  {f::order_awaiting_payment,   "order.awaiting_payment",   false,   false},
  {f::order_paid,               "order.paid",               true,    true},
  {f::order_failed,             "order.failed",             true,    false},
  {f::order_cancelled,          "order.cancelled",          true,    false},
  {f::order_expired,            "order.expired",            true,    false},
  {f::order_refunded,           "order.refunded",           true,    false},
  {f::order_completed,          "order.completed",          true,    false},
  {f::refund_created,           "refund.created",           false,   false},
  {f::refund_succeeded,         "refund.succeeded",         true,    true},
  {f::refund_failed,            "refund.failed",            true,    false},
  {f::payment_amount_mismatch,  "payment.amount_mismatch",  false,   false},
  {f::payment_duplicate,        "payment.duplicate",        false,   false},
  {f::fulfillment_produced,     "fulfillment.produced",     false,   false},
  {f::fulfillment_shipped,      "fulfillment.shipped",      false,   false},
  {f::payment_rerouted,         "payment.rerouted",         false,   false},
};

} // namespace

const std::vector<fact_info>& all_facts() {
  return table;
}

const fact_info& info(order_fact x) {
  auto i = static_cast<size_t>(x);
  if (i >= table.size() || table[i].fact != x)
    throw std::logic_error("order_fact table out of order");
  return table[i];
}

std::string_view to_string(order_fact x) {
  return info(x).type;
}

std::optional<order_fact> fact_from_string(std::string_view type) {
  auto i = std::find_if(table.begin(), table.end(), [&](const auto& r) { return r.type == type; });
  if (i == table.end())
    return std::nullopt;
  return i->fact;
}

order_fact fact_for_status(order_status to) {
  switch (to) {
    case order_status::created: return f::order_created;
    case order_status::paying: return f::order_paying;
    case order_status::awaiting_payment: return f::order_awaiting_payment;
    case order_status::paid: return f::order_paid;
    case order_status::failed: return f::order_failed;
    case order_status::cancelled: return f::order_cancelled;
    case order_status::expired: return f::order_expired;
    case order_status::refunded: return f::order_refunded;
    case order_status::completed: return f::order_completed;
  }
  throw std::logic_error("unknown order status");
}

std::vector<order_fact> merchant_facts(order_fact logged, order_status from, order_status to) {
  std::vector<order_fact> out;
  if (info(logged).merchant_facing)
    out.push_back(logged);
  if (from != to) {
    auto moved = fact_for_status(to);
    if (info(moved).merchant_facing && moved != logged)
      out.push_back(moved);
  }
  return out;
}

} // namespace payengine::domain
