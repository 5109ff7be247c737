#include "channels/json_fields.hpp"

#include "channels/money_text.hpp"

namespace payengine::channels::json_fields {

result<nlohmann::json> parse_object(std::string_view text) {
  auto value = nlohmann::json::parse(text, nullptr, false);
  if (value.is_discarded() || !value.is_object()) return channel_error{errc::malformed_json, "not a JSON object"};
  return value;
}

result<std::optional<std::string>> optional_string(const nlohmann::json& object, const char* name) {
  const auto it = object.find(name);
  if (it == object.end() || it->is_null()) return std::optional<std::string>{};
  if (!it->is_string()) return channel_error{errc::bad_field, std::string(name) + " is not a string"};
  return std::optional<std::string>{it->get<std::string>()};
}

result<std::string> required_string(const nlohmann::json& object, const char* name) {
  auto value = optional_string(object, name);
  if (!value) return value.error();
  if (!value->has_value() || (*value)->empty()) return channel_error{errc::missing_field, name};
  return std::move(**value);
}

std::optional<channel_error> read_strings(const nlohmann::json& object,
                                         std::initializer_list<std::pair<const char*, std::string*>> members) {
  for (const auto& [name, out] : members) {
    auto value = optional_string(object, name);
    if (!value) return value.error();
    *out = value->value_or("");
  }
  return std::nullopt;
}

result<std::optional<std::int64_t>> optional_amount(const nlohmann::json& object, const char* name, int exponent) {
  const auto text = optional_string(object, name);
  if (!text) return channel_error{errc::bad_amount, text.error().detail};
  if (!text->has_value()) return std::optional<std::int64_t>{};
  const auto minor = decimal_to_minor(**text, exponent);
  if (!minor) return channel_error{errc::bad_amount, std::string(name) + " is not an amount: " + **text};
  return std::optional<std::int64_t>{*minor};
}

result<std::int64_t> required_amount(const nlohmann::json& object, const char* name, int exponent) {
  const auto minor = optional_amount(object, name, exponent);
  if (!minor) return minor.error();
  if (!minor->has_value()) return channel_error{errc::missing_field, name};
  return **minor;
}

}  // namespace payengine::channels::json_fields
