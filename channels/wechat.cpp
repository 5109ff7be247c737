#include "channels/wechat.hpp"

#include "channels/json_fields.hpp"
#include "channels/limits.hpp"

#include <nlohmann/json.hpp>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <array>
#include <cstdio>
#include <limits>
#include <memory>
#include <utility>

namespace payengine::channels::wechat {

namespace {

using nlohmann::json;

// --- small text helpers ------------------------------------------------------------

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

/// Decimal digits only, at most 18 of them (no sign, no overflow).
std::optional<int64_t> parse_seconds(std::string_view text) {
  if (text.empty() || text.size() > 18)
    return std::nullopt;
  int64_t x = 0;
  for (char c : text) {
    if (!is_digit(c))
      return std::nullopt;
    x = x * 10 + (c - '0');
  }
  return x;
}

/// |a - b| <= clock_window_s, computed without overflow for any two values.
bool within_window(int64_t a, int64_t b) {
  const auto ua = static_cast<uint64_t>(a);
  const auto ub = static_cast<uint64_t>(b);
  const uint64_t diff = a > b ? ua - ub : ub - ua;
  return diff <= static_cast<uint64_t>(clock_window_s);
}

/// A value that can sit between the quotes of an Authorization field, or in
/// a header: printable ASCII, no quote, backslash or comma (which would end
/// the field early) and no CR/LF (which would end the header).
bool header_safe(std::string_view text) {
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f || c == '"' || c == '\\' || c == ',')
      return false;
  }
  return true;
}

/// JSON text that never throws: invalid UTF-8 in a string is replaced.
std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

channel_error too_large(std::string what) {
  return {errc::too_large, std::move(what) + " over the limit"};
}

// --- OpenSSL ------------------------------------------------------------------------

struct cipher_ctx_free {
  void operator()(EVP_CIPHER_CTX* ctx) const noexcept { EVP_CIPHER_CTX_free(ctx); }
};
using cipher_ctx_ptr = std::unique_ptr<EVP_CIPHER_CTX, cipher_ctx_free>;

constexpr std::size_t gcm_key_bytes = 32;
constexpr std::size_t gcm_tag_bytes = 16;

const unsigned char* bytes_of(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

/// A failure leaves OpenSSL's error queue empty for the next caller.
channel_error crypto_failure(std::string what) {
  ERR_clear_error();
  return {errc::crypto_failure, std::move(what)};
}

std::optional<channel_error> check_gcm_inputs(std::string_view key, std::string_view nonce,
                                              std::string_view associated_data) {
  if (key.size() != gcm_key_bytes)
    return channel_error{errc::bad_field, "the APIv3 key must be 32 bytes"};
  if (nonce.empty())
    return channel_error{errc::missing_field, "nonce"};
  if (nonce.size() > limits::wechat_nonce_bytes_max)
    return too_large("nonce");
  if (associated_data.size() > limits::wechat_notification_bytes_max)
    return too_large("associated_data");
  return std::nullopt;
}

/// Starts an AES-256-GCM context for `encrypt` (1) or decrypt (0), with
/// the key, the nonce (its length set first) and the associated data fed.
result<cipher_ctx_ptr> start_gcm(int encrypt, std::string_view key, std::string_view nonce,
                                 std::string_view associated_data) {
  cipher_ctx_ptr ctx(EVP_CIPHER_CTX_new());
  int ignored = 0;
  if (!ctx
      || EVP_CipherInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr, encrypt) != 1
      || EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(nonce.size()),
                             nullptr)
           != 1
      || EVP_CipherInit_ex(ctx.get(), nullptr, nullptr, bytes_of(key), bytes_of(nonce), encrypt)
           != 1
      || (!associated_data.empty()
          && EVP_CipherUpdate(ctx.get(), nullptr, &ignored, bytes_of(associated_data),
                              static_cast<int>(associated_data.size()))
               != 1))
    return crypto_failure("AES-256-GCM setup refused");
  return ctx;
}

// --- JSON members --------------------------------------------------------------------

