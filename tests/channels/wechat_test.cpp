// WeChat Pay API v3 primitives (channels/wechat.hpp): the merchant's
// request signature, the platform's answer signature, AEAD_AES_256_GCM,
// the resources' JSON, notifications and RFC 3339 times.
#include "channels/wechat.hpp"

#include "channels/limits.hpp"
#include "tests/channels/test_keys.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>

namespace payengine::channels::wechat {
namespace {

using nlohmann::json;

constexpr std::string_view mchid = "1900000001";
constexpr std::string_view merchant_serial = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1";
constexpr std::string_view platform_serial = "7132D72A03E93CDDF8C03BBD1F37EEDF0BD0ED2";
constexpr std::string_view apiv3_key = "0123456789abcdef0123456789abcdef";
constexpr int64_t now = 1'714'564'800; // 2024-05-01T12:00:00Z
constexpr std::string_view query_url = "/v3/pay/transactions/out-trade-no/ord_1_1?mchid=1900000001";

std::string unhex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  return out;
}

std::string hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

std::string signed_header(std::string_view method, std::string_view url, std::string_view body,
                          int64_t ts = now, std::string_view nonce = "593BEC0C930BF1AFEB40B4A08C8FB242") {
  return sign_request(test::app_private(), mchid, merchant_serial, method, url, body, ts, nonce)
    .value();
}

result<authorization> verify(std::string_view header, std::string_view method, std::string_view url,
                             std::string_view body, int64_t at = now) {
  return verify_request(header, test::app_public(), mchid, merchant_serial, method, url, body, at);
}

// --- request signatures --------------------------------------------------------------------

TEST(channels_wechat, request_message_is_five_lines) {
  EXPECT_EQ(request_message("GET", query_url, 1554208460, "593BEC0C930BF1AFEB40B4A08C8FB242", ""),
            "GET\n/v3/pay/transactions/out-trade-no/ord_1_1?mchid=1900000001\n1554208460\n"
            "593BEC0C930BF1AFEB40B4A08C8FB242\n\n");
  EXPECT_EQ(response_message(1554208460, "n", "{}"), "1554208460\nn\n{}\n");
}

TEST(channels_wechat, request_signature_round_trips) {
  const std::string body = R"({"mchid":"1900000001","amount":{"total":100}})";
  const auto header = signed_header("POST", "/v3/pay/transactions/native", body);
  EXPECT_EQ(header.rfind("WECHATPAY2-SHA256-RSA2048 mchid=\"1900000001\",", 0), 0u) << header;
  const auto a = verify(header, "POST", "/v3/pay/transactions/native", body);
  ASSERT_TRUE(a) << a.error().detail;
  EXPECT_EQ(a->mchid, mchid);
  EXPECT_EQ(a->serial_no, merchant_serial);
  EXPECT_EQ(a->timestamp, now);
  EXPECT_EQ(a->nonce_str, "593BEC0C930BF1AFEB40B4A08C8FB242");
  EXPECT_TRUE(verify(signed_header("GET", query_url, ""), "GET", query_url, ""));
}

TEST(channels_wechat, a_changed_request_is_refused) {
  const std::string body = R"({"amount":{"total":100}})";
  const auto header = signed_header("POST", "/v3/pay/transactions/native", body);
  const auto code = [&](std::string_view method, std::string_view url, std::string_view b,
                        int64_t at = now) {
    auto r = verify(header, method, url, b, at);
    return r ? std::string("verified") : std::string(to_string(r.error().code));
  };
  EXPECT_EQ(code("POST", "/v3/pay/transactions/native", R"({"amount":{"total":1}})"), "bad_signature");
  EXPECT_EQ(code("GET", "/v3/pay/transactions/native", body), "bad_signature");
  EXPECT_EQ(code("POST", "/v3/pay/transactions/jsapi", body), "bad_signature");
  EXPECT_EQ(code("POST", "/v3/pay/transactions/native", body, now + 301), "bad_signature");
  EXPECT_EQ(code("POST", "/v3/pay/transactions/native", body, now - 301), "bad_signature");
  EXPECT_EQ(code("POST", "/v3/pay/transactions/native", body, now + 300), "verified");
  // Signed by another key, or naming another merchant or certificate.
  const auto other = sign_request(test::channel_private(), mchid, merchant_serial, "POST",
                                  "/v3/pay/transactions/native", body, now, "n").value();
  EXPECT_EQ(verify(other, "POST", "/v3/pay/transactions/native", body).error().code,
            errc::bad_signature);
  const auto other_mch = sign_request(test::app_private(), "1900000002", merchant_serial, "POST",
                                      "/", body, now, "n").value();
  EXPECT_EQ(verify(other_mch, "POST", "/", body).error().code, errc::app_id_mismatch);
  const auto other_serial = sign_request(test::app_private(), mchid, "AAAA", "POST", "/", body,
                                         now, "n").value();
  EXPECT_EQ(verify(other_serial, "POST", "/", body).error().code, errc::bad_signature);
  EXPECT_EQ(verify("", "POST", "/", body).error().code, errc::missing_signature);
}

TEST(channels_wechat, sign_request_refuses_what_would_break_the_header) {
  for (std::string_view bad : {"a\"b", "a,b", "a\r\nX: y", ""})
    EXPECT_FALSE(sign_request(test::app_private(), bad, merchant_serial, "GET", "/", "", now, "n"))
      << bad;
  EXPECT_FALSE(sign_request(test::app_private(), mchid, merchant_serial, "GET", "/", "", -1, "n"));
}

// --- Authorization parsing -------------------------------------------------------------------

std::string auth(std::string_view fields) {
  return "WECHATPAY2-SHA256-RSA2048 " + std::string(fields);
}

TEST(channels_wechat, authorization_fields_in_any_order_with_blanks) {
  const auto a = parse_authorization(auth(
    R"(serial_no="S1" , timestamp="1554208460",signature="c2ln", nonce_str="N1",mchid="M1")"));
  ASSERT_TRUE(a) << a.error().detail;
  EXPECT_EQ(a->mchid, "M1");
  EXPECT_EQ(a->nonce_str, "N1");
  EXPECT_EQ(a->signature, "c2ln");
  EXPECT_EQ(a->timestamp, 1554208460);
  EXPECT_EQ(a->serial_no, "S1");
}

TEST(channels_wechat, authorization_edge_cases_are_refused) {
  const std::string all = R"(mchid="M",nonce_str="N",signature="c2ln",timestamp="1",serial_no="S")";
  EXPECT_TRUE(parse_authorization(auth(all)));
  const auto refused = [](const std::string& header) {
    auto a = parse_authorization(header);
    return a ? std::string("accepted") : std::string(to_string(a.error().code));
  };
  EXPECT_EQ(refused("WECHATPAY2-SHA256-RSA4096 " + all), "unsupported_sign_type");
  EXPECT_EQ(refused("WECHATPAY2-SHA256-RSA2048" + all), "unsupported_sign_type");
  EXPECT_EQ(refused("Bearer x"), "unsupported_sign_type");
  EXPECT_EQ(refused(""), "unsupported_sign_type");
  EXPECT_EQ(refused(auth(R"(mchid="M",nonce_str="N",signature="c2ln",timestamp="1")")),
            "missing_signature");
  EXPECT_EQ(refused(auth(all + R"(,mchid="M2")")), "bad_field");        // repeated
  EXPECT_EQ(refused(auth(all + R"(,realm="x")")), "bad_field");         // unknown
  EXPECT_EQ(refused(auth(R"(mchid=M,nonce_str="N",signature="c2ln",timestamp="1",serial_no="S")")),
            "bad_field"); // unquoted
  EXPECT_EQ(refused(auth(R"(mchid="",nonce_str="N",signature="c2ln",timestamp="1",serial_no="S")")),
            "missing_field");
  for (std::string_view ts : {"-1", "1.5", "abc", "1234567890123456789", " 1"})
    EXPECT_EQ(refused(auth(R"(mchid="M",nonce_str="N",signature="c2ln",timestamp=")" + std::string(ts)
                           + R"(",serial_no="S")")),
              "bad_field")
      << ts;
  EXPECT_EQ(refused(auth(all + ",")), "bad_field"); // an empty item
  EXPECT_EQ(refused(auth(std::string(limits::wechat_header_bytes_max, 'x'))), "too_large");
}

// --- the platform's signature ------------------------------------------------------------------

header_list platform_headers(std::string_view body, int64_t ts = now,
                             std::string_view serial = platform_serial) {
  return sign_response(test::channel_private(), serial, body, ts, "n0nce").value();
}

result<platform_signature> check(const header_list& headers, std::string_view body,
                                 int64_t at = now) {
  return verify_response(headers, body, test::channel_public(), platform_serial, at);
}

TEST(channels_wechat, response_signature_round_trips_with_any_header_case) {
  const std::string body = R"({"code_url":"weixin://wxpay/bizpayurl?pr=abc"})";
  auto headers = platform_headers(body);
  ASSERT_EQ(headers.size(), 4u);
  EXPECT_EQ(headers[0].first, "Wechatpay-Timestamp");
  const auto s = check(headers, body);
  ASSERT_TRUE(s) << s.error().detail;
  EXPECT_EQ(s->timestamp, now);
  EXPECT_EQ(s->nonce, "n0nce");
  EXPECT_EQ(s->serial, platform_serial);
  for (auto& [name, value] : headers)
    for (auto& c : name)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  headers.insert(headers.begin(), {"Content-Type", "application/json"});
  EXPECT_TRUE(check(headers, body));
  EXPECT_TRUE(check(platform_headers(""), "")); // a 204 is signed too
}

TEST(channels_wechat, a_changed_answer_is_refused) {
  const std::string body = R"({"trade_state":"SUCCESS"})";
  const auto code = [&](const header_list& h, std::string_view b, int64_t at = now) {
    auto r = check(h, b, at);
    return r ? std::string("verified") : std::string(to_string(r.error().code));
  };
  const auto good = platform_headers(body);
  EXPECT_EQ(code(good, R"({"trade_state":"NOTPAY"})"), "bad_signature");
  EXPECT_EQ(code(good, body, now + 301), "bad_signature");
  EXPECT_EQ(code(good, body, now - 301), "bad_signature");
  EXPECT_EQ(code(good, body, now - 300), "verified");
  EXPECT_EQ(code(platform_headers(body, now, "OTHER"), body), "bad_signature");
  auto with = [&](std::string_view name, std::string value) {
    auto h = good;
    for (auto& [k, v] : h)
      if (k == name)
        v = std::move(value);
    return h;
  };
  EXPECT_EQ(code(with("Wechatpay-Timestamp", std::to_string(now + 1)), body), "bad_signature");
  EXPECT_EQ(code(with("Wechatpay-Timestamp", "soon"), body), "bad_signature");
  EXPECT_EQ(code(with("Wechatpay-Nonce", "other"), body), "bad_signature");
  EXPECT_EQ(code(with("Wechatpay-Signature", "WECHATPAY/SIGNTEST/" + good[2].second), body),
            "bad_signature");
  EXPECT_EQ(code(with("Wechatpay-Signature", ""), body), "missing_signature");
  EXPECT_EQ(code(header_list{good[0], good[1], good[2]}, body), "missing_signature");
  EXPECT_EQ(code({}, body), "missing_signature");
}

// --- AEAD_AES_256_GCM ----------------------------------------------------------------------------

TEST(channels_wechat, aes_gcm_matches_the_published_test_vector) {
  // Test case 16 of McGrew and Viega's GCM specification (256-bit key).
  const auto key = unhex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
  const auto iv = unhex("cafebabefacedbaddecaf888");
  const auto plain = unhex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
                           "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39");
  const auto aad = unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
  const std::string sealed = "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
                             "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
                             "76fc6ece0f4e1768cddf8853bb2d551b";
  const auto encrypted = aes_gcm_encrypt(key, iv, aad, plain);
  ASSERT_TRUE(encrypted) << encrypted.error().detail;
  EXPECT_EQ(hex(base64_decode(*encrypted).value()), sealed);
  const auto decrypted = aes_gcm_decrypt(key, iv, aad, *encrypted);
  ASSERT_TRUE(decrypted) << decrypted.error().detail;
  EXPECT_EQ(*decrypted, plain);
}

