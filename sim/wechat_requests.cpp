#include "sim/wechat_requests.hpp"

#include <initializer_list>
#include <optional>

#include <nlohmann/json.hpp>

#include "channels/wechat.hpp"
#include "sim/limits.hpp"

namespace payengine::sim {
namespace {

using nlohmann::json;

// A string member into `out`: required ones must be present and non-empty;
// at most `max_chars` bytes either way.
std::optional<wechat_refusal> read_string(const json& object, const char* name, bool required,
                                          std::size_t max_chars, std::string& out) {
  const auto it = object.find(name);
  if (it == object.end() || it->is_null()) {
    if (required) return param_error(std::string("missing ") + name);
    return std::nullopt;
  }
  if (!it->is_string()) return param_error(std::string(name) + " must be a string");
  out = it->get<std::string>();
  if (required && out.empty()) return param_error(std::string(name) + " must not be empty");
  if (out.size() > max_chars) {
    return param_error(std::string(name) + " longer than " + std::to_string(max_chars) + " bytes");
  }
  return std::nullopt;
}

// A positive integer count of fen; 1.0 or "1" are refused like WeChat does.
std::optional<wechat_refusal> read_fen(const json& amount, const char* name, bool required, std::int64_t& out) {
  const auto it = amount.find(name);
  if (it == amount.end()) {
    if (required) return param_error(std::string("missing amount.") + name);
    return std::nullopt;
  }
  if (!it->is_number_integer() || (it->is_number_unsigned() && it->get<std::uint64_t>() > limits::wechat_total_max) ||
      it->get<std::int64_t>() < 1 || it->get<std::int64_t>() > limits::wechat_total_max) {
    return param_error(std::string("amount.") + name + " must be a positive integer number of fen");
  }
  out = it->get<std::int64_t>();
  return std::nullopt;
}

std::optional<wechat_refusal> read_currency(const json& amount, std::string& out) {
  if (auto refused = read_string(amount, "currency", false, 16, out)) return refused;
  if (out.empty()) out = "CNY";
  if (out != "CNY") return param_error("amount.currency must be CNY");
  return std::nullopt;
}

std::optional<wechat_refusal> check_url(const std::string& url, const char* name) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (url.rfind(scheme, 0) == 0 && url.size() > scheme.size()) return std::nullopt;
  }
  return param_error(std::string(name) + " must be an http(s) URL");
}

wechat_outcome<json> parse_object(std::string_view body) {
  json object = json::parse(body, nullptr, false);
  if (object.is_discarded() || !object.is_object()) return param_error("body must be a JSON object");
  return object;
}

std::optional<wechat_refusal> first(std::initializer_list<std::optional<wechat_refusal>> checks) {
  for (const auto& check : checks) {
    if (check) return check;
  }
  return std::nullopt;
}

std::optional<wechat_refusal> read_order_amount(const json& object, native_order& o) {
  const auto it = object.find("amount");
  if (it == object.end() || !it->is_object()) return param_error("amount must be an object");
  return first({read_fen(*it, "total", true, o.total), read_currency(*it, o.currency)});
}

std::optional<wechat_refusal> check_order(const native_order& o) {
  if (!is_merchant_number(o.out_trade_no, limits::wechat_out_trade_no_chars_min,
                          limits::wechat_out_trade_no_chars_max, "_-*")) {
    return param_error("out_trade_no must be 6 to 32 letters, digits, _-*");
  }
  if (auto refused = check_url(o.notify_url, "notify_url")) return refused;
  if (!o.time_expire.empty() && !channels::wechat::parse_rfc3339_us(o.time_expire)) {
    return param_error("time_expire must be RFC 3339, e.g. 2018-06-08T10:34:56+08:00");
  }
  return std::nullopt;
}

std::optional<wechat_refusal> read_refund_amount(const json& object, refund_order& r) {
  const auto it = object.find("amount");
  if (it == object.end() || !it->is_object()) return param_error("amount must be an object");
  return first({read_fen(*it, "refund", true, r.refund), read_fen(*it, "total", true, r.total),
                read_currency(*it, r.currency)});
}

std::optional<wechat_refusal> check_refund(const refund_order& r) {
  if (r.out_trade_no.empty() == r.transaction_id.empty()) {
    return param_error("exactly one of out_trade_no and transaction_id");
  }
  if (!is_merchant_number(r.out_refund_no, 1, limits::wechat_out_refund_no_chars_max, "_-|*@")) {
    return param_error("out_refund_no must be 1 to 64 letters, digits, _-|*@");
  }
  if (!r.notify_url.empty()) {
    if (auto refused = check_url(r.notify_url, "notify_url")) return refused;
  }
  if (r.refund > r.total) return param_error("amount.refund must not exceed amount.total");
  return std::nullopt;
}

}  // namespace

wechat_refusal param_error(std::string message) {
  return {400, wechat_codes::param_error, std::move(message)};
}

wechat_refusal invalid_request(std::string message) {
  return {400, wechat_codes::invalid_request, std::move(message)};
}

bool is_merchant_number(std::string_view text, std::size_t min_chars, std::size_t max_chars,
                        std::string_view punctuation) {
  if (text.size() < min_chars || text.size() > max_chars) return false;
  for (const char c : text) {
    const bool alnum = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
    if (!alnum && punctuation.find(c) == std::string_view::npos) return false;
  }
  return true;
}

wechat_outcome<native_order> parse_native_order(std::string_view body) {
  auto parsed = parse_object(body);
  if (auto* refused = std::get_if<wechat_refusal>(&parsed)) return *refused;
  const json& object = std::get<json>(parsed);
  native_order o;
  const auto refused = first({read_string(object, "appid", true, 32, o.appid),
                              read_string(object, "mchid", true, 32, o.mchid),
                              read_string(object, "description", true, limits::wechat_description_chars_max,
                                          o.description),
                              read_string(object, "out_trade_no", true, 64, o.out_trade_no),
                              read_string(object, "notify_url", true, limits::wechat_url_chars_max, o.notify_url),
                              read_string(object, "attach", false, limits::wechat_attach_chars_max, o.attach),
                              read_string(object, "time_expire", false, 64, o.time_expire),
                              read_order_amount(object, o)});
  if (refused) return *refused;
  if (auto bad = check_order(o)) return *bad;
  return o;
}

wechat_outcome<refund_order> parse_refund_order(std::string_view body) {
  auto parsed = parse_object(body);
  if (auto* refused = std::get_if<wechat_refusal>(&parsed)) return *refused;
  const json& object = std::get<json>(parsed);
  refund_order r;
  const auto refused =
      first({read_string(object, "out_trade_no", false, 64, r.out_trade_no),
             read_string(object, "transaction_id", false, 32, r.transaction_id),
             read_string(object, "out_refund_no", true, 128, r.out_refund_no),
             read_string(object, "reason", false, limits::wechat_reason_bytes_max, r.reason),
             read_string(object, "notify_url", false, limits::wechat_url_chars_max, r.notify_url),
             read_refund_amount(object, r)});
  if (refused) return *refused;
  if (auto bad = check_refund(r)) return *bad;
  return r;
}

wechat_outcome<std::string> parse_close_body(std::string_view body) {
  auto parsed = parse_object(body);
  if (auto* refused = std::get_if<wechat_refusal>(&parsed)) return *refused;
  std::string mchid;
  if (auto refused = read_string(std::get<json>(parsed), "mchid", true, 32, mchid)) return *refused;
  return mchid;
}

}  // namespace payengine::sim
