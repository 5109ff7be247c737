#include "messages/commands.hpp"

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

} // namespace payengine
