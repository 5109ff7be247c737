#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

// The bodies of WeChat Pay v3 requests as the simulator reads them, checked
// the way WeChat checks them, and WeChat's error vocabulary. Plain code.
namespace payengine::sim {

// WeChat's error codes (the "code" of an error answer).
namespace wechat_codes {
inline constexpr std::string_view param_error = "PARAM_ERROR";
inline constexpr std::string_view invalid_request = "INVALID_REQUEST";
inline constexpr std::string_view sign_error = "SIGN_ERROR";
inline constexpr std::string_view appid_mchid_not_match = "APPID_MCHID_NOT_MATCH";
inline constexpr std::string_view mch_not_exists = "MCH_NOT_EXISTS";
inline constexpr std::string_view out_trade_no_used = "OUT_TRADE_NO_USED";
inline constexpr std::string_view order_not_exist = "ORDER_NOT_EXIST";
inline constexpr std::string_view resource_not_exists = "RESOURCE_NOT_EXISTS";
inline constexpr std::string_view order_paid = "ORDERPAID";
inline constexpr std::string_view order_closed = "ORDER_CLOSED";
inline constexpr std::string_view frequency_limited = "FREQUENCY_LIMITED";
inline constexpr std::string_view system_error = "SYSTEM_ERROR";
}  // namespace wechat_codes

// An error answer: HTTP status and {"code", "message"}.
struct wechat_refusal {
  int status = 400;
  std::string_view code;
  std::string message;
};

template <class T>
using wechat_outcome = std::variant<T, wechat_refusal>;

[[nodiscard]] wechat_refusal param_error(std::string message);
[[nodiscard]] wechat_refusal invalid_request(std::string message);

// POST /v3/pay/transactions/native.
struct native_order {
  std::string appid;
  std::string mchid;
  std::string description;
  std::string out_trade_no;
  std::string notify_url;
  std::string attach;       // "" when absent
  std::string time_expire;  // RFC 3339, "" when absent
  std::int64_t total = 0;   // fen, > 0
  std::string currency = "CNY";
};

// POST /v3/refund/domestic/refunds: the trade by out_trade_no or
// transaction_id (one of them), the refund by out_refund_no.
struct refund_order {
  std::string out_trade_no;
  std::string transaction_id;
  std::string out_refund_no;
  std::string reason;
  std::string notify_url;  // "" when absent: no REFUND.* notification
  std::int64_t refund = 0;  // fen, > 0
  std::int64_t total = 0;   // fen: the trade's amount
  std::string currency = "CNY";
};

[[nodiscard]] wechat_outcome<native_order> parse_native_order(std::string_view body);
[[nodiscard]] wechat_outcome<refund_order> parse_refund_order(std::string_view body);
// The close body {"mchid": "..."}: its mchid.
[[nodiscard]] wechat_outcome<std::string> parse_close_body(std::string_view body);

// WeChat's merchant-side numbers: letters, digits and the given punctuation
// (out_trade_no "_-*", out_refund_no "_-|*@").
[[nodiscard]] bool is_merchant_number(std::string_view text, std::size_t min_chars, std::size_t max_chars,
                                      std::string_view punctuation);

}  // namespace payengine::sim
