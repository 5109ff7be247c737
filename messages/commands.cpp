#include "messages/commands.hpp"
#include "messages/storage_messages.hpp"

namespace payengine {

std::string_view to_string(order_outcome x) {
  switch (x) {
    case order_outcome::ok: return "ok";
    case order_outcome::created: return "created";
    case order_outcome::not_found: return "not_found";
    case order_outcome::invalid_state: return "invalid_state";
    case order_outcome::duplicate: return "duplicate";
  }
  return "unknown";
}

std::string_view to_string(refusal_code x) {
  switch (x) {
    case refusal_code::none: return "none";
    case refusal_code::invalid_state: return "invalid_state";
    case refusal_code::refund_exceeds_amount: return "refund_exceeds_amount";
    case refusal_code::fulfillment_not_forward: return "fulfillment_not_forward";
    case refusal_code::insufficient_funds: return "insufficient_funds";
    case refusal_code::reversal_insufficient: return "reversal_insufficient";
    case refusal_code::wallet_missing: return "wallet_missing";
    case refusal_code::currency_mismatch: return "currency_mismatch";
    case refusal_code::topup_by_balance: return "topup_by_balance";
    case refusal_code::no_channel: return "no_channel";
    case refusal_code::past_expiry: return "past_expiry";
  }
  return "unknown";
}

std::string_view to_string(refund_origin x) {
  switch (x) {
    case refund_origin::merchant: return "merchant";
    case refund_origin::late_payment: return "late_payment";
    case refund_origin::duplicate_payment: return "duplicate_payment";
  }
  return "merchant";
}

std::optional<refund_origin> refund_origin_from_code(int code) {
  switch (code) {
    case 1: return refund_origin::merchant;
    case 2: return refund_origin::late_payment;
    case 3: return refund_origin::duplicate_payment;
    default: return std::nullopt;
  }
}

std::string_view to_string(refund_status x) {
  switch (x) {
    case refund_status::pending: return "pending";
    case refund_status::succeeded: return "succeeded";
    case refund_status::failed: return "failed";
  }
  return "pending";
}

} // namespace payengine
