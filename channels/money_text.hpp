#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

// Exact conversion between integer minor units and the decimal text
// channels use ("88.88"). No floating point anywhere.
namespace payengine::channels {

// 8888 with exponent 2 -> "88.88"; 5 -> "0.05"; exponent 0 -> "8888".
// Negative amounts and exponents outside 0..limits::exponent_max: nullopt.
[[nodiscard]] std::optional<std::string> minor_to_decimal(std::int64_t minor, int exponent);

// "88.88" -> 8888, "88.8" -> 8880, "88" -> 8800 (exponent 2). Accepts only
// `digits[.digits]` with at most `exponent` fraction digits and no leading
// zeros ("0.5" is fine, "01" is not); no sign, blanks or exponent notation.
// Overflow of int64: nullopt.
[[nodiscard]] std::optional<std::int64_t> decimal_to_minor(std::string_view text, int exponent);

}  // namespace payengine::channels
