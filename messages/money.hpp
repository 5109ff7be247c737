#pragma once
// Money is an integer count of minor units plus an ISO 4217 currency.
// There is no floating point anywhere on the money path.

#include <cstdint>
#include <string_view>

namespace payengine {

/// API.md: 1 <= amount <= 10^12 minor units.
constexpr int64_t amount_min = 1;
constexpr int64_t amount_max = 1'000'000'000'000;

struct currency_info {
  std::string_view code; // "CNY"
  int exponent;          // minor units per major unit = 10^exponent
};

/// The ISO 4217 entry for an upper-case code, or nullptr if unknown.
const currency_info* find_currency(std::string_view code);

[[nodiscard]] constexpr bool valid_amount(int64_t amount) {
  return amount >= amount_min && amount <= amount_max;
}

} // namespace payengine
