#pragma once
// WeChat Pay API v3, everything the engine's gateway, its callback route and
// the simulator share (plain code: no CAF, no I/O, no clock of its own; the
// caller passes the time):
//   - the merchant's request signature (Authorization:
//     WECHATPAY2-SHA256-RSA2048 over "METHOD\nURL\ntimestamp\nnonce\nbody\n");
//   - the platform's answer and notification signature (Wechatpay-Signature
//     over "timestamp\nnonce\nbody\n"), a +-300 s clock window, probe
//     signatures ("WECHATPAY/SIGNTEST/...") refused;
//   - the notification resource, AEAD_AES_256_GCM with the APIv3 key;
//   - the JSON of the four calls (native prepay, query by out-trade-no,
//     close, domestic refund) and of their answers; amounts are integer fen.
// See https://pay.weixin.qq.com/docs/merchant/development/interface-rules/

#include "channels/channel_protocol.hpp"
#include "channels/result.hpp"
#include "channels/rsa_key.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace payengine::channels::wechat {

/// The signature scheme's name, first word of the Authorization header.
inline constexpr std::string_view auth_scheme = "WECHATPAY2-SHA256-RSA2048";
/// How far a signed timestamp may be from now, either way.
inline constexpr int64_t clock_window_s = 300;
/// Signatures WeChat sends to probe that a merchant really verifies.
inline constexpr std::string_view probe_signature_prefix = "WECHATPAY/SIGNTEST/";

// --- the merchant's request signature ------------------------------------------

/// "METHOD\nURL\ntimestamp\nnonce\nbody\n"; `url` is the path with its query
/// ("/v3/pay/transactions/out-trade-no/x?mchid=1900000001"); GET has body "".
std::string request_message(std::string_view method, std::string_view url,
                            int64_t timestamp_s, std::string_view nonce, std::string_view body);

/// The fields of an Authorization header.
struct authorization {
  std::string mchid;
  std::string nonce_str;
  std::string signature; // base64
  int64_t timestamp = 0; // seconds since the epoch
  std::string serial_no; // the merchant certificate's serial
};

/// The header's value: `WECHATPAY2-SHA256-RSA2048 mchid="...",nonce_str="...",
/// signature="...",timestamp="...",serial_no="..."`, signed with `key`.
result<std::string> sign_request(const private_key& key, std::string_view mchid,
                                 std::string_view serial_no, std::string_view method,
                                 std::string_view url, std::string_view body,
                                 int64_t timestamp_s, std::string_view nonce);

/// Reads an Authorization header (any order of the five fields, each once,
/// quoted). Refused: another scheme, a missing or repeated field, a bad timestamp.
result<authorization> parse_authorization(std::string_view header);

/// The simulator's check of an engine request: the header parses, names
/// `mchid` and `serial_no`, its timestamp is within the window of `now_s`,
/// and the signature verifies with the merchant's public key.
result<authorization> verify_request(std::string_view header, const public_key& merchant_key,
                                     std::string_view expected_mchid,
                                     std::string_view expected_serial, std::string_view method,
                                     std::string_view url, std::string_view body, int64_t now_s);

// --- the platform's signature on answers and notifications ----------------------

/// "timestamp\nnonce\nbody\n".
std::string response_message(int64_t timestamp_s, std::string_view nonce, std::string_view body);

/// The four headers WeChat signs its answers and notifications with.
struct platform_signature {
  int64_t timestamp = 0;  // Wechatpay-Timestamp
  std::string nonce;      // Wechatpay-Nonce
  std::string signature;  // Wechatpay-Signature (base64)
  std::string serial;     // Wechatpay-Serial
};

/// The simulator's side: the four headers for `body`, signed with the
/// platform's key (as a header_list: Wechatpay-Timestamp, -Nonce,
/// -Signature, -Serial).
result<header_list> sign_response(const private_key& platform_key, std::string_view serial,
                                  std::string_view body, int64_t timestamp_s,
                                  std::string_view nonce);

/// Checks the platform's signature on an answer or notification: all four
/// headers present, the serial is `expected_serial`, the timestamp within
/// the window of `now_s`, not a probe signature, and it verifies.
result<platform_signature> verify_response(const header_list& headers, std::string_view body,
                                           const public_key& platform_key,
                                           std::string_view expected_serial, int64_t now_s);

// --- AEAD_AES_256_GCM ------------------------------------------------------------

/// Decrypts a notification resource: `ciphertext_b64` is base64 of the
/// ciphertext followed by the 16-byte tag. `apiv3_key` must be 32 bytes.
/// Refused (crypto_failure) when the tag does not verify.
result<std::string> aes_gcm_decrypt(std::string_view apiv3_key, std::string_view nonce,
                                    std::string_view associated_data,
                                    std::string_view ciphertext_b64);