/// A non-negative integer member (fen). Absent: `fallback` if given, else
/// missing_field. Floats, strings and negatives are bad_amount.
result<int64_t> read_count(const json& object, const char* name,
                           std::optional<int64_t> fallback = std::nullopt) {
  const auto it = object.find(name);
  if (it == object.end() || it->is_null()) {
    if (fallback)
      return *fallback;
    return channel_error{errc::missing_field, name};
  }
  if (it->is_number_unsigned()) {
    const auto x = it->get<uint64_t>();
    if (x <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return static_cast<int64_t>(x);
  } else if (it->is_number_integer() && it->get<int64_t>() >= 0) {
    return it->get<int64_t>();
  }
  return channel_error{errc::bad_amount, std::string(name) + " is not a non-negative integer"};
}

result<const json*> required_object(const json& object, const char* name) {
  const auto it = object.find(name);
  if (it == object.end() || it->is_null())
    return channel_error{errc::missing_field, name};
  if (!it->is_object())
    return channel_error{errc::bad_field, std::string(name) + " is not an object"};
  return &*it;
}

std::optional<channel_error> read_required(const json& object, const char* name,
                                           std::string& out) {
  auto value = json_fields::required_string(object, name);
  if (!value)
    return value.error();
  out = std::move(value).value();
  return std::nullopt;
}

std::optional<channel_error> read_count_into(const json& object, const char* name, int64_t& out,
                                             std::optional<int64_t> fallback = std::nullopt) {
  auto value = read_count(object, name, fallback);
  if (!value)
    return value.error();
  out = *value;
  return std::nullopt;
}

/// A JSON object of at most `max_bytes`.
result<json> parse_bounded(std::string_view text, std::size_t max_bytes, const char* what) {
  if (text.size() > max_bytes)
    return too_large(what);
  return json_fields::parse_object(text);
}

void put_if(json& object, const char* name, const std::string& value) {
  if (!value.empty())
    object[name] = value;
}

// --- transactions ----------------------------------------------------------------------

std::optional<channel_error> read_trade_state(const json& object, trade_state& out) {
  std::string text;
  if (auto err = read_required(object, "trade_state", text))
    return err;
  const auto state = trade_state_from(text);
  if (!state)
    return channel_error{errc::bad_field, "unknown trade_state " + text.substr(0, 32)};
  out = *state;
  return std::nullopt;
}

std::optional<channel_error> read_trade_amount(const json& object, transaction& t) {
  const auto amount = required_object(object, "amount");
  if (!amount)
    return amount.error();
  const json& a = **amount;
  std::string currency;
  if (auto err = first_error({read_count_into(a, "total", t.total),
                              read_count_into(a, "payer_total", t.payer_total, 0),
                              json_fields::read_strings(a, {{"currency", &currency}})}))
    return err;
  if (!currency.empty())
    t.currency = std::move(currency);
  return std::nullopt;
}

// --- refunds ---------------------------------------------------------------------------

/// The members a refund resource and a refund answer share; `status_name`
/// is where its state is ("refund_status" or "status").
std::optional<channel_error> read_refund_fields(const json& object, const char* status_name,
                                                refund_resource& r) {
  const auto amount = required_object(object, "amount");
  if (!amount)
    return amount.error();
  const json& a = **amount;
  int64_t payer_total = 0, payer_refund = 0; // checked, not kept
  return first_error({read_required(object, "out_trade_no", r.out_trade_no),
                      read_required(object, "out_refund_no", r.out_refund_no),
                      read_required(object, "refund_id", r.refund_id),
                      read_required(object, status_name, r.refund_status),
                      json_fields::read_strings(object, {{"transaction_id", &r.transaction_id},
                                                         {"success_time", &r.success_time}}),
                      read_count_into(a, "total", r.total), read_count_into(a, "refund", r.refund),
                      read_count_into(a, "payer_total", payer_total, 0),
                      read_count_into(a, "payer_refund", payer_refund, 0)});
}

bool known_refund_status(std::string_view s) {
  return s == "SUCCESS" || s == "CLOSED" || s == "ABNORMAL" || s == "PROCESSING";
}

json refund_json(const refund_resource& r, const char* status_name) {
  json j{{"out_trade_no", r.out_trade_no},
         {"out_refund_no", r.out_refund_no},
         {"refund_id", r.refund_id},
         {status_name, r.refund_status},
         {"amount",
          {{"total", r.total},
           {"refund", r.refund},
           {"payer_total", r.total},
           {"payer_refund", r.refund}}}};
  put_if(j, "transaction_id", r.transaction_id);
  put_if(j, "success_time", r.success_time);
  return j;
}

/// A refund resource (`with_mchid`, state in "refund_status") or a refund
/// answer (state in "status").
result<refund_resource> read_refund_json(std::string_view json_text, const char* status_name,
                                         bool with_mchid) {
  auto object = parse_bounded(json_text, limits::response_bytes_max, "refund");
  if (!object)
    return object.error();
  refund_resource r;
  if (auto err = read_refund_fields(*object, status_name, r))
    return *err;
  if (with_mchid)
    if (auto err = read_required(*object, "mchid", r.mchid))
      return *err;
  if (!known_refund_status(r.refund_status))
    return channel_error{errc::bad_field, "unknown refund status " + r.refund_status.substr(0, 32)};
  return r;
}

// --- notifications -------------------------------------------------------------------------

constexpr std::string_view resource_type = "encrypt-resource";
constexpr std::string_view algorithm = "AEAD_AES_256_GCM";

struct envelope {
  notification head;
  std::string resource_type;
  std::string algorithm;
  std::string ciphertext;
  std::string associated_data;
  std::string nonce;
};

result<envelope> read_envelope(std::string_view body) {
  auto object = json_fields::parse_object(body);
  if (!object)
    return object.error();
  envelope e;
  auto err = first_error({read_required(*object, "id", e.head.id),
                          read_required(*object, "create_time", e.head.create_time),
                          read_required(*object, "event_type", e.head.event_type),
                          read_required(*object, "resource_type", e.resource_type),
                          json_fields::read_strings(*object, {{"summary", &e.head.summary}})});
  if (err)
    return *err;
  const auto resource = required_object(*object, "resource");
  if (!resource)
    return resource.error();
  const json& r = **resource;
  err = first_error({read_required(r, "algorithm", e.algorithm),
                     read_required(r, "ciphertext", e.ciphertext),
                     read_required(r, "nonce", e.nonce),
                     read_required(r, "original_type", e.head.original_type),
                     json_fields::read_strings(r, {{"associated_data", &e.associated_data}})});
  if (err)
    return *err;
  return e;
}

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

/// Reads the decrypted resource as what the event says it is.
std::optional<channel_error> read_resource(const std::string& plaintext, notification& n) {
  if (starts_with(n.event_type, "TRANSACTION.") && n.original_type == "transaction") {
    auto t = read_transaction(plaintext);
    if (!t)
      return t.error();
    n.trade = std::move(t).value();
    return std::nullopt;
  }
  if (starts_with(n.event_type, "REFUND.") && n.original_type == "refund") {
    auto r = read_refund_resource(plaintext);
    if (!r)
      return r.error();
    n.refund = std::move(r).value();
    return std::nullopt;
  }
  return channel_error{errc::bad_field, "event_type " + n.event_type.substr(0, 64)
                                          + " with original_type "
                                          + n.original_type.substr(0, 32)};
}

// --- RFC 3339 ---------------------------------------------------------------------------------

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// days_from_civil algorithm, written out here).
int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

struct civil_date {
  int64_t year;
  int month;
  int day;
};

civil_date civil_from_days(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const auto day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  const auto month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  return {yoe + era * 400 + (month <= 2 ? 1 : 0), month, day};
}

int days_in_month(int64_t year, int month) {
  static constexpr std::array<int, 12> days{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : days[static_cast<std::size_t>(month - 1)];
}

/// `n` digits at `pos`, or -1.
int64_t digits_at(std::string_view text, std::size_t pos, std::size_t n) {
  if (pos + n > text.size())
    return -1;
  int64_t x = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (!is_digit(text[i]))
      return -1;
    x = x * 10 + (text[i] - '0');
  }
  return x;
}

/// The fraction after the seconds ("." and 1..9 digits) in microseconds;
/// `pos` moves past it. 0 when there is none; nullopt when malformed.
std::optional<int64_t> read_fraction(std::string_view text, std::size_t& pos) {
  if (pos >= text.size() || text[pos] != '.')
    return 0;
  std::size_t n = 0;
  int64_t us = 0;
  for (++pos; pos < text.size() && is_digit(text[pos]); ++pos, ++n) {
    if (n < 6)
      us = us * 10 + (text[pos] - '0');
  }
  if (n == 0 || n > 9)
    return std::nullopt;
  for (; n < 6; ++n)
    us *= 10;
  return us;
}

/// "Z" or "+hh:mm" / "-hh:mm" at `pos`, ending the text: seconds east of UTC.
std::optional<int64_t> read_offset(std::string_view text, std::size_t pos) {
  if (pos + 1 == text.size() && (text[pos] == 'Z' || text[pos] == 'z'))
    return 0;
  if (pos + 6 != text.size() || (text[pos] != '+' && text[pos] != '-') || text[pos + 3] != ':')
    return std::nullopt;
  const auto h = digits_at(text, pos + 1, 2);
  const auto m = digits_at(text, pos + 4, 2);
  if (h < 0 || h > 23 || m < 0 || m > 59)
    return std::nullopt;
  const int64_t offset = h * 3600 + m * 60;
  return text[pos] == '-' ? -offset : offset;
}

} // namespace