TEST(channels_wechat, aes_gcm_with_text_keys_and_nonces_as_wechat_uses_them) {
  // Computed independently (Python's cryptography AESGCM).
  const auto sealed = aes_gcm_encrypt(apiv3_key, "nonce-123456", "transaction", R"({"a":1})");
  ASSERT_TRUE(sealed);
  EXPECT_EQ(*sealed, "T17Yv8oirifceKG4MVjy3K/DZSgfW1k=");
  EXPECT_EQ(aes_gcm_decrypt(apiv3_key, "nonce-123456", "transaction", *sealed).value(),
            R"({"a":1})");
  const auto empty = aes_gcm_encrypt(apiv3_key, "nonce-123456", "", "");
  ASSERT_TRUE(empty);
  EXPECT_EQ(aes_gcm_decrypt(apiv3_key, "nonce-123456", "", *empty).value(), "");
  // OpenSSL takes other nonce lengths; WeChat's are 12.
  const auto long_nonce = aes_gcm_encrypt(apiv3_key, "a-sixteen-bytes!", "", "x");
  ASSERT_TRUE(long_nonce);
  EXPECT_EQ(aes_gcm_decrypt(apiv3_key, "a-sixteen-bytes!", "", *long_nonce).value(), "x");
}

TEST(channels_wechat, aes_gcm_refuses_tampering_and_bad_inputs) {
  const auto sealed = aes_gcm_encrypt(apiv3_key, "nonce-123456", "transaction", "hello world").value();
  const auto code = [](const result<std::string>& r) {
    return r ? std::string("decrypted") : std::string(to_string(r.error().code));
  };
  auto bytes = base64_decode(sealed).value();
  auto flip = [&](std::size_t i) {
    auto b = bytes;
    b[i] = static_cast<char>(b[i] ^ 1);
    return base64_encode(b);
  };
  EXPECT_EQ(code(aes_gcm_decrypt(apiv3_key, "nonce-123456", "transaction", flip(0))), "crypto_failure");
  EXPECT_EQ(code(aes_gcm_decrypt(apiv3_key, "nonce-123456", "transaction", flip(bytes.size() - 1))),
            "crypto_failure"); // the tag
  EXPECT_EQ(code(aes_gcm_decrypt(apiv3_key, "nonce-123457", "transaction", sealed)), "crypto_failure");
  EXPECT_EQ(code(aes_gcm_decrypt(apiv3_key, "nonce-123456", "refund", sealed)), "crypto_failure");
  EXPECT_EQ(code(aes_gcm_decrypt("0123456789abcdef0123456789abcdeX", "nonce-123456", "transaction",
                                 sealed)),
            "crypto_failure");
  EXPECT_EQ(code(aes_gcm_decrypt(apiv3_key, "nonce-123456", "transaction",
                                 base64_encode(bytes.substr(0, 15)))),
            "crypto_failure"); // shorter than a tag
  EXPECT_EQ(code(aes_gcm_decrypt("short", "nonce-123456", "transaction", sealed)), "bad_field");
  EXPECT_EQ(code(aes_gcm_decrypt(apiv3_key, "nonce-123456", "transaction", "not base64!")),
            "bad_field");
  EXPECT_EQ(code(aes_gcm_decrypt(apiv3_key, "", "transaction", sealed)), "missing_field");
  EXPECT_EQ(code(aes_gcm_encrypt(std::string(33, 'k'), "nonce-123456", "", "x")), "bad_field");
}

