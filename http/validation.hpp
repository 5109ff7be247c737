#pragma once
// Parsing and validating what clients send. Pure functions (no I/O), so
// that tests and the fuzzer can hammer them directly.

#include "http/api_error.hpp"
#include "messages/order.hpp"
#include "net/address_policy.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>

namespace payengine::http {

/// JSON nesting deeper than this is refused before parsing.
constexpr int json_depth_max = 32;

/// A JSON object body, or the 400 that says why not.
std::variant<nlohmann::json, api_error> parse_json_object(std::string_view body);

/// The fields of POST /v1/orders, validated.
struct new_order_fields {
  std::string merchant_order_no;
  int64_t amount = 0;
  std::string currency;
  std::string subject;
  std::string channel;
  std::string notify_url;
  std::string customer_phone;
  int64_t expires_in_s = 900;
  std::map<std::string, std::string> metadata;
  std::string topup_wallet; // a top-up of this wallet (wal_...)
};

std::variant<new_order_fields, api_error>
parse_new_order(const nlohmann::json& body, const std::set<std::string>& channels);

/// Query parameters of GET /v1/orders.
struct list_params {
  std::string status;
  std::string starting_after;
  uint32_t limit = 10;
};

std::variant<list_params, api_error>
parse_list_params(const std::multimap<std::string, std::string>& query);

/// `value` as a whole number in [lo, hi], or nothing.
std::optional<int64_t> parse_bounded_int(std::string_view value, int64_t lo, int64_t hi);

/// Checks for an http(s) URL without spaces or control characters.
bool plausible_url(std::string_view url);

/// A 400 (param "notify_url") when the URL's host is a literal address
/// that outbound calls never reach (loopback, private, link-local, ...,
/// outside the allow list); hostnames pass (checked when connecting).
std::optional<api_error> check_notify_url_target(std::string_view url,
                                                 const net::address_policy& policy);

/// The fields of POST /v1/orders/{id}/refund (unknown members are
/// refused by the route); an absent or null reason is "".
struct refund_fields {
  int64_t amount = 0;
  std::string reason;
};

std::variant<refund_fields, api_error> parse_refund_fields(const nlohmann::json& body);

/// The body of POST /v1/orders/{id}/pay (empty: the channel).
struct pay_fields {
  std::string method = "channel"; // "channel" | "balance"
  std::string wallet;             // with "balance"
};

std::variant<pay_fields, api_error> parse_pay_fields(std::string_view body);

/// The fields of POST /v1/wallets.
struct wallet_fields {
  std::string customer_ref;
  std::string currency;
  std::string customer_phone;
};

std::variant<wallet_fields, api_error> parse_wallet_fields(const nlohmann::json& body);

/// Query parameters of GET /v1/wallets and GET /v1/wallets/{id}/transactions.
struct wallet_list_params {
  std::string customer_ref;
  std::string starting_after;
  uint32_t limit = 10;
};

std::variant<wallet_list_params, api_error>
parse_wallet_list_params(const std::multimap<std::string, std::string>& query, bool by_customer);

/// Largest rate_per_s and burst of a merchant (migration 008's CHECKs).
constexpr uint32_t merchant_rate_max = 1'000'000;

/// The fields of POST /admin/merchants and PATCH /admin/merchants/{id},
/// each validated when present; unknown members are refused. A null
/// notify_url means none ("").
struct merchant_fields {
  std::optional<std::string> name;
  std::optional<std::string> notify_url;
  std::optional<uint32_t> rate_per_s;
  std::optional<uint32_t> burst;
};

std::variant<merchant_fields, api_error>
parse_merchant_fields(const nlohmann::json& body, const net::address_policy& policy);

/// Counts UTF-8 code points; the text is already valid UTF-8 (from JSON).
size_t utf8_length(std::string_view s);

/// A free-text value (a metadata value, a refund reason, a fulfillment
/// detail) at most `max_chars` long and without NUL, which PostgreSQL's
/// text and jsonb cannot hold.
bool acceptable_text(std::string_view s, size_t max_chars);

} // namespace payengine::http
