#include "channels/alipay_response.hpp"

#include <vector>

#include <nlohmann/json.hpp>

#include "channels/alipay_request.hpp"
#include "channels/json_fields.hpp"
#include "channels/limits.hpp"

namespace payengine::channels::alipay {
namespace {

using nlohmann::json;

// --- a scanner over JSON text that nlohmann already accepted -------------
// It only needs to find where top-level member values begin and end.

struct raw_member {
  std::string_view key;  // as written between the quotes, escapes untouched
  std::string_view value;
};

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::size_t skip_blanks(std::string_view text, std::size_t i) {
  while (i < text.size() && is_blank(text[i])) ++i;
  return i;
}

// `i` at an opening quote; returns the index after the closing one.
std::size_t skip_string(std::string_view text, std::size_t i) {
  for (++i; i < text.size(); ++i) {
    if (text[i] == '\\') {
      ++i;  // the escaped character can be a quote
    } else if (text[i] == '"') {
      return i + 1;
    }
  }
  return text.size();
}

std::size_t skip_container(std::string_view text, std::size_t i) {
  std::size_t depth = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c == '"') {
      i = skip_string(text, i);
      continue;
    }
    if (c == '{' || c == '[') ++depth;
    if ((c == '}' || c == ']') && --depth == 0) return i + 1;
    ++i;
  }
  return text.size();
}

std::size_t skip_value(std::string_view text, std::size_t i) {
  if (text[i] == '"') return skip_string(text, i);
  if (text[i] == '{' || text[i] == '[') return skip_container(text, i);
  while (i < text.size() && text[i] != ',' && text[i] != '}' && !is_blank(text[i])) ++i;  // number or literal
  return i;
}

// Top-level members of a JSON object text, in order.
result<std::vector<raw_member>> top_level_members(std::string_view text) {
  if (!json::accept(text)) return channel_error{errc::malformed_json, "response is not JSON"};
  std::size_t i = skip_blanks(text, 0);
  if (text[i] != '{') return channel_error{errc::malformed_json, "response is not a JSON object"};
  std::vector<raw_member> members;
  i = skip_blanks(text, i + 1);
  while (i < text.size() && text[i] == '"') {
    const std::size_t key_end = skip_string(text, i);
    const std::string_view key = text.substr(i + 1, key_end - i - 2);
    const std::size_t value_begin = skip_blanks(text, skip_blanks(text, key_end) + 1);  // past ':'
    const std::size_t value_end = skip_value(text, value_begin);
    members.push_back({key, text.substr(value_begin, value_end - value_begin)});
    i = skip_blanks(text, value_end);
    if (i < text.size() && text[i] == ',') i = skip_blanks(text, i + 1);
  }
  return members;
}

// The one member called `key`; nullopt when absent, an error when repeated.
result<std::optional<std::string_view>> unique_member(const std::vector<raw_member>& members, std::string_view key) {
  std::optional<std::string_view> found;
  for (const auto& member : members) {
    if (member.key != key) continue;
    if (found) return channel_error{errc::malformed_json, "repeated member " + std::string(key)};
    found = member.value;
  }
  return found;
}

result<std::string> sign_of(const std::vector<raw_member>& members) {
  const auto sign = unique_member(members, "sign");
  if (!sign) return sign.error();
  if (!sign->has_value()) return channel_error{errc::missing_signature, "response has no sign"};
  const auto value = json::parse(**sign, nullptr, false);
  if (!value.is_string() || value.get<std::string>().empty()) {
    return channel_error{errc::missing_signature, "response sign is not a string"};
  }
  return value.get<std::string>();
}

// --- typed parsing of a verified body --------------------------------------

result<reply_head> read_head(const json& body) {
  reply_head head;
  const auto code = json_fields::required_string(body, "code");
  if (!code) return code.error();
  head.code = *code;
  if (auto err = json_fields::read_strings(
          body, {{"msg", &head.msg}, {"sub_code", &head.sub_code}, {"sub_msg", &head.sub_msg}})) {
    return *err;
  }
  return head;
}

// Parses a verified body and its head; `fill` reads the rest on success.
template <class Response, class Fill>
result<Response> read_typed(std::string_view body_text, Fill fill) {
  const auto body = json_fields::parse_object(body_text);
  if (!body) return body.error();
  auto head = read_head(*body);
  if (!head) return head.error();
  Response response;
  response.head = std::move(head).value();
  if (!response.head.ok()) return response;
  if (auto err = fill(*body, response)) return *err;
  return response;
}

template <class Response, class Fill>
result<Response> parse_typed(std::string_view text, std::string_view method, const public_key& key, Fill fill) {
  const auto body_text = verified_response_body(text, method, key);
  if (!body_text) return body_text.error();
  return read_typed<Response>(*body_text, fill);
}

template <class T>
std::optional<channel_error> assign(result<T> value, T& out) {
  if (!value) return value.error();
  out = std::move(value).value();
  return std::nullopt;
}

using json_fields::optional_amount;
using json_fields::optional_string;
using json_fields::required_amount;
using json_fields::required_string;

std::optional<channel_error> read_status(const json& body, std::optional<trade_status>& out) {
  std::string text;
  if (auto err = assign(required_string(body, "trade_status"), text)) return err;
  out = parse_trade_status(text);
  if (!out) return channel_error{errc::bad_field, "unknown trade_status " + text};
  return std::nullopt;
}

