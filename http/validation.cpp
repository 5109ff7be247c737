#include "http/validation.hpp"

#include "messages/ids.hpp"
#include "messages/money.hpp"

#include <algorithm>
#include <charconv>

namespace payengine::http {

namespace {

using json = nlohmann::json;

bool nesting_within(std::string_view body, int max_depth) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : body) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"')
      in_string = true;
    else if ((c == '{' || c == '[') && ++depth > max_depth)
      return false;
    else if (c == '}' || c == ']')
      --depth;
  }
  return true;
}

bool has_control_chars(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
}

/// A required or optional string field; null counts as absent.
std::variant<std::string, api_error> string_field(const json& body, const char* name,
                                                  bool required, size_t max_len) {
  auto i = body.find(name);
  if (i == body.end() || i->is_null()) {
    if (required)
      return invalid_request("parameter_missing", std::string{"Missing required param: "} + name + ".", name);
    return std::string{};
  }
  if (!i->is_string())
    return invalid_param(name, std::string{name} + " must be a string.");
  auto s = i->get<std::string>();
  auto len = utf8_length(s);
  if ((required && len == 0) || len > max_len)
    return invalid_param(name, std::string{name} + " must be 1 to " + std::to_string(max_len) + " characters.");
  if (has_control_chars(s))
    return invalid_param(name, std::string{name} + " must not contain control characters.");
  return s;
}

bool order_no_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
}

std::optional<api_error> check_amount(const json& body, new_order_fields& out) {
  auto i = body.find("amount");
  if (i == body.end() || i->is_null())
    return invalid_request("parameter_missing", "Missing required param: amount.", "amount");
  // Floats (even 8888.0), strings and booleans are refused: money is an integer.
  if (!i->is_number_integer())
    return invalid_param("amount", "amount must be an integer count of minor units (8888 = 88.88 CNY).");
  if (i->is_number_unsigned() && i->get<uint64_t>() > static_cast<uint64_t>(amount_max))
    return invalid_param("amount", "amount must be between 1 and 1000000000000.");
  auto amount = i->get<int64_t>();
  if (!valid_amount(amount))
    return invalid_param("amount", "amount must be between 1 and 1000000000000.");
  out.amount = amount;
  return std::nullopt;
}

std::optional<api_error> check_currency(const json& body, new_order_fields& out) {
  auto s = string_field(body, "currency", true, 3);
  if (auto* err = std::get_if<api_error>(&s))
    return *err;
  out.currency = std::get<std::string>(s);
  if (!find_currency(out.currency))
    return invalid_param("currency", "currency must be an upper-case ISO 4217 code such as CNY or USD.");
  return std::nullopt;
}

std::optional<api_error> check_strings(const json& body, const std::set<std::string>& channels,
                                       new_order_fields& out) {
  struct spec { const char* name; bool required; size_t max; std::string* dest; };
  spec specs[] = {
    {"merchant_order_no", true, 64, &out.merchant_order_no},
    {"subject", true, 256, &out.subject},
    {"channel", true, 32, &out.channel},
    {"notify_url", false, 2048, &out.notify_url},
    {"customer_phone", false, 16, &out.customer_phone},
  };
  for (auto& s : specs) {
    auto v = string_field(body, s.name, s.required, s.max);
    if (auto* err = std::get_if<api_error>(&v))
      return *err;
    *s.dest = std::move(std::get<std::string>(v));
  }
  if (!std::all_of(out.merchant_order_no.begin(), out.merchant_order_no.end(), order_no_char))
    return invalid_param("merchant_order_no", "merchant_order_no may only contain A-Z, a-z, 0-9, '_', '.' and '-'.");
  if (!channels.count(out.channel))
    return invalid_param("channel", "channel '" + out.channel + "' is not configured.");
  if (!out.notify_url.empty() && !plausible_url(out.notify_url))
    return invalid_param("notify_url", "notify_url must be an http:// or https:// URL.");
  const auto& p = out.customer_phone;
  if (!p.empty() && (p.size() < 3 || p[0] != '+' || p[1] == '0'
                     || !std::all_of(p.begin() + 1, p.end(), ::isdigit)))
    return invalid_param("customer_phone", "customer_phone must be in E.164 format, e.g. +8613800000000.");
  return std::nullopt;
}

