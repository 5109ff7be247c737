#include "channels/alipay_codes.hpp"

#include <array>
#include <utility>

namespace payengine::channels::alipay {
namespace {

constexpr std::array<std::pair<trade_status, std::string_view>, 4> status_names{{
    {trade_status::wait_buyer_pay, "WAIT_BUYER_PAY"},
    {trade_status::trade_closed, "TRADE_CLOSED"},
    {trade_status::trade_success, "TRADE_SUCCESS"},
    {trade_status::trade_finished, "TRADE_FINISHED"},
}};

}  // namespace

std::string_view to_string(trade_status status) noexcept {
  for (const auto& [value, name] : status_names) {
    if (value == status) return name;
  }
  return "UNKNOWN";
}

std::optional<trade_status> parse_trade_status(std::string_view text) noexcept {
  for (const auto& [value, name] : status_names) {
    if (name == text) return value;
  }
  return std::nullopt;
}

outcome reply_head::classify() const noexcept {
  if (code == codes::success) return outcome::success;
  if (code == codes::unavailable || sub_code == sub_codes::system_error) return outcome::retryable;
  if (code == codes::business_failed) return outcome::business_failure;
  return outcome::rejected;
}

}  // namespace payengine::channels::alipay