std::optional<channel_error> fill_precreate(const json& body, precreate_response& r) {
  return first_error({assign(required_string(body, "out_trade_no"), r.out_trade_no),
                      assign(required_string(body, "qr_code"), r.qr_code)});
}

std::optional<channel_error> fill_close(const json& body, close_response& r) {
  std::optional<std::string> trade_no;
  std::optional<std::string> out_trade_no;
  auto err = first_error({assign(optional_string(body, "trade_no"), trade_no),
                          assign(optional_string(body, "out_trade_no"), out_trade_no)});
  r.trade_no = trade_no.value_or("");
  r.out_trade_no = out_trade_no.value_or("");
  return err;
}

std::optional<channel_error> fill_query(const json& body, query_response& r) {
  std::int64_t total = 0;
  auto err = first_error({assign(required_string(body, "trade_no"), r.trade_no),
                          assign(required_string(body, "out_trade_no"), r.out_trade_no),
                          read_status(body, r.status),
                          assign(required_amount(body, "total_amount", amount_exponent), total),
                          assign(optional_amount(body, "receipt_amount", amount_exponent), r.receipt_amount),
                          assign(optional_string(body, "buyer_logon_id"), r.buyer_logon_id),
                          assign(optional_string(body, "buyer_user_id"), r.buyer_user_id),
                          assign(optional_string(body, "send_pay_date"), r.send_pay_date)});
  if (err) return err;
  r.total_amount = total;
  return std::nullopt;
}

std::optional<channel_error> fill_refund(const json& body, refund_response& r) {
  std::int64_t fee = 0;
  std::string fund_change;
  auto err = first_error({assign(required_string(body, "trade_no"), r.trade_no),
                          assign(required_string(body, "out_trade_no"), r.out_trade_no),
                          assign(required_string(body, "fund_change"), fund_change),
                          assign(required_amount(body, "refund_fee", amount_exponent), fee),
                          assign(optional_string(body, "gmt_refund_pay"), r.gmt_refund_pay),
                          assign(optional_string(body, "buyer_logon_id"), r.buyer_logon_id)});
  if (err) return err;
  if (fund_change != "Y" && fund_change != "N") return channel_error{errc::bad_field, "fund_change is not Y or N"};
  r.fund_change = fund_change == "Y";
  r.refund_fee = fee;
  return std::nullopt;
}

}  // namespace

std::string response_key(std::string_view method) {
  std::string key(method);
  for (char& c : key) {
    if (c == '.') c = '_';
  }
  return key + "_response";
}

result<signed_response> split_signed_response(std::string_view text, std::string_view method) {
  if (text.size() > limits::response_bytes_max) return channel_error{errc::too_large, "response too large"};
  const auto members = top_level_members(text);
  if (!members) return members.error();
  auto body = unique_member(*members, response_key(method));
  if (body && !body->has_value()) body = unique_member(*members, error_response_key);
  if (!body) return body.error();
  if (!body->has_value()) return channel_error{errc::missing_field, response_key(method)};
  auto sign = sign_of(*members);
  if (!sign) return sign.error();
  return signed_response{**body, std::move(sign).value()};
}

result<std::string_view> verified_response_body(std::string_view text, std::string_view method,
                                                const public_key& channel_key) {
  const auto parts = split_signed_response(text, method);
  if (!parts) return parts.error();
  if (!channel_key.verify(parts->body, parts->sign)) {
    return channel_error{errc::bad_signature, "response signature does not verify"};
  }
  return parts->body;
}

result<precreate_response> parse_precreate_response(std::string_view text, const public_key& key) {
  return parse_typed<precreate_response>(text, methods::precreate, key, fill_precreate);
}

result<query_response> parse_query_response(std::string_view text, const public_key& key) {
  return parse_typed<query_response>(text, methods::query, key, fill_query);
}

result<close_response> parse_close_response(std::string_view text, const public_key& key) {
  return parse_typed<close_response>(text, methods::close, key, fill_close);
}

result<refund_response> parse_refund_response(std::string_view text, const public_key& key) {
  return parse_typed<refund_response>(text, methods::refund, key, fill_refund);
}

result<std::string> make_signed_response(std::string_view member_key, std::string_view body_json,
                                         const private_key& channel_key) {
  const auto body = json::parse(body_json, nullptr, false);
  if (body.is_discarded() || !body.is_object()) return channel_error{errc::malformed_json, "body is not an object"};
  auto sign = channel_key.sign(body_json);
  if (!sign) return sign.error();
  std::string text = "{" + json(std::string(member_key)).dump() + ":";
  text.append(body_json);
  text += ",\"sign\":" + json(sign.value()).dump() + "}";
  return text;
}

result<precreate_response> read_precreate_response(std::string_view body) {
  return read_typed<precreate_response>(body, fill_precreate);
}

result<query_response> read_query_response(std::string_view body) {
  return read_typed<query_response>(body, fill_query);
}

result<close_response> read_close_response(std::string_view body) {
  return read_typed<close_response>(body, fill_close);
}

result<refund_response> read_refund_response(std::string_view body) {
  return read_typed<refund_response>(body, fill_refund);
}

}  // namespace payengine::channels::alipay
