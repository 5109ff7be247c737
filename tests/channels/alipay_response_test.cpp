#include "channels/alipay_response.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "channels/alipay_request.hpp"
#include "tests/channels/test_keys.hpp"

namespace payengine::channels::alipay {
namespace {

using test::channel_private;
using test::channel_public;

std::string signed_body(std::string_view method, std::string_view body) {
  return make_signed_response(response_key(method), body, channel_private()).value();
}

TEST(channels_alipay_response, key_replaces_dots) {
  EXPECT_EQ(response_key(methods::precreate), "alipay_trade_precreate_response");
}

TEST(channels_alipay_response, extracts_exact_text_with_nesting_and_escapes) {
  const std::string body =
      R"({"code":"10000","note":"a \"quoted\" } ] { [ text \\","nested":{"x":[1,{"y":"}"}],"z":null},)"
      R"("url":"http:\/\/h\/p","n":-1.5e3,"t":true})";
  const std::string text = "  {\"sign\" : \"c2ln\" ,\n \"alipay_trade_query_response\" :\t" + body +
                           " , \"other\":[{\"alipay_trade_query_response\":1}] }  ";
  const auto parts = split_signed_response(text, methods::query);
  ASSERT_TRUE(parts) << parts.error().detail;
  EXPECT_EQ(parts->body, body);
  EXPECT_EQ(parts->sign, "c2ln");
}

TEST(channels_alipay_response, extraction_refuses_ambiguity_and_garbage) {
  const auto twice = R"({"alipay_trade_query_response":{},"alipay_trade_query_response":{},"sign":"x"})";
  EXPECT_EQ(split_signed_response(twice, methods::query).error().code, errc::malformed_json);
  const auto two_signs = R"({"alipay_trade_query_response":{},"sign":"x","sign":"y"})";
  EXPECT_EQ(split_signed_response(two_signs, methods::query).error().code, errc::malformed_json);
  EXPECT_EQ(split_signed_response(R"({"alipay_trade_query_response":{}})", methods::query).error().code,
            errc::missing_signature);
  EXPECT_EQ(split_signed_response(R"({"sign":"x"})", methods::query).error().code, errc::missing_field);
  for (const char* bad : {"", "{", "[]", "{\"a\":}", "{\"alipay_trade_query_response\":{\"a\":\"}"}) {
    EXPECT_EQ(split_signed_response(bad, methods::query).error().code, errc::malformed_json) << bad;
  }
}

TEST(channels_alipay_response, falls_back_to_error_response) {
  const std::string text =
      make_signed_response(error_response_key, R"({"code":"40002","msg":"Invalid Arguments"})", channel_private())
          .value();
  const auto parsed = parse_query_response(text, channel_public());
  ASSERT_TRUE(parsed) << parsed.error().detail;
  EXPECT_EQ(parsed->head.code, "40002");
  EXPECT_EQ(parsed->head.classify(), outcome::rejected);
}

TEST(channels_alipay_response, parses_signed_success) {
  const auto text = signed_body(methods::query,
                                R"({"code":"10000","msg":"Success","trade_no":"T1","out_trade_no":"ord_1",)"
                                R"("trade_status":"TRADE_SUCCESS","total_amount":"88.88",)"
                                R"("buyer_logon_id":"a***@b.c"})");
  const auto parsed = parse_query_response(text, channel_public());
  ASSERT_TRUE(parsed) << parsed.error().detail;
  EXPECT_TRUE(parsed->head.ok());
  EXPECT_EQ(parsed->status, trade_status::trade_success);
  EXPECT_EQ(parsed->total_amount, 8888);
  EXPECT_EQ(parsed->buyer_logon_id, "a***@b.c");
  EXPECT_FALSE(parsed->buyer_user_id);
}

TEST(channels_alipay_response, tampered_or_foreign_responses_fail) {
  const auto text =
      signed_body(methods::precreate, R"({"code":"10000","msg":"Success","out_trade_no":"o","qr_code":"q"})");
  std::string tampered = text;
  tampered.replace(tampered.find("\"q\""), 3, "\"r\"");
  EXPECT_EQ(parse_precreate_response(tampered, channel_public()).error().code, errc::bad_signature);
  std::string spaced = text;
  spaced.insert(spaced.find("\"msg\""), " ");  // same JSON value, other bytes
  EXPECT_EQ(parse_precreate_response(spaced, channel_public()).error().code, errc::bad_signature);
  const auto& app_public = test::app_public();
  EXPECT_EQ(parse_precreate_response(text, app_public).error().code, errc::bad_signature);
  EXPECT_TRUE(parse_precreate_response(text, channel_public()));
}

TEST(channels_alipay_response, failures_and_classification) {
  const auto text = signed_body(methods::close, R"({"code":"40004","msg":"Business Failed",)"
                                                R"("sub_code":"ACQ.TRADE_STATUS_ERROR","sub_msg":"paid"})");
  const auto parsed = parse_close_response(text, channel_public());
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->head.sub_code, sub_codes::trade_status_error);
  EXPECT_EQ(parsed->head.classify(), outcome::business_failure);
  EXPECT_EQ((reply_head{"20000", "", "", ""}.classify()), outcome::retryable);
  EXPECT_EQ((reply_head{"40004", "", "ACQ.SYSTEM_ERROR", ""}.classify()), outcome::retryable);
  EXPECT_EQ((reply_head{"40001", "", "", ""}.classify()), outcome::rejected);
}