// --- the merchant's request signature ---------------------------------------------------

std::string request_message(std::string_view method, std::string_view url, int64_t timestamp_s,
                            std::string_view nonce, std::string_view body) {
  std::string m;
  m.reserve(method.size() + url.size() + nonce.size() + body.size() + 32);
  m.append(method).append("\n").append(url).append("\n");
  m.append(std::to_string(timestamp_s)).append("\n");
  m.append(nonce).append("\n").append(body).append("\n");
  return m;
}

result<std::string> sign_request(const private_key& key, std::string_view mchid,
                                 std::string_view serial_no, std::string_view method,
                                 std::string_view url, std::string_view body,
                                 int64_t timestamp_s, std::string_view nonce) {
  // Each goes between quotes in a header: refuse what would break out.
  for (auto field : {mchid, serial_no, nonce})
    if (field.empty() || !header_safe(field) || field.size() > limits::wechat_header_bytes_max)
      return channel_error{errc::bad_field, "mchid, serial_no and nonce must be plain text"};
  if (timestamp_s < 0)
    return channel_error{errc::bad_field, "negative timestamp"};
  auto signature = key.sign(request_message(method, url, timestamp_s, nonce, body));
  if (!signature)
    return signature.error();
  std::string header(auth_scheme);
  header.append(" mchid=\"").append(mchid);
  header.append("\",nonce_str=\"").append(nonce);
  header.append("\",signature=\"").append(*signature);
  header.append("\",timestamp=\"").append(std::to_string(timestamp_s));
  header.append("\",serial_no=\"").append(serial_no).append("\"");
  return header;
}

