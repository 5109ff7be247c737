#include "channels/alipay_request.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "channels/alipay_sign.hpp"
#include "tests/channels/test_keys.hpp"

namespace payengine::channels::alipay {
namespace {

using test::app_private;
using test::app_public;

const request_envelope envelope{"2021000000000001", "http://engine.test/v1/callbacks/alipay",
                                "2024-05-01 12:00:00"};

precreate_request sample_precreate() { return {"ord_1001", 8888, "Annual plan", "15m", ""}; }

TEST(channels_alipay_sign, canonical_string_sorts_and_skips) {
  const params fields{{"sign", "xyz"},   {"b", "2"},       {"a", "1"},       {"empty", ""},
                      {"A", "upper"},    {"sign_type", "RSA2"}, {"c", "x y&z=%"}};
  EXPECT_EQ(canonical_string(fields, false), "A=upper&a=1&b=2&c=x y&z=%");
  EXPECT_EQ(canonical_string(fields, true), "A=upper&a=1&b=2&c=x y&z=%&sign_type=RSA2");
  EXPECT_EQ(canonical_string(fields, false, empty_values::keep), "A=upper&a=1&b=2&c=x y&z=%&empty=");
}

TEST(channels_alipay_request, timestamp_is_beijing_time) {
  // 2024-05-01T04:00:00Z
  const auto when = std::chrono::system_clock::from_time_t(1714536000);
  EXPECT_EQ(format_timestamp(when), "2024-05-01 12:00:00");
}

TEST(channels_alipay_request, builds_a_signed_precreate_body) {
  const auto body = build_request(sample_precreate(), envelope, app_private());
  ASSERT_TRUE(body) << body.error().detail;
  const auto fields = form_decode(*body);
  ASSERT_TRUE(fields);
  EXPECT_EQ(fields->at("app_id"), envelope.app_id);
  EXPECT_EQ(fields->at("method"), "alipay.trade.precreate");
  EXPECT_EQ(fields->at("format"), "JSON");
  EXPECT_EQ(fields->at("charset"), "utf-8");
  EXPECT_EQ(fields->at("sign_type"), "RSA2");
  EXPECT_EQ(fields->at("timestamp"), "2024-05-01 12:00:00");
  EXPECT_EQ(fields->at("version"), "1.0");
  EXPECT_EQ(fields->at("notify_url"), envelope.notify_url);
  const auto biz = nlohmann::json::parse(fields->at("biz_content"));
  EXPECT_EQ(biz, (nlohmann::json{{"out_trade_no", "ord_1001"},
                                 {"total_amount", "88.88"},
                                 {"subject", "Annual plan"},
                                 {"timeout_express", "15m"}}));
  EXPECT_TRUE(app_public().verify(canonical_string(*fields, true), fields->at("sign")));
}

TEST(channels_alipay_request, verify_request_round_trips) {
  const auto fields = form_decode(build_request(sample_precreate(), envelope, app_private()).value()).value();
  const auto request = verify_request(fields, app_public());
  ASSERT_TRUE(request) << request.error().detail;
  EXPECT_EQ(request->method, methods::precreate);
  EXPECT_EQ(request->notify_url, envelope.notify_url);
  const auto biz = parse_precreate_biz(request->biz_content);
  ASSERT_TRUE(biz) << biz.error().detail;
  EXPECT_EQ(biz->out_trade_no, "ord_1001");
  EXPECT_EQ(biz->total_amount, 8888);
  EXPECT_EQ(biz->subject, "Annual plan");
  EXPECT_EQ(biz->timeout_express, "15m");
}

TEST(channels_alipay_request, tampering_with_any_parameter_fails) {
  const auto fields = form_decode(build_request(sample_precreate(), envelope, app_private()).value()).value();
  for (const auto& [name, value] : fields) {
    if (name == "sign") continue;
    auto tampered = fields;
    tampered[name] = value + "0";
    const auto expected = name == "sign_type" ? errc::unsupported_sign_type : errc::bad_signature;
    EXPECT_EQ(verify_request(tampered, app_public()).error().code, expected) << name;
  }
  auto added = fields;
  added["extra"] = "1";
  EXPECT_EQ(verify_request(added, app_public()).error().code, errc::bad_signature);
  auto removed = fields;
  removed.erase("notify_url");
  EXPECT_EQ(verify_request(removed, app_public()).error().code, errc::bad_signature);
}

TEST(channels_alipay_request, missing_or_foreign_signatures_are_typed) {
  auto fields = form_decode(build_request(sample_precreate(), envelope, app_private()).value()).value();
  auto unsigned_fields = fields;
  unsigned_fields.erase("sign");
  EXPECT_EQ(verify_request(unsigned_fields, app_public()).error().code, errc::missing_signature);
  auto rsa1 = fields;
  rsa1["sign_type"] = "RSA";
  EXPECT_EQ(verify_request(rsa1, app_public()).error().code, errc::unsupported_sign_type);
  const auto& other = test::channel_public();
  EXPECT_EQ(verify_request(fields, other).error().code, errc::bad_signature);
}

TEST(channels_alipay_request, refund_and_lookups_round_trip) {
  const refund_request refund{"ord_1001", "", 100, "rfd_1", "late"};
  const auto fields = form_decode(build_request(refund, envelope, app_private()).value()).value();
  const auto request = verify_request(fields, app_public()).value();
  EXPECT_EQ(request.method, methods::refund);
  const auto biz = parse_refund_biz(request.biz_content).value();
  EXPECT_EQ(biz.refund_amount, 100);
  EXPECT_EQ(biz.out_request_no, "rfd_1");
  EXPECT_EQ(biz.refund_reason, "late");
  EXPECT_EQ(parse_query_biz(to_biz_content(query_request{"", "2024T1"}).value())->trade_no, "2024T1");
  EXPECT_EQ(parse_close_biz(to_biz_content(close_request{"ord_1", ""}).value())->out_trade_no, "ord_1");
}

TEST(channels_alipay_request, refuses_what_alipay_refuses) {
  EXPECT_EQ(to_biz_content(precreate_request{"ord", 0, "s", "", ""}).error().code, errc::bad_amount);
  EXPECT_EQ(to_biz_content(precreate_request{"ord", amount_max + 1, "s", "", ""}).error().code, errc::bad_amount);
  EXPECT_EQ(to_biz_content(precreate_request{"", 1, "s", "", ""}).error().code, errc::missing_field);
  EXPECT_EQ(to_biz_content(precreate_request{"ord", 1, "", "", ""}).error().code, errc::missing_field);
  EXPECT_EQ(to_biz_content(query_request{}).error().code, errc::missing_field);
  EXPECT_EQ(to_biz_content(precreate_request{"ord", 1, "\xff\xfe", "", ""}).error().code, errc::bad_field);
  EXPECT_EQ(to_biz_content(refund_request{"ord", "", 1, "", ""}).error().code, errc::missing_field);
  EXPECT_EQ(parse_precreate_biz(R"({"out_trade_no":"o","total_amount":"1.001","subject":"s"})").error().code,
            errc::bad_amount);
  EXPECT_EQ(parse_precreate_biz(R"({"out_trade_no":"o","total_amount":1.5,"subject":"s"})").error().code,
            errc::bad_amount);
  EXPECT_EQ(parse_precreate_biz(R"({"out_trade_no":7,"total_amount":"1","subject":"s"})").error().code,
            errc::bad_field);
  EXPECT_EQ(parse_precreate_biz("[1]").error().code, errc::malformed_json);
  EXPECT_EQ(parse_refund_biz(R"({"out_trade_no":"o","refund_amount":"1"})").error().code, errc::missing_field);
}

}  // namespace
}  // namespace payengine::channels::alipay