std::optional<api_error> check_expires_in(const json& body, new_order_fields& out) {
  auto i = body.find("expires_in");
  if (i == body.end() || i->is_null())
    return std::nullopt;
  if (!i->is_number_integer() || i->get<int64_t>() < 60 || i->get<int64_t>() > 86400
      || (i->is_number_unsigned() && i->get<uint64_t>() > 86400))
    return invalid_param("expires_in", "expires_in must be an integer number of seconds from 60 to 86400.");
  out.expires_in_s = i->get<int64_t>();
  return std::nullopt;
}

std::optional<api_error> check_metadata(const json& body, new_order_fields& out) {
  auto i = body.find("metadata");
  if (i == body.end() || i->is_null())
    return std::nullopt;
  if (!i->is_object() || i->size() > 20)
    return invalid_param("metadata", "metadata must be an object of at most 20 string pairs.");
  for (auto& [k, v] : i->items()) {
    if (k.empty() || utf8_length(k) > 40 || has_control_chars(k))
      return invalid_param("metadata", "metadata keys must be 1 to 40 characters.");
    if (!v.is_string() || !acceptable_text(v.get_ref<const std::string&>(), 500))
      return invalid_param("metadata", "metadata values must be strings of at most 500 characters, without NUL.");
    out.metadata.emplace(k, v.get<std::string>());
  }
  return std::nullopt;
}

} // namespace

std::variant<json, api_error> parse_json_object(std::string_view body) {
  if (!nesting_within(body, json_depth_max))
    return invalid_request("invalid_json", "The body nests deeper than 32 levels.");
  auto parsed = json::parse(body.begin(), body.end(), nullptr, false);
  if (parsed.is_discarded())
    return invalid_request("invalid_json", "The body is not valid JSON (UTF-8).");
  if (!parsed.is_object())
    return invalid_request("invalid_json", "The body must be a JSON object.");
  return parsed;
}

std::variant<new_order_fields, api_error>
parse_new_order(const json& body, const std::set<std::string>& channels) {
  static const std::set<std::string> known = {
    "merchant_order_no", "amount", "currency", "subject", "channel",
    "notify_url", "customer_phone", "expires_in", "metadata", "topup_wallet"};
  for (auto& [k, v] : body.items())
    if (!known.count(k))
      return invalid_request("parameter_unknown", "Received unknown parameter: " + k.substr(0, 64) + ".", k.substr(0, 64));
  new_order_fields out;
  for (auto check : {check_amount, check_currency, check_expires_in, check_metadata})
    if (auto err = check(body, out))
      return *err;
  if (auto err = check_strings(body, channels, out))
    return *err;
  if (auto w = body.find("topup_wallet"); w != body.end() && !w->is_null()) {
    if (!w->is_string() || !well_formed_id(w->get_ref<const std::string&>(), "wal"))
      return invalid_param("topup_wallet", "topup_wallet must be a wallet id (wal_...).");
    out.topup_wallet = w->get<std::string>();
  }
  return out;
}

namespace {

bool phone_ok(const std::string& p) {
  return p.empty() || (p.size() >= 3 && p.size() <= 16 && p[0] == '+' && p[1] != '0'
                       && std::all_of(p.begin() + 1, p.end(), ::isdigit));
}

bool customer_ref_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.'
         || c == ':' || c == '@';
}

bool customer_ref_ok(const std::string& s) {
  return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), customer_ref_char);
}

} // namespace

std::variant<pay_fields, api_error> parse_pay_fields(std::string_view text) {
  pay_fields out;
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos)
    return out; // no body: the channel
  auto parsed = parse_json_object(text);
  if (auto* err = std::get_if<api_error>(&parsed))
    return *err;
  const auto& body = std::get<json>(parsed);
  for (auto& [k, v] : body.items())
    if (k != "method" && k != "wallet")
      return invalid_request("parameter_unknown", "Received unknown parameter: " + k.substr(0, 64) + ".", k.substr(0, 64));
  if (auto m = body.find("method"); m != body.end() && !m->is_null()) {
    if (!m->is_string() || (*m != "channel" && *m != "balance"))
      return invalid_param("method", "method must be \"channel\" or \"balance\".");
    out.method = m->get<std::string>();
  }
  auto w = body.find("wallet");
  bool has_wallet = w != body.end() && !w->is_null();
  if (out.method == "balance") {
    if (!has_wallet || !w->is_string() || !well_formed_id(w->get_ref<const std::string&>(), "wal"))
      return invalid_param("wallet", "A balance payment names its wallet (wal_...).");
    out.wallet = w->get<std::string>();
  } else if (has_wallet) {
    return invalid_param("wallet", "wallet goes with method \"balance\".");
  }
  return out;
}