/// The simulator's side: base64 of ciphertext + tag.
result<std::string> aes_gcm_encrypt(std::string_view apiv3_key, std::string_view nonce,
                                    std::string_view associated_data, std::string_view plaintext);

// --- trades ------------------------------------------------------------------------

/// WeChat's trade_state.
enum class trade_state : uint8_t { success, refund, notpay, closed, revoked, userpaying, payerror };

std::string_view to_string(trade_state x);
std::optional<trade_state> trade_state_from(std::string_view text);

/// The engine's view of a WeChat trade state: SUCCESS and REFUND were paid;
/// NOTPAY and USERPAYING wait; CLOSED, REVOKED and PAYERROR can no longer be paid.
payengine::trade_state to_engine_state(trade_state x);

/// A transaction: the decrypted resource of a TRANSACTION.* notification,
/// and the answer to a query by out-trade-no.
struct transaction {
  std::string appid;
  std::string mchid;
  std::string out_trade_no;
  std::string transaction_id; // empty until paid
  std::string trade_type;     // "NATIVE"
  trade_state state = trade_state::notpay;
  std::string trade_state_desc;
  std::string success_time;   // RFC 3339, e.g. "2018-06-08T10:34:56+08:00"; empty until paid
  int64_t total = 0;          // fen
  int64_t payer_total = 0;    // fen the payer paid (0 until paid)
  std::string currency = "CNY";
};

/// Reads a transaction's JSON. Refused: not JSON, missing members, a bad
/// state, amounts that are not non-negative integers.
result<transaction> read_transaction(std::string_view json_text);
std::string write_transaction(const transaction& t);

/// The resource of a REFUND.* notification.
struct refund_resource {
  std::string mchid;
  std::string out_trade_no;
  std::string transaction_id;
  std::string out_refund_no;
  std::string refund_id;
  std::string refund_status; // SUCCESS, CLOSED, ABNORMAL
  std::string success_time;
  int64_t total = 0;  // fen
  int64_t refund = 0; // fen
};

result<refund_resource> read_refund_resource(std::string_view json_text);
std::string write_refund_resource(const refund_resource& r);

/// The answer to POST /v3/refund/domestic/refunds: the same members, but the
/// state is "status" (SUCCESS, PROCESSING, CLOSED, ABNORMAL; read into
/// refund_status) and there is no mchid (read as "").
result<refund_resource> read_refund_answer(std::string_view json_text);
std::string write_refund_answer(const refund_resource& r);

/// A refusal's body: {"code": "ORDER_NOT_EXIST", "message": "..."}.
struct api_error {
  std::string code;
  std::string message;
};

/// Refused: not JSON, or no non-empty "code".
result<api_error> read_error(std::string_view json_text);
std::string write_error(const api_error& e);

/// A notification as posted: `{"id", "create_time", "event_type",
/// "resource_type": "encrypt-resource", "summary", "resource": {"algorithm":
/// "AEAD_AES_256_GCM", "ciphertext", "associated_data", "original_type",
/// "nonce"}}`, with the resource decrypted.
struct notification {
  std::string id;
  std::string create_time;
  std::string event_type; // "TRANSACTION.SUCCESS", "REFUND.SUCCESS", ...
  std::string summary;
  std::string original_type; // "transaction" or "refund"
  std::optional<transaction> trade;     // for TRANSACTION.*
  std::optional<refund_resource> refund; // for REFUND.*
};

/// Verifies (verify_response), decrypts and reads a notification; the
/// trade or refund must be for `expected_mchid`. Refused with a typed error
/// (the engine answers 4xx/5xx with {"code": "FAIL"}); never throws.
result<notification> verify_notification(const header_list& headers, std::string_view body,
                                         const public_key& platform_key,
                                         std::string_view platform_serial,
                                         std::string_view apiv3_key,
                                         std::string_view expected_mchid, int64_t now_s);

/// The simulator's side: the JSON body of a notification for `n` (its trade
/// or refund encrypted with `apiv3_key` under `nonce`).
result<std::string> make_notification(const notification& n, std::string_view apiv3_key,
                                      std::string_view nonce);

/// RFC 3339 with an offset ("2018-06-08T10:34:56+08:00") <-> microseconds
/// since the epoch, UTC; nullopt / 0 when unreadable.
std::optional<int64_t> parse_rfc3339_us(std::string_view text);
/// Beijing time (+08:00), as WeChat writes it.
std::string format_rfc3339(int64_t epoch_us);

} // namespace payengine::channels::wechat
