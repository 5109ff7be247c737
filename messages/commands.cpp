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

std::string_view to_string(refund_status x) {
  switch (x) {
    case refund_status::pending: return "pending";
    case refund_status::succeeded: return "succeeded";
    case refund_status::failed: return "failed";
  }
  return "pending";
}

} // namespace payengine