std::variant<wallet_fields, api_error> parse_wallet_fields(const json& body) {
  for (auto& [k, v] : body.items())
    if (k != "customer_ref" && k != "currency" && k != "customer_phone")
      return invalid_request("parameter_unknown", "Received unknown parameter: " + k.substr(0, 64) + ".", k.substr(0, 64));
  wallet_fields out;
  auto ref = body.find("customer_ref");
  if (ref == body.end() || !ref->is_string() || !customer_ref_ok(ref->get_ref<const std::string&>()))
    return invalid_param("customer_ref", "customer_ref must be 1 to 64 characters of A-Z, a-z, 0-9, '_', '-', '.', ':', '@'.");
  out.customer_ref = ref->get<std::string>();
  auto cur = body.find("currency");
  if (cur == body.end() || !cur->is_string() || !find_currency(cur->get_ref<const std::string&>()))
    return invalid_param("currency", "currency must be an upper-case ISO 4217 code such as CNY or USD.");
  out.currency = cur->get<std::string>();
  if (auto p = body.find("customer_phone"); p != body.end() && !p->is_null()) {
    if (!p->is_string() || !phone_ok(p->get_ref<const std::string&>()))
      return invalid_param("customer_phone", "customer_phone must be in E.164 format, e.g. +8613800000000.");
    out.customer_phone = p->get<std::string>();
  }
  return out;
}

std::variant<wallet_list_params, api_error>
parse_wallet_list_params(const std::multimap<std::string, std::string>& query, bool by_customer) {
  wallet_list_params out;
  for (const auto& [k, v] : query) {
    if (k == "limit") {
      auto n = parse_bounded_int(v, 1, 100);
      if (!n)
        return invalid_param("limit", "limit must be an integer from 1 to 100.");
      out.limit = static_cast<uint32_t>(*n);
    } else if (k == "starting_after") {
      if (!well_formed_id(v, by_customer ? "wal" : "trf"))
        return invalid_param("starting_after", "starting_after must be an id from the previous page.");
      out.starting_after = v;
    } else if (k == "customer_ref" && by_customer) {
      if (!customer_ref_ok(v))
        return invalid_param("customer_ref", "customer_ref must be 1 to 64 characters of A-Z, a-z, 0-9, '_', '-', '.', ':', '@'.");
      out.customer_ref = v;
    } else {
      return invalid_request("parameter_unknown", "Received unknown parameter: " + k.substr(0, 64) + ".", k.substr(0, 64));
    }
  }
  return out;
}

std::variant<refund_fields, api_error> parse_refund_fields(const json& body) {
  refund_fields out;
  auto amount = body.find("amount");
  if (amount == body.end() || !amount->is_number_integer()
      || (amount->is_number_unsigned() && amount->get<uint64_t>() > uint64_t(amount_max))
      || !valid_amount(amount->get<int64_t>()))
    return invalid_param("amount", "amount must be an integer count of minor units, 1 to 1000000000000.");
  out.amount = amount->get<int64_t>();
  if (auto r = body.find("reason"); r != body.end() && !r->is_null()) {
    if (!r->is_string() || !acceptable_text(r->get_ref<const std::string&>(), 256))
      return invalid_param("reason", "reason must be a string of at most 256 characters, without NUL.");
    out.reason = r->get<std::string>();
  }
  return out;
}

std::variant<list_params, api_error>
parse_list_params(const std::multimap<std::string, std::string>& query) {
  list_params out;
  for (const auto& [k, v] : query) {
    if (k == "status") {
      if (!order_status_from_string(v))
        return invalid_param("status", "status must be one of the order statuses.");
      out.status = v;
    } else if (k == "limit") {
      auto n = parse_bounded_int(v, 1, 100);
      if (!n)
        return invalid_param("limit", "limit must be an integer from 1 to 100.");
      out.limit = static_cast<uint32_t>(*n);
    } else if (k == "starting_after") {
      if (!well_formed_id(v, "ord"))
        return invalid_param("starting_after", "starting_after must be an order id.");
      out.starting_after = v;
    } else {
      return invalid_request("parameter_unknown", "Received unknown parameter: " + k.substr(0, 64) + ".", k.substr(0, 64));
    }
  }
  return out;
}

std::optional<int64_t> parse_bounded_int(std::string_view value, int64_t lo, int64_t hi) {
  int64_t n = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (ec != std::errc{} || end != value.data() + value.size() || n < lo || n > hi)
    return std::nullopt;
  return n;
}

