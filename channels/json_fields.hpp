#pragma once

#include <cstdint>
#include <optional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include "channels/result.hpp"

// Typed reads of JSON object members, shared by the request and response
// parsers. nlohmann exceptions never escape: type mismatches are errors.
namespace payengine::channels::json_fields {

// A JSON object, or malformed_json.
[[nodiscard]] result<nlohmann::json> parse_object(std::string_view text);

// The member if present and a string; a present non-string is bad_field.
[[nodiscard]] result<std::optional<std::string>> optional_string(const nlohmann::json& object, const char* name);
// Present, a string and not empty.
[[nodiscard]] result<std::string> required_string(const nlohmann::json& object, const char* name);
// A decimal string such as "88.88", as minor units.
[[nodiscard]] result<std::optional<std::int64_t>> optional_amount(const nlohmann::json& object, const char* name,
                                                                  int exponent);
// Optional string members into `*out` ("" when absent), in order.
[[nodiscard]] std::optional<channel_error> read_strings(
    const nlohmann::json& object, std::initializer_list<std::pair<const char*, std::string*>> members);
[[nodiscard]] result<std::int64_t> required_amount(const nlohmann::json& object, const char* name, int exponent);

}  // namespace payengine::channels::json_fields