namespace {

constexpr std::array<std::string_view, 5> authorization_fields{"mchid", "nonce_str", "signature",
                                                                "timestamp", "serial_no"};

/// Where field `i` of authorization_fields goes.
std::string& slot_of(authorization& a, std::size_t i, std::string& timestamp) {
  switch (i) {
    case 0: return a.mchid;
    case 1: return a.nonce_str;
    case 2: return a.signature;
    case 3: return timestamp;
    default: return a.serial_no;
  }
}

bool is_space(char c) {
  return c == ' ' || c == '\t';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && is_space(s.back()))
    s.remove_suffix(1);
  return s;
}

/// One `name="value"` item: the name and the value, or an error.
result<std::pair<std::string_view, std::string_view>> split_item(std::string_view item) {
  const auto eq = item.find('=');
  if (eq == std::string_view::npos)
    return channel_error{errc::bad_field, "authorization item without '='"};
  const auto name = trim(item.substr(0, eq));
  const auto quoted = trim(item.substr(eq + 1));
  if (quoted.size() < 2 || quoted.front() != '"' || quoted.back() != '"')
    return channel_error{errc::bad_field, "authorization value not quoted"};
  return std::pair{name, quoted.substr(1, quoted.size() - 2)};
}

} // namespace

result<authorization> parse_authorization(std::string_view header) {
  if (header.size() > limits::wechat_header_bytes_max)
    return too_large("authorization");
  if (!starts_with(header, auth_scheme) || header.size() == auth_scheme.size()
      || !is_space(header[auth_scheme.size()]))
    return channel_error{errc::unsupported_sign_type, "not " + std::string(auth_scheme)};
  authorization a;
  std::string timestamp;
  std::array<bool, 5> seen{};
  std::string_view rest = header.substr(auth_scheme.size());
  // Values never hold a quote or a comma (base64, digits, hex, ids), so a
  // comma always ends an item; an empty item (",,", a trailing ",") is refused.
  for (bool more = true; more;) {
    const auto comma = rest.find(',');
    const auto item = split_item(rest.substr(0, comma));
    more = comma != std::string_view::npos;
    rest = more ? rest.substr(comma + 1) : std::string_view{};
    if (!item)
      return item.error();
    const auto [name, value] = *item;
    std::size_t i = 0;
    while (i < authorization_fields.size() && authorization_fields[i] != name)
      ++i;
    if (i == authorization_fields.size())
      return channel_error{errc::bad_field, "unknown authorization field"};
    if (seen[i])
      return channel_error{errc::bad_field, "repeated authorization field " + std::string(name)};
    if (value.empty() || value.find('"') != std::string_view::npos)
      return channel_error{errc::missing_field, std::string(name)};
    seen[i] = true;
    slot_of(a, i, timestamp) = std::string(value);
  }
  for (std::size_t i = 0; i < seen.size(); ++i)
    if (!seen[i])
      return channel_error{errc::missing_signature, "authorization lacks a field"};
  const auto ts = parse_seconds(timestamp);
  if (!ts)
    return channel_error{errc::bad_field, "authorization timestamp is not a number"};
  a.timestamp = *ts;
  return a;
}

