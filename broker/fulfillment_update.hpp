#pragma once
// A fulfillment update from the queue `payengine.fulfillment` (API.md
// "Events on RabbitMQ"): {"order_id", "merchant_id", "stage", "detail"},
// read like the body of POST /v1/orders/{id}/fulfillment. Pure: no I/O.
//
// An update that cannot apply is dead-lettered with a reason code in the
// header `x-payengine-error`. The codes are stable (operators filter on
// them); the ones the order actor decides are in fulfillment_consumer.cpp.

#include "messages/order.hpp"

#include <string>
#include <string_view>
#include <variant>

namespace payengine::broker {

/// The largest body read as an update; a bigger one is dead-lettered.
constexpr size_t fulfillment_body_max_bytes = 16 * 1024;
/// `detail` at most this many characters (as the HTTP route).
constexpr size_t fulfillment_detail_max_chars = 500;

struct fulfillment_update {
  std::string order_id;
  std::string merchant_id;
  fulfillment_stage stage = fulfillment_stage::none; // produced, shipped or delivered
  std::string detail;
};

/// Why an update can never apply: `code` goes to x-payengine-error.
struct update_refused {
  std::string code;    // too_large, bad_json, invalid_order_id, ...
  std::string message; // for people
};

std::variant<fulfillment_update, update_refused> parse_fulfillment_update(std::string_view body);

} // namespace payengine::broker