// --- resources -------------------------------------------------------------------------------------

transaction paid_trade() {
  transaction t;
  t.appid = "wxd678efh567hg6787";
  t.mchid = std::string(mchid);
  t.out_trade_no = "ord_1_1";
  t.transaction_id = "4200000000202405010000000001";
  t.trade_type = "NATIVE";
  t.state = trade_state::success;
  t.trade_state_desc = "支付成功";
  t.success_time = "2024-05-01T20:00:05+08:00";
  t.total = 8888;
  t.payer_total = 8800;
  return t;
}

TEST(channels_wechat, transactions_round_trip) {
  const auto text = write_transaction(paid_trade());
  const auto j = json::parse(text);
  EXPECT_EQ(j["trade_state"], "SUCCESS");
  EXPECT_EQ(j["amount"]["total"], 8888);
  EXPECT_EQ(j["amount"]["payer_total"], 8800);
  EXPECT_EQ(j["amount"]["currency"], "CNY");
  const auto t = read_transaction(text);
  ASSERT_TRUE(t) << t.error().detail;
  EXPECT_EQ(t->appid, "wxd678efh567hg6787");
  EXPECT_EQ(t->transaction_id, "4200000000202405010000000001");
  EXPECT_EQ(t->state, trade_state::success);
  EXPECT_EQ(t->trade_state_desc, "支付成功");
  EXPECT_EQ(t->success_time, "2024-05-01T20:00:05+08:00");
  EXPECT_EQ(t->total, 8888);
  EXPECT_EQ(t->payer_total, 8800);
  // Unpaid: WeChat leaves out what is not known yet.
  const auto unpaid = read_transaction(
    R"({"appid":"wx1","mchid":"1900000001","out_trade_no":"o","trade_state":"NOTPAY","amount":{"total":5}})");
  ASSERT_TRUE(unpaid) << unpaid.error().detail;
  EXPECT_EQ(unpaid->payer_total, 0);
  EXPECT_EQ(unpaid->transaction_id, "");
  EXPECT_EQ(to_engine_state(unpaid->state), payengine::trade_state::waiting);
}

