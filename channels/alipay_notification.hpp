#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "channels/alipay_codes.hpp"
#include "channels/form.hpp"
#include "channels/result.hpp"
#include "channels/rsa_key.hpp"

// Alipay's asynchronous notification (notify_type trade_status_sync): a
// form-encoded POST to the trade's notify_url, RSA2-signed by the channel.
namespace payengine::channels::alipay {

struct notification {
  std::string notify_id;
  std::string notify_time;  // "yyyy-MM-dd HH:mm:ss", Beijing time
  std::string notify_type;  // "trade_status_sync"
  std::string app_id;
  std::string out_trade_no;
  std::string trade_no;
  trade_status status = trade_status::wait_buyer_pay;
  std::int64_t total_amount = 0;               // minor units
  std::optional<std::int64_t> receipt_amount;  // minor units the merchant received
  std::optional<std::int64_t> refund_fee;      // minor units refunded so far, on refund notifications
  std::optional<std::string> out_biz_no;       // the refund's out_request_no, on refund notifications
  std::optional<std::string> gmt_create;
  std::optional<std::string> gmt_payment;
  std::optional<std::string> gmt_close;
  std::optional<std::string> gmt_refund;
  std::optional<std::string> buyer_id;
  std::optional<std::string> buyer_logon_id;
  std::optional<std::string> subject;
};

// The signature check alone, as Alipay's SDK does it (checkNotifySignV2):
// every parameter but `sign`, first with `sign_type` kept, then without.
// A `sign_type` other than RSA2 never verifies.
[[nodiscard]] bool verify_notification_signature(const params& fields, const public_key& channel_key);

// Decodes, verifies and reads a notification body. Refused with a typed
// error: malformed form, no or bad signature, another app's notification,
// missing fields, an unknown trade_status, an amount that is not a decimal.
[[nodiscard]] result<notification> verify_notification(std::string_view form_body, const public_key& channel_key,
                                                       std::string_view expected_app_id);

// The reading step of verify_notification, after the signature check:
// the typed notification of `fields` (already verified), for that app.
[[nodiscard]] result<notification> read_notification(const params& fields, std::string_view expected_app_id);

// The simulator's side: the signed form body for `n`. Like Alipay it sends
// sign_type=RSA2 but signs without it, and sends no empty parameters.
[[nodiscard]] result<std::string> make_notification(const notification& n, const private_key& channel_key);

}  // namespace payengine::channels::alipay