result<authorization> verify_request(std::string_view header, const public_key& merchant_key,
                                     std::string_view expected_mchid,
                                     std::string_view expected_serial, std::string_view method,
                                     std::string_view url, std::string_view body, int64_t now_s) {
  if (header.empty())
    return channel_error{errc::missing_signature, "no Authorization"};
  auto a = parse_authorization(header);
  if (!a)
    return a.error();
  if (a->mchid != expected_mchid)
    return channel_error{errc::app_id_mismatch, "request for mchid " + a->mchid.substr(0, 32)};
  if (a->serial_no != expected_serial)
    return channel_error{errc::bad_signature, "signed with another certificate serial"};
  if (!within_window(a->timestamp, now_s))
    return channel_error{errc::bad_signature, "timestamp outside the window"};
  if (!merchant_key.verify(request_message(method, url, a->timestamp, a->nonce_str, body),
                           a->signature))
    return channel_error{errc::bad_signature, "request signature does not verify"};
  return a;
}

// --- the platform's signature -------------------------------------------------------------

std::string response_message(int64_t timestamp_s, std::string_view nonce, std::string_view body) {
  std::string m;
  m.reserve(nonce.size() + body.size() + 24);
  m.append(std::to_string(timestamp_s)).append("\n");
  m.append(nonce).append("\n").append(body).append("\n");
  return m;
}

result<header_list> sign_response(const private_key& platform_key, std::string_view serial,
                                  std::string_view body, int64_t timestamp_s,
                                  std::string_view nonce) {
  for (auto field : {serial, nonce})
    if (field.empty() || !header_safe(field) || field.size() > limits::wechat_header_bytes_max)
      return channel_error{errc::bad_field, "serial and nonce must be plain text"};
  if (timestamp_s < 0)
    return channel_error{errc::bad_field, "negative timestamp"};
  auto signature = platform_key.sign(response_message(timestamp_s, nonce, body));
  if (!signature)
    return signature.error();
  return header_list{{"Wechatpay-Timestamp", std::to_string(timestamp_s)},
                     {"Wechatpay-Nonce", std::string(nonce)},
                     {"Wechatpay-Signature", std::move(signature).value()},
                     {"Wechatpay-Serial", std::string(serial)}};
}

