#include "messages/gateway_messages.hpp"

namespace payengine {

std::string_view to_string(channel_outcome x) {
  switch (x) {
    case channel_outcome::ok: return "ok";
    case channel_outcome::rejected: return "rejected";
    case channel_outcome::unavailable: return "unavailable";
    case channel_outcome::circuit_open: return "circuit_open";
    case channel_outcome::rate_limited: return "rate_limited";
  }
  return "unknown";
}

std::string_view to_string(trade_state x) {
  switch (x) {
    case trade_state::unknown: return "unknown";
    case trade_state::waiting: return "waiting";
    case trade_state::succeeded: return "succeeded";
    case trade_state::closed: return "closed";
  }
  return "unknown";
}

} // namespace payengine