TEST(channels_wechat, bad_transactions_are_refused) {
  const auto base = json::parse(write_transaction(paid_trade()));
  const auto code = [](const json& j) {
    auto t = read_transaction(j.dump());
    return t ? std::string("read") : std::string(to_string(t.error().code));
  };
  auto j = base;
  j["amount"]["total"] = -1;
  EXPECT_EQ(code(j), "bad_amount");
  j["amount"]["total"] = 1.5;
  EXPECT_EQ(code(j), "bad_amount");
  j["amount"]["total"] = "100";
  EXPECT_EQ(code(j), "bad_amount");
  j["amount"]["total"] = 18446744073709551615ull;
  EXPECT_EQ(code(j), "bad_amount");
  j = base;
  j["amount"].erase("total");
  EXPECT_EQ(code(j), "missing_field");
  j = base;
  j.erase("amount");
  EXPECT_EQ(code(j), "missing_field");
  j = base;
  j["trade_state"] = "PAID";
  EXPECT_EQ(code(j), "bad_field");
  j = base;
  j.erase("out_trade_no");
  EXPECT_EQ(code(j), "missing_field");
  j = base;
  j["mchid"] = 1900000001;
  EXPECT_EQ(code(j), "bad_field");
  EXPECT_EQ(to_string(read_transaction("[1]").error().code), "malformed_json");
  EXPECT_EQ(to_string(read_transaction("{").error().code), "malformed_json");
}