std::optional<api_error> check_notify_url_target(std::string_view url,
                                                 const net::address_policy& policy) {
  auto why = net::forbidden_literal(url, policy);
  if (!why)
    return std::nullopt;
  return invalid_param("notify_url", "notify_url must not point at a loopback, private, link-local,"
                                     " multicast or unspecified address (" + *why + ").");
}

bool plausible_url(std::string_view url) {
  auto scheme_ok = url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0;
  if (!scheme_ok)
    return false;
  auto host_start = url.find("://") + 3;
  if (url.size() <= host_start
      || std::any_of(url.begin(), url.end(), [](char c) {
           return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f;
         }))
    return false;
  // host[:port], where a port is 1..65535 (an IPv6 literal in brackets).
  auto authority = url.substr(host_start, url.find_first_of("/?#", host_start) - host_start);
  if (authority.empty() || authority.find('@') != std::string_view::npos)
    return false;
  auto host_end = authority.front() == '[' ? authority.find(']') : authority.find(':');
  if (authority.front() == '[' && host_end == std::string_view::npos)
    return false;
  auto port_at = authority.front() == '[' ? host_end + 1 : host_end;
  if (port_at == std::string_view::npos || port_at >= authority.size())
    return port_at == std::string_view::npos || authority.front() == '[';
  if (authority[port_at] != ':')
    return false;
  return parse_bounded_int(authority.substr(port_at + 1), 1, 65'535).has_value();
}

bool acceptable_text(std::string_view s, size_t max_chars) {
  return s.find('\0') == std::string_view::npos && utf8_length(s) <= max_chars;
}

size_t utf8_length(std::string_view s) {
  return static_cast<size_t>(std::count_if(s.begin(), s.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

namespace {

/// A rate field: a JSON integer in 0..merchant_rate_max (not 5.0, not "5").
std::variant<uint32_t, api_error> rate_field(const nlohmann::json& v, const std::string& name) {
  if (v.is_number_unsigned() && v.get<uint64_t>() <= merchant_rate_max)
    return static_cast<uint32_t>(v.get<uint64_t>());
  if (v.is_number_integer() && v.get<int64_t>() >= 0 && v.get<int64_t>() <= merchant_rate_max)
    return static_cast<uint32_t>(v.get<int64_t>());
  return invalid_param(name, name + " must be an integer from 0 to " + std::to_string(merchant_rate_max)
                               + (name == "rate_per_s" ? " (0: unlimited)." : " (0: one second's worth)."));
}

std::optional<api_error> notify_url_field(const nlohmann::json& v, const net::address_policy& policy,
                                          merchant_fields& out) {
  if (v.is_null()) {
    out.notify_url = "";
    return std::nullopt;
  }
  if (!v.is_string() || v.get_ref<const std::string&>().size() > 2048
      || !plausible_url(v.get_ref<const std::string&>()))
    return invalid_param("notify_url", "notify_url must be an http:// or https:// URL.");
  if (auto err = check_notify_url_target(v.get_ref<const std::string&>(), policy))
    return err;
  out.notify_url = v.get<std::string>();
  return std::nullopt;
}

/// One known member of the body into `out`; the error if its value is bad.
std::optional<api_error> merchant_field(const std::string& key, const nlohmann::json& v,
                                        const net::address_policy& policy, merchant_fields& out) {
  if (key == "name") {
    if (!v.is_string() || v.get_ref<const std::string&>().empty()
        || !acceptable_text(v.get_ref<const std::string&>(), 200))
      return invalid_param("name", "name must be a string of 1 to 200 characters, without NUL.");
    out.name = v.get<std::string>();
    return std::nullopt;
  }
  if (key == "notify_url")
    return notify_url_field(v, policy, out);
  auto r = rate_field(v, key);
  if (auto* err = std::get_if<api_error>(&r))
    return *err;
  (key == "burst" ? out.burst : out.rate_per_s) = std::get<uint32_t>(r);
  return std::nullopt;
}

} // namespace

std::variant<merchant_fields, api_error>
parse_merchant_fields(const nlohmann::json& body, const net::address_policy& policy) {
  // Unknown members first: a typo is named even next to a bad value.
  for (const auto& [key, value] : body.items())
    if (key != "name" && key != "notify_url" && key != "rate_per_s" && key != "burst") {
      auto shown = key.substr(0, 64);
      return invalid_request("parameter_unknown", "Received unknown parameter: " + shown + ".", shown);
    }
  merchant_fields out;
  for (const auto& [key, value] : body.items())
    if (auto err = merchant_field(key, value, policy, out))
      return *err;
  return out;
}

} // namespace payengine::http
