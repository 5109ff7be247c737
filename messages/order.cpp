#include "messages/order.hpp"

#include "messages/money.hpp"

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

namespace payengine {

std::string_view to_string(order_status x) {
  switch (x) {
    case order_status::created: return "created";
    case order_status::paying: return "paying";
    case order_status::awaiting_payment: return "awaiting_payment";
    case order_status::paid: return "paid";
    case order_status::failed: return "failed";
    case order_status::cancelled: return "cancelled";
    case order_status::expired: return "expired";
    case order_status::refunded: return "refunded";
    case order_status::completed: return "completed";
  }
  return "unknown";
}

std::optional<order_status> order_status_from_string(std::string_view text) {
  for (auto s : all_order_statuses)
    if (to_string(s) == text)
      return s;
  return std::nullopt;
}

std::optional<order_status> order_status_from_code(int code) {
  for (auto s : all_order_statuses)
    if (static_cast<int>(s) == code)
      return s;
  return std::nullopt;
}

bool expirable(order_status x) {
  return x == order_status::created || x == order_status::paying
         || x == order_status::awaiting_payment || x == order_status::failed;
}

std::string_view to_string(fulfillment_stage x) {
  switch (x) {
    case fulfillment_stage::none: return "none";
    case fulfillment_stage::produced: return "produced";
    case fulfillment_stage::shipped: return "shipped";
    case fulfillment_stage::delivered: return "delivered";
  }
  return "none";
}

bool order_invariants_hold(const order_record& x) {
  return !x.id.empty() && !x.merchant_id.empty() && valid_amount(x.amount)
         && find_currency(x.currency) != nullptr && x.amount_refunded >= 0
         && x.amount_refunded <= x.amount && x.version >= 1
         && x.created_at > 0 && x.updated_at >= x.created_at
         && x.expires_at > x.created_at
         && order_status_from_code(static_cast<int>(x.status)).has_value()
         && (x.payment.method.empty() || x.payment.method == "channel"
             || x.payment.method == "balance")
         && (x.payment.method == "balance") == !x.payment.wallet.empty()
         && (x.topup_wallet.empty() || x.payment.method != "balance");
}

std::vector<char> to_bytes(const order_record& x) {
  std::vector<char> out;
  caf::binary_serializer sink{nullptr, out}; // no actor handles: no context
  // The inspector takes a mutable reference; a serializer only reads it.
  if (auto err = sink(const_cast<order_record&>(x)))
    return {};
  out.shrink_to_fit();
  return out;
}

bool from_bytes(const std::vector<char>& bytes, order_record& out) {
  caf::binary_deserializer source{nullptr, bytes};
  return !source(out) && source.remaining() == 0;
}

std::string attempt_channel(const order_record& o) {
  if (o.payment.attempt < 1)
    return {};
  if (o.payment.method == "balance")
    return "balance";
  if (!o.payment.channel.empty())
    return o.payment.channel;
  return o.channel == "auto" ? std::string{} : o.channel;
}

} // namespace payengine