TEST(channels_wechat, trade_states_map_onto_the_engine) {
  using engine = payengine::trade_state;
  EXPECT_EQ(to_engine_state(trade_state::success), engine::succeeded);
  EXPECT_EQ(to_engine_state(trade_state::refund), engine::succeeded);
  EXPECT_EQ(to_engine_state(trade_state::notpay), engine::waiting);
  EXPECT_EQ(to_engine_state(trade_state::userpaying), engine::waiting);
  EXPECT_EQ(to_engine_state(trade_state::closed), engine::closed);
  EXPECT_EQ(to_engine_state(trade_state::revoked), engine::closed);
  EXPECT_EQ(to_engine_state(trade_state::payerror), engine::closed);
  for (auto x : {trade_state::success, trade_state::refund, trade_state::notpay, trade_state::closed,
                 trade_state::revoked, trade_state::userpaying, trade_state::payerror})
    EXPECT_EQ(trade_state_from(to_string(x)), x);
  EXPECT_FALSE(trade_state_from("success"));
}

refund_resource a_refund() {
  refund_resource r;
  r.mchid = std::string(mchid);
  r.out_trade_no = "ord_1_1";
  r.transaction_id = "4200000000202405010000000001";
  r.out_refund_no = "rfd_1";
  r.refund_id = "50000000382019052709732678859";
  r.refund_status = "SUCCESS";
  r.success_time = "2024-05-02T10:00:00+08:00";
  r.total = 8888;
  r.refund = 1000;
  return r;
}