result<platform_signature> verify_response(const header_list& headers, std::string_view body,
                                           const public_key& platform_key,
                                           std::string_view expected_serial, int64_t now_s) {
  if (body.size() > limits::response_bytes_max)
    return too_large("body");
  const auto timestamp = header_value(headers, "Wechatpay-Timestamp");
  platform_signature s;
  s.nonce = header_value(headers, "Wechatpay-Nonce");
  s.signature = header_value(headers, "Wechatpay-Signature");
  s.serial = header_value(headers, "Wechatpay-Serial");
  if (timestamp.empty() || s.nonce.empty() || s.signature.empty() || s.serial.empty())
    return channel_error{errc::missing_signature, "a Wechatpay-* header is missing"};
  for (auto value : {timestamp, std::string_view(s.nonce), std::string_view(s.signature),
                     std::string_view(s.serial)})
    if (value.size() > limits::wechat_header_bytes_max)
      return too_large("Wechatpay-* header");
  const auto ts = parse_seconds(timestamp);
  if (!ts)
    return channel_error{errc::bad_signature, "Wechatpay-Timestamp is not a number"};
  s.timestamp = *ts;
  if (s.serial != expected_serial)
    return channel_error{errc::bad_signature, "signed with another platform serial"};
  if (!within_window(s.timestamp, now_s))
    return channel_error{errc::bad_signature, "Wechatpay-Timestamp outside the window"};
  // WeChat's probes check that we refuse; they are never genuine answers.
  if (starts_with(s.signature, probe_signature_prefix))
    return channel_error{errc::bad_signature, "probe signature"};
  if (!platform_key.verify(response_message(s.timestamp, s.nonce, body), s.signature))
    return channel_error{errc::bad_signature, "platform signature does not verify"};
  return s;
}

// --- AEAD_AES_256_GCM --------------------------------------------------------------------------

result<std::string> aes_gcm_decrypt(std::string_view apiv3_key, std::string_view nonce,
                                    std::string_view associated_data,
                                    std::string_view ciphertext_b64) {
  if (auto err = check_gcm_inputs(apiv3_key, nonce, associated_data))
    return *err;
  if (ciphertext_b64.size() > limits::wechat_notification_bytes_max)
    return too_large("ciphertext");
  auto sealed = base64_decode(ciphertext_b64);
  if (!sealed)
    return channel_error{errc::bad_field, "ciphertext is not base64"};
  if (sealed->size() < gcm_tag_bytes)
    return channel_error{errc::crypto_failure, "ciphertext shorter than its tag"};
  auto ctx = start_gcm(0, apiv3_key, nonce, associated_data);
  if (!ctx)
    return ctx.error();
  const auto text_bytes = sealed->size() - gcm_tag_bytes;
  std::string tag = sealed->substr(text_bytes);
  std::string plain(text_bytes + gcm_tag_bytes, '\0'); // room: GCM writes no more than it reads
  int written = 0, tail = 0;
  if (EVP_DecryptUpdate(ctx->get(), reinterpret_cast<unsigned char*>(plain.data()), &written,
                        bytes_of(*sealed), static_cast<int>(text_bytes))
        != 1
      || EVP_CIPHER_CTX_ctrl(ctx->get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(gcm_tag_bytes),
                             tag.data())
           != 1
      || EVP_DecryptFinal_ex(ctx->get(), reinterpret_cast<unsigned char*>(plain.data()) + written,
                             &tail)
           != 1)
    return crypto_failure("resource does not decrypt (tag, key or nonce)");
  plain.resize(static_cast<std::size_t>(written + tail));
  return plain;
}

result<std::string> aes_gcm_encrypt(std::string_view apiv3_key, std::string_view nonce,
                                    std::string_view associated_data, std::string_view plaintext) {
  if (auto err = check_gcm_inputs(apiv3_key, nonce, associated_data))
    return *err;
  if (plaintext.size() > limits::wechat_notification_bytes_max)
    return too_large("plaintext");
  auto ctx = start_gcm(1, apiv3_key, nonce, associated_data);
  if (!ctx)
    return ctx.error();
  std::string sealed(plaintext.size() + gcm_tag_bytes, '\0');
  auto* out = reinterpret_cast<unsigned char*>(sealed.data());
  int written = 0, tail = 0;
  if (EVP_EncryptUpdate(ctx->get(), out, &written, bytes_of(plaintext),
                        static_cast<int>(plaintext.size()))
        != 1
      || EVP_EncryptFinal_ex(ctx->get(), out + written, &tail) != 1
      || EVP_CIPHER_CTX_ctrl(ctx->get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(gcm_tag_bytes),
                             out + written + tail)
           != 1)
    return crypto_failure("AES-256-GCM encryption refused");
  sealed.resize(static_cast<std::size_t>(written + tail) + gcm_tag_bytes);
  return base64_encode(sealed);
}

