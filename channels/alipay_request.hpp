#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "channels/form.hpp"
#include "channels/result.hpp"
#include "channels/rsa_key.hpp"

// Alipay OpenAPI requests (gateway.do, form-encoded, RSA2-signed): built by
// the engine's gateway, verified and read by the simulator.
namespace payengine::channels::alipay {

namespace methods {
inline constexpr std::string_view precreate = "alipay.trade.precreate";
inline constexpr std::string_view query = "alipay.trade.query";
inline constexpr std::string_view close = "alipay.trade.close";
inline constexpr std::string_view refund = "alipay.trade.refund";
}  // namespace methods

// Alipay amounts are CNY yuan with two decimals ("88.88").
inline constexpr int amount_exponent = 2;
// Alipay's bounds on a trade amount: 0.01 .. 100000000.00 yuan.
inline constexpr std::int64_t amount_min = 1;
inline constexpr std::int64_t amount_max = 10'000'000'000;

struct precreate_request {
  std::string out_trade_no;
  std::int64_t total_amount = 0;  // minor units (fen)
  std::string subject;
  std::string timeout_express;  // relative, e.g. "15m"; empty: not sent
  std::string time_expire;      // absolute "yyyy-MM-dd HH:mm:ss"; empty: not sent
};

// A trade is named by out_trade_no, trade_no, or both.
struct query_request {
  std::string out_trade_no;
  std::string trade_no;
};

struct close_request {
  std::string out_trade_no;
  std::string trade_no;
};

struct refund_request {
  std::string out_trade_no;
  std::string trade_no;
  std::int64_t refund_amount = 0;  // minor units
  std::string out_request_no;      // makes the refund idempotent; required
  std::string refund_reason;       // empty: not sent
};

// The `biz_content` JSON of each request; refuses what Alipay would refuse.
[[nodiscard]] result<std::string> to_biz_content(const precreate_request& request);
[[nodiscard]] result<std::string> to_biz_content(const query_request& request);
[[nodiscard]] result<std::string> to_biz_content(const close_request& request);
[[nodiscard]] result<std::string> to_biz_content(const refund_request& request);

// The inverse, for the simulator: a `biz_content` read and checked.
[[nodiscard]] result<precreate_request> parse_precreate_biz(std::string_view biz_content_json);
[[nodiscard]] result<query_request> parse_query_biz(std::string_view biz_content_json);
[[nodiscard]] result<close_request> parse_close_biz(std::string_view biz_content_json);
[[nodiscard]] result<refund_request> parse_refund_biz(std::string_view biz_content_json);

// "yyyy-MM-dd HH:mm:ss" in Beijing time (UTC+8), the zone of Alipay's
// `timestamp`, `notify_time` and `gmt_*` fields.
[[nodiscard]] std::string format_timestamp(std::chrono::system_clock::time_point when);

// The signed form body of a gateway.do call: common parameters (app_id,
// method, format=JSON, charset=utf-8, sign_type=RSA2, timestamp,
// version=1.0, notify_url when not empty), biz_content and sign.
[[nodiscard]] result<std::string> build_request(std::string_view method, std::string_view app_id,
                                                std::string_view biz_content_json, std::string_view notify_url,
                                                std::string_view timestamp, const private_key& key);

struct request_envelope {
  std::string app_id;
  std::string notify_url;  // where notifications for the trade go; empty: not sent
  std::string timestamp;   // see format_timestamp
};

[[nodiscard]] result<std::string> build_request(const precreate_request& request, const request_envelope& envelope,
                                                const private_key& key);
[[nodiscard]] result<std::string> build_request(const query_request& request, const request_envelope& envelope,
                                                const private_key& key);
[[nodiscard]] result<std::string> build_request(const close_request& request, const request_envelope& envelope,
                                                const private_key& key);
[[nodiscard]] result<std::string> build_request(const refund_request& request, const request_envelope& envelope,
                                                const private_key& key);

// A request as the gateway receives it, after its signature checked out.
struct gateway_request {
  std::string method;
  std::string app_id;
  std::string notify_url;  // empty when not sent
  std::string timestamp;
  std::string biz_content;
};

// Checks `sign` (RSA2, over all other parameters with sign_type included)
// against the app's public key, then the common parameters.
[[nodiscard]] result<gateway_request> verify_request(const params& fields, const public_key& app_key);

}  // namespace payengine::channels::alipay
