#include "channels/money_text.hpp"

#include "channels/limits.hpp"

namespace payengine::channels {
namespace {

bool valid_exponent(int exponent) {
  return exponent >= 0 && exponent <= limits::exponent_max;
}

bool all_digits(std::string_view text) {
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// value = value * 10 + digit, refusing int64 overflow.
bool push_digit(std::int64_t& value, int digit) {
  return !__builtin_mul_overflow(value, 10, &value) && !__builtin_add_overflow(value, digit, &value);
}

}  // namespace

std::optional<std::string> minor_to_decimal(std::int64_t minor, int exponent) {
  if (minor < 0 || !valid_exponent(exponent)) return std::nullopt;
  std::string digits = std::to_string(minor);
  if (exponent == 0) return digits;
  const auto width = static_cast<std::size_t>(exponent) + 1;
  if (digits.size() < width) digits.insert(0, width - digits.size(), '0');
  digits.insert(digits.size() - static_cast<std::size_t>(exponent), 1, '.');
  return digits;
}

std::optional<std::int64_t> decimal_to_minor(std::string_view text, int exponent) {
  if (!valid_exponent(exponent)) return std::nullopt;
  const auto dot = text.find('.');
  const std::string_view whole = text.substr(0, dot);
  const std::string_view fraction = dot == std::string_view::npos ? std::string_view{} : text.substr(dot + 1);
  const bool has_dot = dot != std::string_view::npos;
  if (whole.empty() || !all_digits(whole)) return std::nullopt;
  if (whole.size() > 1 && whole[0] == '0') return std::nullopt;
  if (has_dot && (fraction.empty() || !all_digits(fraction))) return std::nullopt;
  if (fraction.size() > static_cast<std::size_t>(exponent)) return std::nullopt;

  std::int64_t value = 0;
  for (char c : whole) {
    if (!push_digit(value, c - '0')) return std::nullopt;
  }
  for (std::size_t i = 0; i < static_cast<std::size_t>(exponent); ++i) {
    const int digit = i < fraction.size() ? fraction[i] - '0' : 0;
    if (!push_digit(value, digit)) return std::nullopt;
  }
  return value;
}

}  // namespace payengine::channels
