#pragma once
// Every event type of an order, named as the fact it records, in one table:
// the order's own log (`order_events`), the merchant's feed and webhooks
// (`merchant_events`, API.md "Events for merchants") and the customer's SMS
// all read it. The strings are stored and sent: never rename one.

#include "messages/order.hpp"

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace payengine::domain {

enum class order_fact : uint8_t {
  order_created,
  order_paying,
  order_awaiting_payment,
  order_paid,
  order_failed,
  order_cancelled,
  order_expired,
  order_refunded,
  order_completed,
  refund_created,
  refund_succeeded,
  refund_failed,
  payment_amount_mismatch,
  payment_duplicate,
  fulfillment_produced,
  fulfillment_shipped,
  payment_rerouted, // an `auto` payment moved to another channel (paying -> paying)
};

struct fact_info {
  order_fact fact;
  std::string_view type;  // "order.paid"
  bool merchant_facing;   // an event for the merchant (webhook, GET /v1/events)
  bool tells_customer;    // and an SMS to the order's customer_phone
};

/// The table, one row per fact.
const std::vector<fact_info>& all_facts();
const fact_info& info(order_fact x);
std::string_view to_string(order_fact x);
std::optional<order_fact> fact_from_string(std::string_view type);

/// The fact of an order moving into `to` ("order.<status>").
order_fact fact_for_status(order_status to);

/// The merchant events one committed write causes: its own fact if the
/// merchant cares about it, then the order's new status if it moved there
/// (a refund that reaches the full amount is `refund.succeeded` and
/// `order.refunded`). Never the same fact twice.
std::vector<order_fact> merchant_facts(order_fact logged, order_status from, order_status to);

} // namespace payengine::domain