TEST(channels_alipay_response, success_needs_its_members) {
  const auto no_qr = signed_body(methods::precreate, R"({"code":"10000","msg":"Success","out_trade_no":"o"})");
  EXPECT_EQ(parse_precreate_response(no_qr, channel_public()).error().code, errc::missing_field);
  const auto bad_amount = signed_body(methods::refund, R"({"code":"10000","trade_no":"t","out_trade_no":"o",)"
                                                        R"("fund_change":"Y","refund_fee":"1.001"})");
  EXPECT_EQ(parse_refund_response(bad_amount, channel_public()).error().code, errc::bad_amount);
  const auto refund = signed_body(methods::refund, R"({"code":"10000","trade_no":"t","out_trade_no":"o",)"
                                                    R"("fund_change":"N","refund_fee":"1.5"})");
  const auto parsed = parse_refund_response(refund, channel_public());
  ASSERT_TRUE(parsed) << parsed.error().detail;
  EXPECT_FALSE(parsed->fund_change);
  EXPECT_EQ(parsed->refund_fee, 150);
}

TEST(channels_alipay_response, make_signed_response_refuses_non_objects) {
  EXPECT_EQ(make_signed_response("k", "[1]", channel_private()).error().code, errc::malformed_json);
  EXPECT_EQ(make_signed_response("k", "{", channel_private()).error().code, errc::malformed_json);
}

// Published vector: a real response and Alipay's sandbox public key, from the
// test suite of Alipay's official Node SDK (alipay-sdk-nodejs-all,
// test/alipay.test.js "checkResponseSign normal", fixtures/alipay-public-key.pem).
// The signature covers `\/` as sent: only byte-exact extraction verifies.
TEST(channels_alipay_response, published_alipay_vector_verifies) {
  const auto alipay_public = public_key::from_pem(
      "-----BEGIN PUBLIC KEY-----\n"
      "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA6kdjvWNCT+K3qQQgAyv+\n"
      "8k0+lkrL6+dA+cb9OAX5sZgIxP2ycK51VYxwZgZgHCIWCkB/l/Zqqhye/E6x/nNM\n"
      "SqRkW3FGpP4/hKWByG3Ah8DXRcUaAvd8aCWHcBpgZqjBp3ADPTcHViI10cGe0mn1\n"
      "3wGaIZQl6G74CtnY6YQJ/1NkoE+C9Z0VD4xor4oJOZW1/rbc85InBmjU87BWtxmk\n"
      "IQWWVw+Vwd0EL8oDU9GWNZ1Se9sZf4UHxs+goHh3/JhQly3iKqlt/hgFsip78kvd\n"
      "eDwoL8gS6RCUi+Bp6j9Ee5Thd+CC61Ilk7iKiUQMMVn6+kdTGcV2XwUBezH2Go4d\n"
      "lwIDAQAB\n"
      "-----END PUBLIC KEY-----\n");
  ASSERT_TRUE(alipay_public);
  const std::string method = "alipay.offline.material.image.upload";
  const std::string text =
      R"({"alipay_offline_material_image_upload_response":{"code":"10000","msg":"Success",)"
      R"("image_id":"akGwYYaFTai3r1uB0ww-1QAAACMAAQQD","image_url":"https:\/\/oalipay-dl-django.alicdn.com)"
      R"(\/rest\/1.0\/image?fileIds=akGwYYaFTai3r1uB0ww-1QAAACMAAQQD&zoom=original"},)"
      R"("sign":"PAb3IueJzGe/pU/fRAPjwIs543Kc/A6D0rz03AMejwr8h8rDc6FhDJDnz3fGLDdQP7ctjtQwwJW3pmdZZcGmp4lb/5YYgtoK)"
      R"(6McjnRr4ER/raJLYn1IbpzkowhGow2esA/XeDblIAYUbZjU6ts0IqNncrZrCknDWHpaZXwGuaU7CUBk74xBeMeja7rEEkFlm9MRtiQN)"
      R"(Ynum/cGVtcDv/aQ8KkPyAD58oJiAzoXv0R6jFhlZtAWv+M0SaOlhTpZh1K6wlP+1Umiqdvqbc1oWdfpv75a+lGTkGHMy8K7/bnAGm2)"
      R"(0IRsisSv1B5rpJyeGfrVf6tb4MZ7vG4w0rS0c2hfA=="})";
  const auto body = verified_response_body(text, method, *alipay_public);
  ASSERT_TRUE(body) << body.error().detail;
  EXPECT_NE(body->find(R"(https:\/\/)"), std::string_view::npos);
  std::string unescaped = text;
  unescaped.replace(unescaped.find(R"(https:\/\/)"), 10, "https://");
  EXPECT_EQ(verified_response_body(unescaped, method, *alipay_public).error().code, errc::bad_signature);
}

}  // namespace
}  // namespace payengine::channels::alipay
