#include "channels/alipay_request.hpp"

#include <cctype>
#include <ctime>

#include <nlohmann/json.hpp>

#include "channels/alipay_sign.hpp"
#include "channels/json_fields.hpp"
#include "channels/money_text.hpp"

namespace payengine::channels::alipay {
namespace {

using nlohmann::json;

constexpr std::size_t out_trade_no_chars_max = 64;
constexpr std::size_t subject_chars_max = 256;
constexpr std::size_t out_request_no_chars_max = 64;

std::optional<channel_error> check_length(const std::string& value, const char* name, std::size_t max) {
  if (value.empty()) return channel_error{errc::missing_field, name};
  if (value.size() > max) return channel_error{errc::bad_field, std::string(name) + " too long"};
  return std::nullopt;
}

std::optional<channel_error> check_trade_ref(const std::string& out_trade_no, const std::string& trade_no) {
  if (out_trade_no.empty() && trade_no.empty()) return channel_error{errc::missing_field, "out_trade_no or trade_no"};
  if (out_trade_no.size() > out_trade_no_chars_max) return channel_error{errc::bad_field, "out_trade_no too long"};
  return std::nullopt;
}

std::optional<channel_error> check_amount(std::int64_t minor, const char* name) {
  if (minor < amount_min || minor > amount_max) {
    return channel_error{errc::bad_amount, std::string(name) + " outside 0.01..100000000.00"};
  }
  return std::nullopt;
}

std::optional<channel_error> check(const precreate_request& r) {
  return first_error({check_length(r.out_trade_no, "out_trade_no", out_trade_no_chars_max),
                      check_amount(r.total_amount, "total_amount"),
                      check_length(r.subject, "subject", subject_chars_max)});
}

std::optional<channel_error> check(const refund_request& r) {
  return first_error({check_trade_ref(r.out_trade_no, r.trade_no), check_amount(r.refund_amount, "refund_amount"),
                      check_length(r.out_request_no, "out_request_no", out_request_no_chars_max)});
}

// Only a valid amount reaches here: check() ran first.
std::string decimal(std::int64_t minor) { return *minor_to_decimal(minor, amount_exponent); }

void put_if_set(json& object, const char* name, const std::string& value) {
  if (!value.empty()) object[name] = value;
}

// nlohmann refuses to serialize invalid UTF-8 (by throwing): a value error here.
result<std::string> dump_utf8(const json& biz) {
  try {
    return biz.dump();
  } catch (const json::exception&) {
    return channel_error{errc::bad_field, "biz_content text is not valid UTF-8"};
  }
}

json trade_ref(const std::string& out_trade_no, const std::string& trade_no) {
  json biz = json::object();
  put_if_set(biz, "out_trade_no", out_trade_no);
  put_if_set(biz, "trade_no", trade_no);
  return biz;
}

template <class Request>
result<Request> parse_trade_ref_biz(std::string_view text) {
  const auto biz = json_fields::parse_object(text);
  if (!biz) return biz.error();
  Request request;
  if (auto err = json_fields::read_strings(
          *biz, {{"out_trade_no", &request.out_trade_no}, {"trade_no", &request.trade_no}})) {
    return *err;
  }
  if (auto err = check_trade_ref(request.out_trade_no, request.trade_no)) return *err;
  return request;
}

template <class Request>
result<std::string> build_typed(std::string_view method, const Request& request, const request_envelope& envelope,
                                const private_key& key) {
  const auto biz = to_biz_content(request);
  if (!biz) return biz.error();
  return build_request(method, envelope.app_id, *biz, envelope.notify_url, envelope.timestamp, key);
}

std::string field_or_empty(const params& fields, std::string_view name) {
  const auto it = fields.find(name);
  return it == fields.end() ? std::string{} : it->second;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

}  // namespace

result<std::string> to_biz_content(const precreate_request& request) {
  if (auto err = check(request)) return *err;
  json biz = {{"out_trade_no", request.out_trade_no},
              {"total_amount", decimal(request.total_amount)},
              {"subject", request.subject}};
  put_if_set(biz, "timeout_express", request.timeout_express);
  put_if_set(biz, "time_expire", request.time_expire);
  return dump_utf8(biz);
}

result<std::string> to_biz_content(const query_request& request) {
  if (auto err = check_trade_ref(request.out_trade_no, request.trade_no)) return *err;
  return dump_utf8(trade_ref(request.out_trade_no, request.trade_no));
}

result<std::string> to_biz_content(const close_request& request) {
  if (auto err = check_trade_ref(request.out_trade_no, request.trade_no)) return *err;
  return dump_utf8(trade_ref(request.out_trade_no, request.trade_no));
}

result<std::string> to_biz_content(const refund_request& request) {
  if (auto err = check(request)) return *err;
  json biz = trade_ref(request.out_trade_no, request.trade_no);
  biz["refund_amount"] = decimal(request.refund_amount);
  biz["out_request_no"] = request.out_request_no;
  put_if_set(biz, "refund_reason", request.refund_reason);
  return dump_utf8(biz);
}

result<precreate_request> parse_precreate_biz(std::string_view text) {
  const auto biz = json_fields::parse_object(text);
  if (!biz) return biz.error();
  precreate_request request;
  const auto amount = json_fields::required_amount(*biz, "total_amount", amount_exponent);
  if (!amount) return amount.error();
  request.total_amount = *amount;
  if (auto err = json_fields::read_strings(*biz, {{"out_trade_no", &request.out_trade_no},
                                     {"subject", &request.subject},
                                     {"timeout_express", &request.timeout_express},
                                     {"time_expire", &request.time_expire}})) {
    return *err;
  }
  if (auto err = check(request)) return *err;
  return request;
}

result<query_request> parse_query_biz(std::string_view text) { return parse_trade_ref_biz<query_request>(text); }

result<close_request> parse_close_biz(std::string_view text) { return parse_trade_ref_biz<close_request>(text); }

result<refund_request> parse_refund_biz(std::string_view text) {
  const auto biz = json_fields::parse_object(text);
  if (!biz) return biz.error();
  refund_request request;
  const auto amount = json_fields::required_amount(*biz, "refund_amount", amount_exponent);
  if (!amount) return amount.error();
  request.refund_amount = *amount;
  if (auto err = json_fields::read_strings(*biz, {{"out_trade_no", &request.out_trade_no},
                                     {"trade_no", &request.trade_no},
                                     {"out_request_no", &request.out_request_no},
                                     {"refund_reason", &request.refund_reason}})) {
    return *err;
  }
  if (auto err = check(request)) return *err;
  return request;
}

std::string format_timestamp(std::chrono::system_clock::time_point when) {
  constexpr std::time_t beijing_offset_s = std::time_t{8} * 3600;
  const std::time_t seconds = std::chrono::system_clock::to_time_t(when) + beijing_offset_s;
  std::tm fields{};
  gmtime_r(&seconds, &fields);
  char text[32];
  const auto length = std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &fields);
  return std::string(text, length);
}

result<std::string> build_request(std::string_view method, std::string_view app_id, std::string_view biz_content_json,
                                  std::string_view notify_url, std::string_view timestamp, const private_key& key) {
  if (method.empty() || app_id.empty() || timestamp.empty()) {
    return channel_error{errc::missing_field, "method, app_id and timestamp are required"};
  }
  params fields{{"app_id", std::string(app_id)},
                {"method", std::string(method)},
                {"format", "JSON"},
                {"charset", "utf-8"},
                {"sign_type", std::string(sign_type_rsa2)},
                {"timestamp", std::string(timestamp)},
                {"version", "1.0"},
                {"biz_content", std::string(biz_content_json)}};
  if (!notify_url.empty()) fields.emplace("notify_url", notify_url);
  const auto signed_fields = sign_request_params(std::move(fields), key);
  if (!signed_fields) return signed_fields.error();
  return form_encode(*signed_fields);
}

result<std::string> build_request(const precreate_request& r, const request_envelope& e, const private_key& k) {
  return build_typed(methods::precreate, r, e, k);
}

result<std::string> build_request(const query_request& r, const request_envelope& e, const private_key& k) {
  return build_typed(methods::query, r, e, k);
}

result<std::string> build_request(const close_request& r, const request_envelope& e, const private_key& k) {
  return build_typed(methods::close, r, e, k);
}

result<std::string> build_request(const refund_request& r, const request_envelope& e, const private_key& k) {
  return build_typed(methods::refund, r, e, k);
}

result<gateway_request> verify_request(const params& fields, const public_key& app_key) {
  const std::string sign = field_or_empty(fields, "sign");
  if (sign.empty()) return channel_error{errc::missing_signature, "no sign parameter"};
  if (field_or_empty(fields, "sign_type") != sign_type_rsa2) {
    return channel_error{errc::unsupported_sign_type, "sign_type must be RSA2"};
  }
  if (!app_key.verify(canonical_string(fields, true), sign)) {
    return channel_error{errc::bad_signature, "request signature does not verify"};
  }
  const std::string charset = field_or_empty(fields, "charset");
  if (!charset.empty() && !equals_ignoring_case(charset, "utf-8")) {
    return channel_error{errc::bad_field, "charset must be utf-8"};
  }
  gateway_request request{field_or_empty(fields, "method"), field_or_empty(fields, "app_id"),
                          field_or_empty(fields, "notify_url"), field_or_empty(fields, "timestamp"),
                          field_or_empty(fields, "biz_content")};
  if (request.method.empty() || request.app_id.empty() || request.timestamp.empty() || request.biz_content.empty()) {
    return channel_error{errc::missing_field, "method, app_id, timestamp and biz_content are required"};
  }
  return request;
}

}  // namespace payengine::channels::alipay
