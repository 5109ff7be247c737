#include "channels/alipay_notification.hpp"

#include "channels/alipay_request.hpp"
#include "channels/alipay_sign.hpp"
#include "channels/money_text.hpp"

namespace payengine::channels::alipay {
namespace {

std::optional<std::string> field(const params& fields, std::string_view name) {
  const auto it = fields.find(name);
  if (it == fields.end()) return std::nullopt;
  return it->second;
}

std::optional<channel_error> read_required(const params& fields, const char* name, std::string& out) {
  auto value = field(fields, name);
  if (!value || value->empty()) return channel_error{errc::missing_field, name};
  out = std::move(*value);
  return std::nullopt;
}

std::optional<channel_error> read_amount(const params& fields, const char* name, std::optional<std::int64_t>& out) {
  const auto text = field(fields, name);
  if (!text) return std::nullopt;
  out = decimal_to_minor(*text, amount_exponent);
  if (!out) return channel_error{errc::bad_amount, std::string(name) + " is not an amount: " + *text};
  return std::nullopt;
}

std::optional<channel_error> read_status(const params& fields, trade_status& out) {
  std::string text;
  if (auto err = read_required(fields, "trade_status", text)) return err;
  const auto status = parse_trade_status(text);
  if (!status) return channel_error{errc::bad_field, "unknown trade_status " + text};
  out = *status;
  return std::nullopt;
}

std::optional<channel_error> read_fields(const params& fields, notification& n) {
  std::optional<std::int64_t> total;
  auto err = first_error({read_required(fields, "notify_id", n.notify_id),
                          read_required(fields, "notify_time", n.notify_time),
                          read_required(fields, "notify_type", n.notify_type),
                          read_required(fields, "app_id", n.app_id),
                          read_required(fields, "out_trade_no", n.out_trade_no),
                          read_required(fields, "trade_no", n.trade_no), read_status(fields, n.status),
                          read_amount(fields, "total_amount", total),
                          read_amount(fields, "receipt_amount", n.receipt_amount),
                          read_amount(fields, "refund_fee", n.refund_fee)});
  if (err) return err;
  if (!total) return channel_error{errc::missing_field, "total_amount"};
  n.total_amount = *total;
  for (auto [name, out] : {std::pair{"out_biz_no", &n.out_biz_no}, std::pair{"gmt_create", &n.gmt_create},
                           std::pair{"gmt_payment", &n.gmt_payment}, std::pair{"gmt_close", &n.gmt_close},
                           std::pair{"gmt_refund", &n.gmt_refund}, std::pair{"buyer_id", &n.buyer_id},
                           std::pair{"buyer_logon_id", &n.buyer_logon_id}, std::pair{"subject", &n.subject}}) {
    *out = field(fields, name);
  }
  return std::nullopt;
}

void put_optional(params& fields, const char* name, const std::optional<std::string>& value) {
  if (value && !value->empty()) fields.emplace(name, *value);
}

std::optional<channel_error> put_amount(params& fields, const char* name, std::optional<std::int64_t> minor) {
  if (!minor) return std::nullopt;
  const auto text = minor_to_decimal(*minor, amount_exponent);
  if (!text) return channel_error{errc::bad_amount, std::string(name) + " is negative"};
  fields.emplace(name, *text);
  return std::nullopt;
}

result<params> notification_fields(const notification& n) {
  params fields{{"notify_id", n.notify_id},       {"notify_time", n.notify_time},
                {"notify_type", n.notify_type},   {"app_id", n.app_id},
                {"charset", "utf-8"},             {"version", "1.0"},
                {"out_trade_no", n.out_trade_no}, {"trade_no", n.trade_no},
                {"trade_status", std::string(to_string(n.status))}};
  for (auto [name, minor] : {std::pair{"total_amount", std::optional<std::int64_t>{n.total_amount}},
                             std::pair{"receipt_amount", n.receipt_amount}, std::pair{"refund_fee", n.refund_fee}}) {
    if (auto err = put_amount(fields, name, minor)) return *err;
  }
  for (auto [name, value] : {std::pair{"out_biz_no", &n.out_biz_no}, std::pair{"gmt_create", &n.gmt_create},
                             std::pair{"gmt_payment", &n.gmt_payment}, std::pair{"gmt_close", &n.gmt_close},
                             std::pair{"gmt_refund", &n.gmt_refund}, std::pair{"buyer_id", &n.buyer_id},
                             std::pair{"buyer_logon_id", &n.buyer_logon_id}, std::pair{"subject", &n.subject}}) {
    put_optional(fields, name, *value);
  }
  // Alipay sends no empty parameters; nor do we, so both verifier variants agree.
  for (auto it = fields.begin(); it != fields.end();) {
    it = it->second.empty() ? fields.erase(it) : std::next(it);
  }
  return fields;
}

}  // namespace

bool verify_notification_signature(const params& fields, const public_key& channel_key) {
  const auto sign = field(fields, "sign");
  if (!sign || sign->empty()) return false;
  const auto sign_type = field(fields, "sign_type");
  if (sign_type && *sign_type != sign_type_rsa2) return false;
  return channel_key.verify(canonical_string(fields, true, empty_values::keep), *sign) ||
         (sign_type && channel_key.verify(canonical_string(fields, false, empty_values::keep), *sign));
}

result<notification> verify_notification(std::string_view form_body, const public_key& channel_key,
                                         std::string_view expected_app_id) {
  const auto fields = form_decode(form_body);
  if (!fields) return fields.error();
  const auto sign = field(*fields, "sign");
  if (!sign || sign->empty()) return channel_error{errc::missing_signature, "notification has no sign"};
  const auto sign_type = field(*fields, "sign_type");
  if (sign_type && *sign_type != sign_type_rsa2) {
    return channel_error{errc::unsupported_sign_type, "sign_type must be RSA2"};
  }
  if (!verify_notification_signature(*fields, channel_key)) {
    return channel_error{errc::bad_signature, "notification signature does not verify"};
  }
  return read_notification(*fields, expected_app_id);
}

result<notification> read_notification(const params& fields, std::string_view expected_app_id) {
  notification n;
  if (auto err = read_fields(fields, n)) return *err;
  if (n.app_id != expected_app_id) return channel_error{errc::app_id_mismatch, "notification for app " + n.app_id};
  return n;
}

result<std::string> make_notification(const notification& n, const private_key& channel_key) {
  auto fields = notification_fields(n);
  if (!fields) return fields.error();
  auto sign = channel_key.sign(canonical_string(*fields, false));
  if (!sign) return sign.error();
  fields->emplace("sign_type", sign_type_rsa2);
  fields->emplace("sign", std::move(sign).value());
  return form_encode(*fields);
}

}  // namespace payengine::channels::alipay
