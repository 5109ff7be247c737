#pragma once
// Orders and events as API.md shows them.

#include "messages/order.hpp"

#include <nlohmann/json.hpp>

#include <vector>

namespace payengine {

nlohmann::json order_json(const order_record& o);
nlohmann::json event_json(const order_event_row& e);
nlohmann::json events_json(const std::vector<order_event_row>& events);

} // namespace payengine
