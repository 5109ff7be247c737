#pragma once

#include <optional>
#include <string>
#include <string_view>

// The vocabulary Alipay answers in: trade states, result codes, sub-codes.
namespace payengine::channels::alipay {

// Permanent numbers: the engine may store them.
enum class trade_status : int {
  wait_buyer_pay = 1,  // created, not paid
  trade_closed = 2,    // closed unpaid, or fully refunded
  trade_success = 3,   // paid; refunds still possible
  trade_finished = 4,  // paid; no more refunds
};

[[nodiscard]] std::string_view to_string(trade_status status) noexcept;  // "WAIT_BUYER_PAY", ...
[[nodiscard]] std::optional<trade_status> parse_trade_status(std::string_view text) noexcept;

namespace codes {
inline constexpr std::string_view success = "10000";
inline constexpr std::string_view unavailable = "20000";       // retry with the same parameters
inline constexpr std::string_view missing_argument = "40001";
inline constexpr std::string_view invalid_argument = "40002";  // includes a bad request signature
inline constexpr std::string_view business_failed = "40004";   // see sub_code
inline constexpr std::string_view no_permission = "40006";
}  // namespace codes

namespace sub_codes {
inline constexpr std::string_view trade_not_exist = "ACQ.TRADE_NOT_EXIST";
inline constexpr std::string_view trade_status_error = "ACQ.TRADE_STATUS_ERROR";
inline constexpr std::string_view trade_has_close = "ACQ.TRADE_HAS_CLOSE";
inline constexpr std::string_view trade_has_success = "ACQ.TRADE_HAS_SUCCESS";
inline constexpr std::string_view context_inconsistent = "ACQ.CONTEXT_INCONSISTENT";
inline constexpr std::string_view refund_amount_exceeded = "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL";
inline constexpr std::string_view invalid_parameter = "ACQ.INVALID_PARAMETER";
inline constexpr std::string_view system_error = "ACQ.SYSTEM_ERROR";  // retryable
inline constexpr std::string_view invalid_signature = "isv.invalid-signature";
inline constexpr std::string_view missing_signature = "isv.missing-signature";
inline constexpr std::string_view invalid_method = "isv.invalid-method";
inline constexpr std::string_view unknown_error = "isp.unknow-error";  // sic: Alipay's spelling
}  // namespace sub_codes

// What a caller should do with an answer. Permanent numbers.
enum class outcome : int {
  success = 1,           // 10000
  business_failure = 2,  // 40004: a definite "no" about this trade
  retryable = 3,         // 20000 or ACQ.SYSTEM_ERROR: same request again later
  rejected = 4,          // 4000x other than 40004: our request or setup is wrong
};

// The common head of every response.
struct reply_head {
  std::string code;
  std::string msg;
  std::string sub_code;  // empty on success
  std::string sub_msg;

  [[nodiscard]] bool ok() const noexcept { return code == codes::success; }
  [[nodiscard]] outcome classify() const noexcept;
};

}  // namespace payengine::channels::alipay