// --- trades ----------------------------------------------------------------------------------

std::string_view to_string(trade_state x) {
  switch (x) {
    case trade_state::success: return "SUCCESS";
    case trade_state::refund: return "REFUND";
    case trade_state::notpay: return "NOTPAY";
    case trade_state::closed: return "CLOSED";
    case trade_state::revoked: return "REVOKED";
    case trade_state::userpaying: return "USERPAYING";
    case trade_state::payerror: return "PAYERROR";
  }
  return "UNKNOWN";
}

std::optional<trade_state> trade_state_from(std::string_view text) {
  for (auto x : {trade_state::success, trade_state::refund, trade_state::notpay,
                 trade_state::closed, trade_state::revoked, trade_state::userpaying,
                 trade_state::payerror})
    if (to_string(x) == text)
      return x;
  return std::nullopt;
}

payengine::trade_state to_engine_state(trade_state x) {
  switch (x) {
    case trade_state::success:
    case trade_state::refund: return payengine::trade_state::succeeded;
    case trade_state::notpay:
    case trade_state::userpaying: return payengine::trade_state::waiting;
    case trade_state::closed:
    case trade_state::revoked:
    case trade_state::payerror: return payengine::trade_state::closed;
  }
  return payengine::trade_state::unknown;
}

result<transaction> read_transaction(std::string_view json_text) {
  auto object = parse_bounded(json_text, limits::response_bytes_max, "transaction");
  if (!object)
    return object.error();
  transaction t;
  auto err = first_error(
    {read_required(*object, "appid", t.appid), read_required(*object, "mchid", t.mchid),
     read_required(*object, "out_trade_no", t.out_trade_no), read_trade_state(*object, t.state),
     json_fields::read_strings(*object, {{"transaction_id", &t.transaction_id},
                                         {"trade_type", &t.trade_type},
                                         {"trade_state_desc", &t.trade_state_desc},
                                         {"success_time", &t.success_time}}),
     read_trade_amount(*object, t)});
  if (err)
    return *err;
  return t;
}

std::string write_transaction(const transaction& t) {
  json j{{"appid", t.appid},
         {"mchid", t.mchid},
         {"out_trade_no", t.out_trade_no},
         {"trade_state", to_string(t.state)},
         {"trade_state_desc", t.trade_state_desc},
         {"amount",
          {{"total", t.total},
           {"payer_total", t.payer_total},
           {"currency", t.currency},
           {"payer_currency", t.currency}}}};
  put_if(j, "transaction_id", t.transaction_id);
  put_if(j, "trade_type", t.trade_type);
  put_if(j, "success_time", t.success_time);
  return dump(j);
}

result<refund_resource> read_refund_resource(std::string_view json_text) {
  auto r = read_refund_json(json_text, "refund_status", true);
  if (r && r->refund_status == "PROCESSING") // notified only once it ended
    return channel_error{errc::bad_field, "a refund notification is never PROCESSING"};
  return r;
}

std::string write_refund_resource(const refund_resource& r) {
  auto j = refund_json(r, "refund_status");
  j["mchid"] = r.mchid;
  return dump(j);
}

result<refund_resource> read_refund_answer(std::string_view json_text) {
  return read_refund_json(json_text, "status", false);
}

std::string write_refund_answer(const refund_resource& r) {
  return dump(refund_json(r, "status"));
}

result<api_error> read_error(std::string_view json_text) {
  auto object = parse_bounded(json_text, limits::response_bytes_max, "error");
  if (!object)
    return object.error();
  api_error e;
  if (auto err = first_error({read_required(*object, "code", e.code),
                              json_fields::read_strings(*object, {{"message", &e.message}})}))
    return *err;
  return e;
}

std::string write_error(const api_error& e) {
  return dump(json{{"code", e.code}, {"message", e.message}});
}

// --- notifications -------------------------------------------------------------------------

