#pragma once
// The transition table of API.md as a pure function: no CAF, no I/O.
// tests/domain/order_transitions_test.cpp walks every (status, input) pair.

#include "messages/order.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace payengine {

/// What can happen to an order. Numbers are stable (they appear in logs).
enum class order_input : uint8_t {
  pay = 1,               // pay (API)
  channel_accepted = 2,  // the channel returned a qr_code
  channel_rejected = 3,  // the channel refused the trade for good
  payment_succeeded = 4, // a successful trade whose amount matches
  payment_closed = 5,    // the channel closed or failed the trade
  cancel = 6,            // cancel (API)
  expire = 7,            // the expiry timer
  refund_completed = 8,  // refunds reached the full amount
  delivered = 9,         // fulfillment reached `delivered`
};

constexpr order_input all_order_inputs[] = {
  order_input::pay,           order_input::channel_accepted,
  order_input::channel_rejected, order_input::payment_succeeded,
  order_input::payment_closed, order_input::cancel,
  order_input::expire,         order_input::refund_completed,
  order_input::delivered,
};

std::string_view to_string(order_input x);

struct transition {
  order_status to;
  /// Money arrived where it can't be kept: refund it (reason late_payment).
  bool refund_late_payment = false;
};

/// The next status, or nothing when the table refuses the pair (the caller
/// answers 409 invalid_state, or records and acknowledges a callback).
std::optional<transition> next_status(order_status from, order_input input);

/// The event type written to the order's log for a transition into `to`.
std::string event_type_for(order_status to);

} // namespace payengine
