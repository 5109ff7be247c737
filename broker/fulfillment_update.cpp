#include "broker/fulfillment_update.hpp"

#include "messages/ids.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace payengine::broker {

namespace {

using json = nlohmann::json;

/// Characters of UTF-8 text (nlohmann has checked it is UTF-8).
size_t characters(std::string_view s) {
  return static_cast<size_t>(std::count_if(s.begin(), s.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

/// Brackets nested deeper than 32 before parsing: a deep body is refused
/// without recursing into it (strings skipped).
bool shallow(std::string_view body) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < body.size(); ++i) {
    char c = body[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > 32)
        return false;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return true;
}

std::optional<fulfillment_stage> stage_named(const std::string& name) {
  for (auto s : {fulfillment_stage::produced, fulfillment_stage::shipped, fulfillment_stage::delivered})
    if (name == to_string(s))
      return s;
  return std::nullopt;
}

} // namespace

std::variant<fulfillment_update, update_refused> parse_fulfillment_update(std::string_view body) {
  if (body.size() > fulfillment_body_max_bytes)
    return update_refused{"too_large", "The body is larger than 16384 bytes."};
  if (!shallow(body))
    return update_refused{"bad_json", "The body nests deeper than 32 levels."};
  auto doc = json::parse(body.begin(), body.end(), nullptr, false);
  if (doc.is_discarded() || !doc.is_object())
    return update_refused{"bad_json", "The body is not a JSON object (UTF-8)."};
  fulfillment_update u;
  auto order = doc.find("order_id");
  if (order == doc.end() || !order->is_string() || !well_formed_id(order->get<std::string>(), "ord"))
    return update_refused{"invalid_order_id", "order_id must be an order id (ord_...)."};
  u.order_id = order->get<std::string>();
  auto merchant = doc.find("merchant_id");
  if (merchant == doc.end() || !merchant->is_string()
      || !well_formed_id(merchant->get<std::string>(), "mch"))
    return update_refused{"invalid_merchant_id", "merchant_id must be a merchant id (mch_...)."};
  u.merchant_id = merchant->get<std::string>();
  auto stage = doc.find("stage");
  auto named = stage != doc.end() && stage->is_string() ? stage_named(stage->get<std::string>())
                                                         : std::nullopt;
  if (!named)
    return update_refused{"invalid_stage", "stage must be one of produced, shipped, delivered."};
  u.stage = *named;
  if (auto d = doc.find("detail"); d != doc.end() && !d->is_null()) {
    if (!d->is_string() || d->get_ref<const std::string&>().find('\0') != std::string::npos
        || characters(d->get_ref<const std::string&>()) > fulfillment_detail_max_chars)
      return update_refused{"invalid_detail", "detail must be a string of at most 500 characters, without NUL."};
    u.detail = d->get<std::string>();
  }
  return u;
}

} // namespace payengine::broker