TEST(channels_wechat, refunds_round_trip) {
  const auto r = read_refund_resource(write_refund_resource(a_refund()));
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->mchid, mchid);
  EXPECT_EQ(r->refund_id, "50000000382019052709732678859");
  EXPECT_EQ(r->refund_status, "SUCCESS");
  EXPECT_EQ(r->total, 8888);
  EXPECT_EQ(r->refund, 1000);
  auto processing = a_refund();
  processing.refund_status = "PROCESSING";
  const auto answer_text = write_refund_answer(processing);
  EXPECT_EQ(json::parse(answer_text)["status"], "PROCESSING");
  EXPECT_FALSE(json::parse(answer_text).contains("mchid"));
  const auto answer = read_refund_answer(answer_text);
  ASSERT_TRUE(answer) << answer.error().detail;
  EXPECT_EQ(answer->refund_status, "PROCESSING");
  EXPECT_FALSE(read_refund_resource(write_refund_resource(processing))); // never notified
  auto odd = a_refund();
  odd.refund_status = "DONE";
  EXPECT_FALSE(read_refund_answer(write_refund_answer(odd)));
}

TEST(channels_wechat, errors_round_trip) {
  const auto e = read_error(write_error({"ORDER_NOT_EXIST", "订单不存在"}));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, "ORDER_NOT_EXIST");
  EXPECT_EQ(e->message, "订单不存在");
  EXPECT_FALSE(read_error(R"({"message":"x"})"));
  EXPECT_FALSE(read_error("<html>"));
}

TEST(channels_wechat, invalid_utf8_is_written_without_throwing) {
  auto t = paid_trade();
  t.trade_state_desc = "\xff\xfe";
  EXPECT_TRUE(read_transaction(write_transaction(t)));
}

// --- notifications ------------------------------------------------------------------------------------

notification paid_notification() {
  notification n;
  n.id = "EV-2018022511223320873";
  n.create_time = "2024-05-01T20:00:06+08:00";
  n.event_type = "TRANSACTION.SUCCESS";
  n.summary = "支付成功";
  n.trade = paid_trade();
  return n;
}

result<notification> receive(const header_list& headers, std::string_view body,
                             std::string_view expected_mchid = mchid) {
  return verify_notification(headers, body, test::channel_public(), platform_serial, apiv3_key,
                             expected_mchid, now);
}