result<notification> verify_notification(const header_list& headers, std::string_view body,
                                         const public_key& platform_key,
                                         std::string_view platform_serial,
                                         std::string_view apiv3_key,
                                         std::string_view expected_mchid, int64_t now_s) {
  if (body.size() > limits::wechat_notification_bytes_max)
    return too_large("notification");
  // Nothing of the body is read before its signature verifies.
  if (auto s = verify_response(headers, body, platform_key, platform_serial, now_s); !s)
    return s.error();
  auto e = read_envelope(body);
  if (!e)
    return e.error();
  if (e->resource_type != resource_type || e->algorithm != algorithm)
    return channel_error{errc::bad_field, "resource is not AEAD_AES_256_GCM encrypted"};
  auto plain = aes_gcm_decrypt(apiv3_key, e->nonce, e->associated_data, e->ciphertext);
  if (!plain)
    return plain.error();
  notification n = std::move(e->head);
  if (auto err = read_resource(*plain, n))
    return *err;
  const auto& mchid = n.trade ? n.trade->mchid : n.refund->mchid;
  if (mchid != expected_mchid)
    return channel_error{errc::app_id_mismatch, "notification for mchid " + mchid.substr(0, 32)};
  return n;
}

result<std::string> make_notification(const notification& n, std::string_view apiv3_key,
                                      std::string_view nonce) {
  if (n.trade.has_value() == n.refund.has_value())
    return channel_error{errc::bad_field, "a notification carries a trade or a refund"};
  const std::string original_type =
    !n.original_type.empty() ? n.original_type : n.trade ? "transaction" : "refund";
  const auto plain = n.trade ? write_transaction(*n.trade) : write_refund_resource(*n.refund);
  // WeChat binds the resource to its type with the associated data.
  auto sealed = aes_gcm_encrypt(apiv3_key, nonce, original_type, plain);
  if (!sealed)
    return sealed.error();
  json body{{"id", n.id},
            {"create_time", n.create_time},
            {"resource_type", resource_type},
            {"event_type", n.event_type},
            {"summary", n.summary},
            {"resource",
             {{"original_type", original_type},
              {"algorithm", algorithm},
              {"ciphertext", std::move(sealed).value()},
              {"associated_data", original_type},
              {"nonce", nonce}}}};
  return dump(body);
}

// --- RFC 3339 ---------------------------------------------------------------------------------

std::optional<int64_t> parse_rfc3339_us(std::string_view text) {
  // "YYYY-MM-DDTHH:MM:SS" then a fraction and an offset.
  if (text.size() < 20 || text.size() > 40 || text[4] != '-' || text[7] != '-'
      || (text[10] != 'T' && text[10] != 't') || text[13] != ':' || text[16] != ':')
    return std::nullopt;
  const auto y = digits_at(text, 0, 4), mo = digits_at(text, 5, 2), d = digits_at(text, 8, 2);
  const auto h = digits_at(text, 11, 2), mi = digits_at(text, 14, 2), s = digits_at(text, 17, 2);
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, static_cast<int>(mo)) || h < 0
      || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 59)
    return std::nullopt;
  std::size_t pos = 19;
  const auto fraction_us = read_fraction(text, pos);
  if (!fraction_us)
    return std::nullopt;
  const auto offset_s = read_offset(text, pos);
  if (!offset_s)
    return std::nullopt;
  const int64_t seconds = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - *offset_s;
  return seconds * 1'000'000 + *fraction_us;
}

std::string format_rfc3339(int64_t epoch_us) {
  constexpr int64_t beijing_offset_s = 8 * 3600;
  // Floor division: a time before the epoch still lands in the right second.
  int64_t seconds = epoch_us / 1'000'000;
  if (epoch_us % 1'000'000 < 0)
    --seconds;
  seconds += beijing_offset_s;
  int64_t days = seconds / 86400;
  int64_t in_day = seconds % 86400;
  if (in_day < 0) {
    in_day += 86400;
    --days;
  }
  const auto date = civil_from_days(days);
  char text[64];
  std::snprintf(text, sizeof text, "%04lld-%02d-%02dT%02lld:%02lld:%02lld+08:00",
                static_cast<long long>(date.year), date.month, date.day,
                static_cast<long long>(in_day / 3600), static_cast<long long>(in_day / 60 % 60),
                static_cast<long long>(in_day % 60));
  return text;
}

} // namespace payengine::channels::wechat
