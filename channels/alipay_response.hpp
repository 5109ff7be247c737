#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "channels/alipay_codes.hpp"
#include "channels/result.hpp"
#include "channels/rsa_key.hpp"

// Alipay OpenAPI responses: `{"<method>_response": {...}, "sign": "..."}`,
// the signature covering the exact bytes of the `..._response` value.
namespace payengine::channels::alipay {

// "alipay.trade.query" -> "alipay_trade_query_response".
[[nodiscard]] std::string response_key(std::string_view method);
// Where Alipay answers a request it cannot attribute to a method.
inline constexpr std::string_view error_response_key = "error_response";

struct signed_response {
  std::string_view body;  // the exact text of the ..._response value, a view into the input
  std::string sign;
};

// Locates `response_key(method)` (else `error_response`) and `sign` among
// the top-level members without re-serializing anything. Repeated members
// are refused, so what is verified is what gets parsed.
[[nodiscard]] result<signed_response> split_signed_response(std::string_view text, std::string_view method);

// split_signed_response, then the RSA2 check of `body` against the
// channel's public key: the body text, trustworthy.
[[nodiscard]] result<std::string_view> verified_response_body(std::string_view text, std::string_view method,
                                                              const public_key& channel_key);

// The typed answers. A non-success head leaves the other members empty;
// a success without its required members is an error.
struct precreate_response {
  reply_head head;
  std::string out_trade_no;
  std::string qr_code;
};

struct query_response {
  reply_head head;
  std::string trade_no;
  std::string out_trade_no;
  std::optional<trade_status> status;        // set on success
  std::optional<std::int64_t> total_amount;  // minor units; set on success
  std::optional<std::int64_t> receipt_amount;
  std::optional<std::string> buyer_logon_id;
  std::optional<std::string> buyer_user_id;
  std::optional<std::string> send_pay_date;
};

struct close_response {
  reply_head head;
  std::string trade_no;
  std::string out_trade_no;
};

struct refund_response {
  reply_head head;
  std::string trade_no;
  std::string out_trade_no;
  bool fund_change = false;                // false: this request moved no money (a replay)
  std::optional<std::int64_t> refund_fee;  // minor units refunded in total on the trade; set on success
  std::optional<std::string> gmt_refund_pay;
  std::optional<std::string> buyer_logon_id;
};

[[nodiscard]] result<precreate_response> parse_precreate_response(std::string_view text, const public_key& channel_key);
[[nodiscard]] result<query_response> parse_query_response(std::string_view text, const public_key& channel_key);
[[nodiscard]] result<close_response> parse_close_response(std::string_view text, const public_key& channel_key);
[[nodiscard]] result<refund_response> parse_refund_response(std::string_view text, const public_key& channel_key);

// The reading step of the parsers above, after the signature check: `body`
// is the verified text of the ..._response value.
[[nodiscard]] result<precreate_response> read_precreate_response(std::string_view body);
[[nodiscard]] result<query_response> read_query_response(std::string_view body);
[[nodiscard]] result<close_response> read_close_response(std::string_view body);
[[nodiscard]] result<refund_response> read_refund_response(std::string_view body);

// The simulator's side: `{"<member_key>":<body_json>,"sign":"..."}` with the
// signature over `body_json` exactly as given (a JSON object).
[[nodiscard]] result<std::string> make_signed_response(std::string_view member_key, std::string_view body_json,
                                                       const private_key& channel_key);

}  // namespace payengine::channels::alipay
