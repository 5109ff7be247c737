#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "channels/result.hpp"

// application/x-www-form-urlencoded, UTF-8, as channels speak it.
namespace payengine::channels {

// Parameter name -> value, ordered by name (byte order): the order Alipay
// signs in.
using params = std::map<std::string, std::string, std::less<>>;

// Unreserved bytes stay, space becomes '+', everything else %XX.
[[nodiscard]] std::string percent_encode(std::string_view text);
// %XX must have two hex digits; a lone or truncated '%' is malformed.
[[nodiscard]] std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space);

// `k=v&k=v` in key order.
[[nodiscard]] std::string form_encode(const params& fields);
// Empty segments are skipped; a segment without '=' has an empty value.
// Refused: malformed escapes, empty or repeated names, more than
// limits::form_params_max fields, more than limits::form_bytes_max bytes.
[[nodiscard]] result<params> form_decode(std::string_view body);

}  // namespace payengine::channels