TEST(channels_wechat, notifications_round_trip) {
  const auto body = make_notification(paid_notification(), apiv3_key, "fdasflkja484");
  ASSERT_TRUE(body) << body.error().detail;
  const auto j = json::parse(*body);
  EXPECT_EQ(j["resource_type"], "encrypt-resource");
  EXPECT_EQ(j["resource"]["algorithm"], "AEAD_AES_256_GCM");
  EXPECT_EQ(j["resource"]["original_type"], "transaction");
  EXPECT_EQ(j["resource"]["nonce"], "fdasflkja484");
  EXPECT_EQ(body->find("4200000000202405010000000001"), std::string::npos); // encrypted
  const auto n = receive(platform_headers(*body), *body);
  ASSERT_TRUE(n) << n.error().detail;
  EXPECT_EQ(n->id, "EV-2018022511223320873");
  EXPECT_EQ(n->event_type, "TRANSACTION.SUCCESS");
  EXPECT_EQ(n->original_type, "transaction");
  ASSERT_TRUE(n->trade);
  EXPECT_FALSE(n->refund);
  EXPECT_EQ(n->trade->transaction_id, "4200000000202405010000000001");
  EXPECT_EQ(n->trade->payer_total, 8800);

  notification refunded;
  refunded.id = "EV-2";
  refunded.create_time = "2024-05-02T10:00:01+08:00";
  refunded.event_type = "REFUND.SUCCESS";
  refunded.summary = "退款成功";
  refunded.refund = a_refund();
  const auto refund_body = make_notification(refunded, apiv3_key, "fdasflkja485").value();
  const auto r = receive(platform_headers(refund_body), refund_body);
  ASSERT_TRUE(r) << r.error().detail;
  ASSERT_TRUE(r->refund);
  EXPECT_EQ(r->refund->refund, 1000);
  EXPECT_EQ(r->original_type, "refund");
}

TEST(channels_wechat, tampered_notifications_are_refused) {
  const auto body = make_notification(paid_notification(), apiv3_key, "fdasflkja484").value();
  const auto code = [](const result<notification>& n) {
    return n ? std::string("accepted") : std::string(to_string(n.error().code));
  };
  // The body itself: the signature fails before anything is read.
  auto changed = body;
  changed.replace(changed.find("TRANSACTION.SUCCESS"), 19, "TRANSACTION.FAILURE");
  EXPECT_EQ(code(receive(platform_headers(body), changed)), "bad_signature");
  EXPECT_EQ(code(receive({}, body)), "missing_signature");
  EXPECT_EQ(code(receive(platform_headers(body, now - 600), body)), "bad_signature");
  // Re-signed by the platform, but the ciphertext, its tag or the key differ.
  auto j = json::parse(body);
  auto sealed = base64_decode(j["resource"]["ciphertext"].get<std::string>()).value();
  for (std::size_t i : {std::size_t{0}, sealed.size() - 1}) {
    auto k = j;
    auto s = sealed;
    s[i] = static_cast<char>(s[i] ^ 0x40);
    k["resource"]["ciphertext"] = base64_encode(s);
    const auto text = k.dump();
    EXPECT_EQ(code(receive(platform_headers(text), text)), "crypto_failure") << i;
  }
  auto k = j;
  k["resource"]["associated_data"] = "refund";
  auto text = k.dump();
  EXPECT_EQ(code(receive(platform_headers(text), text)), "crypto_failure");
  EXPECT_EQ(code(verify_notification(platform_headers(body), body, test::channel_public(),
                                     platform_serial, "fedcba9876543210fedcba9876543210", mchid,
                                     now)),
            "crypto_failure");
  // Another merchant's, or an envelope that says something else.
  EXPECT_EQ(code(receive(platform_headers(body), body, "1900000002")), "app_id_mismatch");
  k = j;
  k["resource"]["algorithm"] = "AES_128_CBC";
  text = k.dump();
  EXPECT_EQ(code(receive(platform_headers(text), text)), "bad_field");
  k = j;
  k["event_type"] = "REFUND.SUCCESS"; // the resource is a transaction
  text = k.dump();
  EXPECT_EQ(code(receive(platform_headers(text), text)), "bad_field");
  k = j;
  k.erase("id");
  text = k.dump();
  EXPECT_EQ(code(receive(platform_headers(text), text)), "missing_field");
  const std::string huge(limits::wechat_notification_bytes_max + 1, ' ');
  EXPECT_EQ(code(receive(platform_headers(huge), huge)), "too_large");
}

