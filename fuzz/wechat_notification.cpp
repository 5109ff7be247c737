// WeChat Pay v3 notifications and answers (channels/wechat.hpp):
// verify_notification on the raw body with headers derived from the input
// (as the callback route calls it; nothing may verify), then the reading
// step behind the signature (read_notification), the resource readers
// (read_transaction, read_refund_resource, read_refund_answer, read_error)
// on the raw input, the input encrypted as a notification's resource
// (which must read exactly when the resource reader accepts it), and the
// Authorization and RFC 3339 parsers.
#include "channels/limits.hpp"
#include "channels/wechat.hpp"
#include "fuzz/fuzz_check.hpp"
#include "tests/channels/test_keys.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

using namespace payengine;
using namespace payengine::channels;
using namespace payengine::channels::wechat;

namespace {

// The same as the seed corpus (fuzz/corpus/wechat_notification/) was made with.
constexpr std::string_view mchid = "1900000001";
constexpr std::string_view platform_serial = "7132D72A03E93CDDF8C03BBD1F37EEDF0BD0ED2";
constexpr std::string_view apiv3_key = "0123456789abcdef0123456789abcdef";
constexpr std::string_view nonce = "fuzz-nonce12";
constexpr int64_t now = 1'714'564'800;

/// The four Wechatpay-* headers, with a nonce and a signature made of input bytes.
header_list derived_headers(std::string_view body, bool probe) {
  auto signature = base64_encode(body.substr(0, 256));
  if (probe)
    signature = std::string(probe_signature_prefix) + signature;
  return {{"Wechatpay-Timestamp", std::to_string(now)},
          {"Wechatpay-Nonce", std::string(body.substr(0, 32))},
          {"Wechatpay-Signature", signature},
          {"Wechatpay-Serial", std::string(platform_serial)}};
}

/// Nothing verifies without the platform's private key, which the input never sees.
void check_unverified(std::string_view body) {
  const auto& platform_key = test::channel_public();
  for (bool probe : {false, true}) {
    auto n = verify_notification(derived_headers(body, probe), body, platform_key,
                                 platform_serial, apiv3_key, mchid, now);
    FUZZ_CHECK(!n);
    FUZZ_CHECK(n.error().code == errc::bad_signature || n.error().code == errc::missing_signature
               || n.error().code == errc::too_large);
  }
}

bool same(const transaction& a, const transaction& b) {
  return a.appid == b.appid && a.mchid == b.mchid && a.out_trade_no == b.out_trade_no
         && a.transaction_id == b.transaction_id && a.trade_type == b.trade_type
         && a.state == b.state && a.trade_state_desc == b.trade_state_desc
         && a.success_time == b.success_time && a.total == b.total
         && a.payer_total == b.payer_total && a.currency == b.currency;
}

bool same(const refund_resource& a, const refund_resource& b) {
  return a.mchid == b.mchid && a.out_trade_no == b.out_trade_no
         && a.transaction_id == b.transaction_id && a.out_refund_no == b.out_refund_no
         && a.refund_id == b.refund_id && a.refund_status == b.refund_status
         && a.success_time == b.success_time && a.total == b.total && a.refund == b.refund;
}

/// A read transaction has its required members, non-negative amounts, and
/// writing it reads back the same.
void check_transaction(const result<transaction>& t) {
  if (!t)
    return;
  FUZZ_CHECK(!t->appid.empty() && !t->mchid.empty() && !t->out_trade_no.empty());
  FUZZ_CHECK(t->total >= 0 && t->payer_total >= 0);
  FUZZ_CHECK(trade_state_from(to_string(t->state)) == t->state);
  auto again = read_transaction(write_transaction(*t));
  FUZZ_CHECK(again && same(*t, *again));
}

void check_refund_resource(const result<refund_resource>& r) {
  if (!r)
    return;
  FUZZ_CHECK(!r->mchid.empty() && !r->out_refund_no.empty() && !r->refund_id.empty());
  FUZZ_CHECK(r->refund_status == "SUCCESS" || r->refund_status == "CLOSED"
             || r->refund_status == "ABNORMAL");
  FUZZ_CHECK(r->total >= 0 && r->refund >= 0);
  auto again = read_refund_resource(write_refund_resource(*r));
  FUZZ_CHECK(again && same(*r, *again));
}

void check_refund_answer(std::string_view text) {
  auto r = read_refund_answer(text);
  if (!r)
    return;
  FUZZ_CHECK(r->mchid.empty() && !r->out_trade_no.empty());
  FUZZ_CHECK(r->total >= 0 && r->refund >= 0);
  auto again = read_refund_answer(write_refund_answer(*r));
  FUZZ_CHECK(again && same(*r, *again));
}

void check_error(std::string_view text) {
  auto e = read_error(text);
  if (!e)
    return;
  FUZZ_CHECK(!e->code.empty());
  auto again = read_error(write_error(*e));
  FUZZ_CHECK(again && again->code == e->code && again->message == e->message);
}

/// The reading step behind the signature, on the raw body.
void check_read_notification(std::string_view body) {
  auto n = read_notification(body, apiv3_key, mchid);
  if (!n)
    return;
  FUZZ_CHECK(!n->id.empty() && !n->create_time.empty() && !n->event_type.empty());
  FUZZ_CHECK(n->trade.has_value() != n->refund.has_value());
  FUZZ_CHECK(n->trade ? n->trade->mchid == mchid : n->refund->mchid == mchid);
  FUZZ_CHECK(n->event_type.rfind(n->trade ? "TRANSACTION." : "REFUND.", 0) == 0);
}

/// The input as the encrypted resource of a notification: it reads exactly
/// when the resource reader took the input (`direct`, its reading of the
/// plaintext) and it is for our merchant.
template <class Resource>
void check_as_resource(std::string_view plaintext, const result<Resource>& direct) {
  constexpr bool refund = std::is_same_v<Resource, refund_resource>;
  const std::string type = refund ? "refund" : "transaction";
  auto sealed = aes_gcm_encrypt(apiv3_key, nonce, type, plaintext);
  if (!sealed)
    return; // over the notification bound
  nlohmann::json envelope{{"id", "EV-1"},
                          {"create_time", "2024-05-01T20:00:00+08:00"},
                          {"resource_type", "encrypt-resource"},
                          {"event_type", refund ? "REFUND.SUCCESS" : "TRANSACTION.SUCCESS"},
                          {"summary", "fuzz"},
                          {"resource",
                           {{"original_type", type},
                            {"algorithm", "AEAD_AES_256_GCM"},
                            {"ciphertext", *sealed},
                            {"associated_data", type},
                            {"nonce", nonce}}}};
  const auto body = envelope.dump();
  if (body.size() > limits::wechat_notification_bytes_max)
    return;
  auto n = read_notification(body, apiv3_key, mchid);
  const bool readable = bool(direct);
  FUZZ_CHECK(bool(n) == (readable && direct->mchid == mchid));
  if (n) {
    FUZZ_CHECK(refund ? n->refund.has_value() : n->trade.has_value());
  } else if (readable) {
    FUZZ_CHECK(n.error().code == errc::app_id_mismatch);
  }
}

void check_authorization(std::string_view text) {
  auto a = parse_authorization(text);
  if (!a)
    return;
  for (const auto* s : {&a->mchid, &a->nonce_str, &a->signature, &a->serial_no})
    FUZZ_CHECK(!s->empty() && s->find('"') == std::string::npos && s->find(',') == std::string::npos);
  FUZZ_CHECK(a->timestamp >= 0);
}

/// A time read back from its Beijing-time text is the same second.
void check_time(std::string_view text) {
  auto us = parse_rfc3339_us(text);
  if (!us)
    return;
  constexpr int64_t last_us = int64_t{253'402'271'999} * 1'000'000; // 9999-12-31T23:59:59+08:00
  if (*us < 0 || *us > last_us)
    return;
  FUZZ_CHECK(parse_rfc3339_us(format_rfc3339(*us)) == *us - *us % 1'000'000);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Built once: an RSA key pair takes a while (tests/channels/test_keys.hpp).
  static const public_key& platform_key = test::channel_public();
  (void)platform_key;
  std::string_view body(reinterpret_cast<const char*>(data), size);

  check_unverified(body);
  check_read_notification(body);
  // Each reader once; its reading is checked and then compared with what
  // the same text reads as inside an encrypted notification.
  const auto trade = read_transaction(body);
  const auto refund = read_refund_resource(body);
  check_transaction(trade);
  check_refund_resource(refund);
  check_refund_answer(body);
  check_error(body);
  check_as_resource(body, trade);
  check_as_resource(body, refund);
  check_authorization(body);
  check_time(body);
  return 0;
}
