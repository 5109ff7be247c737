#include "domain/order_transitions.hpp"

namespace payengine {

namespace {

using s = order_status;

bool one_of(order_status x, std::initializer_list<order_status> xs) {
  for (auto y : xs)
    if (x == y)
      return true;
  return false;
}

} // namespace

std::string_view to_string(order_input x) {
  switch (x) {
    case order_input::pay: return "pay";
    case order_input::channel_accepted: return "channel_accepted";
    case order_input::channel_rejected: return "channel_rejected";
    case order_input::payment_succeeded: return "payment_succeeded";
    case order_input::payment_closed: return "payment_closed";
    case order_input::cancel: return "cancel";
    case order_input::expire: return "expire";
    case order_input::refund_completed: return "refund_completed";
    case order_input::delivered: return "delivered";
  }
  return "unknown";
}

std::optional<transition> next_status(order_status from, order_input input) {
  switch (input) {
    case order_input::pay:
      if (one_of(from, {s::created, s::failed, s::awaiting_payment}))
        return transition{s::paying};
      break;
    case order_input::channel_accepted:
      if (from == s::paying)
        return transition{s::awaiting_payment};
      break;
    case order_input::channel_rejected:
      if (from == s::paying)
        return transition{s::failed};
      break;
    case order_input::payment_succeeded:
      if (one_of(from, {s::paying, s::awaiting_payment, s::failed}))
        return transition{s::paid};
      if (one_of(from, {s::cancelled, s::expired}))
        return transition{s::refunded, true};
      break;
    case order_input::payment_closed:
      if (from == s::awaiting_payment)
        return transition{s::failed};
      break;
    case order_input::cancel:
      if (one_of(from, {s::created, s::failed, s::awaiting_payment}))
        return transition{s::cancelled};
      break;
    case order_input::expire:
      if (one_of(from, {s::created, s::paying, s::awaiting_payment, s::failed}))
        return transition{s::expired};
      break;
    case order_input::refund_completed:
      if (one_of(from, {s::paid, s::completed}))
        return transition{s::refunded};
      break;
    case order_input::delivered:
      if (from == s::paid)
        return transition{s::completed};
      break;
  }
  return std::nullopt;
}

std::string event_type_for(order_status to) {
  return "order." + std::string{to_string(to)};
}

} // namespace payengine