TEST(channels_wechat, make_notification_needs_exactly_one_resource) {
  auto n = paid_notification();
  n.refund = a_refund();
  EXPECT_FALSE(make_notification(n, apiv3_key, "nonce"));
  n.trade.reset();
  n.refund.reset();
  EXPECT_FALSE(make_notification(n, apiv3_key, "nonce"));
}

// --- RFC 3339 ----------------------------------------------------------------------------------------

TEST(channels_wechat, rfc3339_reads_offsets_and_fractions) {
  EXPECT_EQ(parse_rfc3339_us("2018-06-08T10:34:56+08:00"), int64_t{1528425296} * 1'000'000);
  EXPECT_EQ(parse_rfc3339_us("2018-06-08T02:34:56Z"), int64_t{1528425296} * 1'000'000);
  EXPECT_EQ(parse_rfc3339_us("2018-06-07T21:04:56-05:30"), int64_t{1528425296} * 1'000'000);
  EXPECT_EQ(parse_rfc3339_us("2018-06-08T02:34:56.25z"), int64_t{1528425296} * 1'000'000 + 250'000);
  EXPECT_EQ(parse_rfc3339_us("2018-06-08t02:34:56.123456789Z"),
            int64_t{1528425296} * 1'000'000 + 123'456);
  EXPECT_EQ(parse_rfc3339_us("2024-03-01T00:00:00+08:00"), int64_t{1709222400} * 1'000'000);
  EXPECT_EQ(parse_rfc3339_us("2024-02-29T00:00:00Z"), int64_t{1709164800} * 1'000'000);
  EXPECT_EQ(parse_rfc3339_us("1969-12-31T23:59:59Z"), int64_t{-1'000'000});
}

TEST(channels_wechat, rfc3339_refuses_what_is_not_a_time) {
  for (std::string_view bad :
       {"", "2018-06-08", "2018-06-08T10:34:56", "2018-06-08 10:34:56+08:00",
        "2018-13-08T10:34:56+08:00", "2023-02-29T10:34:56+08:00", "2018-06-31T10:34:56+08:00",
        "2018-06-08T24:00:00+08:00", "2018-06-08T10:60:00+08:00", "2018-06-08T10:34:60+08:00",
        "2018-06-08T10:34:56+0800", "2018-06-08T10:34:56+24:00", "2018-06-08T10:34:56.+08:00",
        "2018-06-08T10:34:56.1234567890Z", "2018-06-08T10:34:56+08:00x", "+018-06-08T10:34:56Z",
        "2018-06-08T10:34:5aZ"})
    EXPECT_FALSE(parse_rfc3339_us(bad)) << bad;
}

TEST(channels_wechat, rfc3339_writes_beijing_time) {
  EXPECT_EQ(format_rfc3339(int64_t{1528425296} * 1'000'000), "2018-06-08T10:34:56+08:00");
  EXPECT_EQ(format_rfc3339(int64_t{1528425296} * 1'000'000 + 999'999), "2018-06-08T10:34:56+08:00");
  EXPECT_EQ(format_rfc3339(int64_t{1709164800} * 1'000'000 - 8 * 3600 * 1'000'000LL),
            "2024-02-29T00:00:00+08:00");
  EXPECT_EQ(format_rfc3339(-1), "1970-01-01T07:59:59+08:00");
  for (int64_t us : {int64_t{0}, int64_t{1714564800} * 1'000'000, int64_t{4102444800} * 1'000'000})
    EXPECT_EQ(parse_rfc3339_us(format_rfc3339(us)), us);
}

} // namespace
} // namespace payengine::channels::wechat
