// The Alipay protocol behind the gateway (channels/alipay_protocol.hpp):
// channel-neutral requests in, signed OpenAPI requests out; signed answers
// (made here with the channel's test key, as paysim makes them) in,
// channel_replies out. No CAF, no network.
#include "channels/alipay_protocol.hpp"

#include "channels/alipay.hpp"
#include "tests/channels/test_keys.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace payengine::channels {
namespace {

using nlohmann::json;

alipay_protocol protocol() {
  return alipay_protocol{{"2021000000000001", "https://pay.example.com/v1/callbacks/alipay",
                          test::app_private(), test::channel_public(), {"CNY", "JPY"}}};
}

open_trade trade(int64_t amount, std::string currency = "CNY") {
  open_trade x;
  x.order_id = "ord_1";
  x.out_trade_no = "ord_1_1";
  x.amount = amount;
  x.currency = std::move(currency);
  x.subject = "Annual plan";
  return x;
}

/// The signed request's form fields.
params fields_of(const prepared& p) {
  const auto* out = std::get_if<outbound>(&p);
  EXPECT_NE(out, nullptr);
  if (out == nullptr)
    return {};
  auto body = out->sign();
  EXPECT_TRUE(body) << body.error().detail;
  auto fields = form_decode(body.value().body);
  EXPECT_TRUE(fields);
  return fields.value();
}

std::string refusal_of(const prepared& p) {
  const auto* r = std::get_if<channel_reply>(&p);
  if (r == nullptr)
    return "(sent)";
  EXPECT_EQ(r->outcome, channel_outcome::rejected);
  return r->reason;
}

TEST(alipay_protocol, requests_become_signed_openapi_methods) {
  const auto p = protocol();
  auto open = fields_of(p.prepare(trade(8888)));
  EXPECT_EQ(open["method"], "alipay.trade.precreate");
  EXPECT_EQ(open["app_id"], "2021000000000001");
  EXPECT_EQ(open["notify_url"], "https://pay.example.com/v1/callbacks/alipay");
  EXPECT_EQ(open["sign_type"], "RSA2");
  auto biz = json::parse(open["biz_content"]);
  EXPECT_EQ(biz["out_trade_no"], "ord_1_1");
  EXPECT_EQ(biz["total_amount"], "88.88");
  EXPECT_EQ(biz["subject"], "Annual plan");
  auto own = trade(100);
  own.notify_url = "https://merchant.example.com/notify";
  EXPECT_EQ(fields_of(p.prepare(own))["notify_url"], own.notify_url);
  EXPECT_EQ(json::parse(fields_of(p.prepare(trade(100, "JPY")))["biz_content"])["total_amount"],
            "100.00"); // 100 yen (no minor units), written with the channel's two decimals

  auto query = fields_of(p.prepare(query_trade{"ord_1_1", "CNY"}));
  EXPECT_EQ(query["method"], "alipay.trade.query");
  EXPECT_EQ(query.count("notify_url"), 0u);
  EXPECT_EQ(fields_of(p.prepare(close_trade{"ord_1_1"}))["method"], "alipay.trade.close");
  auto refund = fields_of(p.prepare(refund_trade{"ord_1_1", "rfd_1", 100, "CNY", "asked"}));
  EXPECT_EQ(refund["method"], "alipay.trade.refund");
  auto refund_biz = json::parse(refund["biz_content"]);
  EXPECT_EQ(refund_biz["out_request_no"], "rfd_1");
  EXPECT_EQ(refund_biz["refund_amount"], "1.00");
}

TEST(alipay_protocol, what_the_channel_would_refuse_is_refused_unsent) {
  const auto p = protocol();
  EXPECT_EQ(refusal_of(p.prepare(trade(8888, "USD"))), "unsupported_currency");
  EXPECT_EQ(refusal_of(p.prepare(query_trade{"ord_1_1", "EUR"})), "unsupported_currency");
  EXPECT_EQ(refusal_of(p.prepare(refund_trade{"ord_1_1", "rfd_1", 1, "XYZ", ""})),
            "unsupported_currency");
  EXPECT_EQ(refusal_of(p.prepare(trade(8888))), "(sent)");
  EXPECT_NE(refusal_of(p.prepare(trade(0))).find("invalid_request"), std::string::npos);
  EXPECT_NE(refusal_of(p.prepare(close_trade{""})).find("invalid_request"), std::string::npos);
}

// --- answers ---------------------------------------------------------------------------

std::string signed_answer(std::string_view method, const json& body) {
  return alipay::make_signed_response(alipay::response_key(method), body.dump(),
                                      test::channel_private())
    .value();
}

json success(json extra) {
  json body = {{"code", "10000"}, {"msg", "Success"}};
  body.update(extra);
  return body;
}

json failure(std::string code, std::string sub_code) {
  return {{"code", code}, {"msg", "Business Failed"}, {"sub_code", sub_code}, {"sub_msg", "no"}};
}

struct answer_case {
  std::string name;
  call_kind kind;
  int status;
  std::string body;
  bool healthy, retry;
  channel_outcome outcome;
  std::string reason_has; // empty: no reason expected
};

TEST(alipay_protocol, answers_become_replies_retries_or_distrust) {
  const auto p = protocol();
  const std::string precreate = "alipay.trade.precreate";
  const std::string query = "alipay.trade.query";
  const std::vector<answer_case> cases = {
    {"no_http_answer", call_kind::open, 0, "", false, true, channel_outcome::unavailable,
     "transport: Read"},
    {"http_503", call_kind::open, 503, "", false, true, channel_outcome::unavailable, "http_503"},
    {"http_429", call_kind::query, 429, "", false, true, channel_outcome::unavailable, "http_429"},
    {"http_404", call_kind::query, 404, "", false, false, channel_outcome::unavailable, "http_404"},
    {"unsigned", call_kind::open, 200, R"({"alipay_trade_precreate_response":{"code":"10000"}})",
     false, false, channel_outcome::unavailable, "invalid_response"},
    {"opened", call_kind::open, 200,
     signed_answer(precreate, success({{"out_trade_no", "ord_1_1"}, {"qr_code", "https://qr/1"}})),
     true, false, channel_outcome::ok, ""},
    {"another_trade", call_kind::open, 200,
     signed_answer(precreate, success({{"out_trade_no", "ord_9_1"}, {"qr_code", "https://qr/9"}})),
     false, false, channel_outcome::unavailable, "another out_trade_no"},
    {"busy", call_kind::open, 200, signed_answer(precreate, failure("20000", "isp.unknow-error")),
     false, true, channel_outcome::unavailable, "channel: 20000"},
    {"refused", call_kind::open, 200,
     signed_answer(precreate, failure("40004", "ACQ.TRADE_HAS_CLOSE")), true, false,
     channel_outcome::rejected, "ACQ.TRADE_HAS_CLOSE"},
    {"no_such_trade_is_an_answer_to_a_query", call_kind::query, 200,
     signed_answer(query, failure("40004", "ACQ.TRADE_NOT_EXIST")), true, false,
     channel_outcome::ok, ""},
    {"paid", call_kind::query, 200,
     signed_answer(query, success({{"out_trade_no", "ord_1_1"}, {"trade_no", "2026"},
                                   {"trade_status", "TRADE_SUCCESS"}, {"total_amount", "88.88"},
                                   {"send_pay_date", "2026-12-01 20:00:00"}})),
     true, false, channel_outcome::ok, ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto v = p.judge({c.kind, "ord_1_1", 2}, {c.status, c.body, "Read"});
    EXPECT_EQ(v.healthy, c.healthy);
    EXPECT_EQ(v.retry, c.retry);
    EXPECT_EQ(v.reply.outcome, c.outcome) << v.reply.reason;
    if (!c.reason_has.empty()) {
      EXPECT_NE(v.reply.reason.find(c.reason_has), std::string::npos) << v.reply.reason;
    }
  }
}

TEST(alipay_protocol, a_paid_query_carries_amount_state_and_time) {
  const auto p = protocol();
  const auto body = signed_answer(
    "alipay.trade.query",
    success({{"out_trade_no", "ord_1_1"}, {"trade_no", "2026120122001"},
             {"trade_status", "TRADE_SUCCESS"}, {"total_amount", "88.88"},
             {"send_pay_date", "2026-12-01 20:00:00"}}));
  const auto v = p.judge({call_kind::query, "ord_1_1", 2}, {200, body, ""});
  ASSERT_EQ(v.reply.outcome, channel_outcome::ok) << v.reply.reason;
  EXPECT_EQ(v.reply.state, trade_state::succeeded);
  EXPECT_EQ(v.reply.amount, 8888);
  EXPECT_EQ(v.reply.channel_trade_no, "2026120122001");
  EXPECT_EQ(v.reply.paid_at, int64_t{1'796'126'400} * 1'000'000); // 12:00 UTC
  // Read as yen (no minor units), 88.88 is no whole amount: not trusted.
  const auto yen = p.judge({call_kind::query, "ord_1_1", 0}, {200, body, ""});
  EXPECT_EQ(yen.reply.outcome, channel_outcome::unavailable);
  EXPECT_FALSE(yen.retry);
}

TEST(alipay_protocol, names_its_methods) {
  const auto p = protocol();
  EXPECT_EQ(p.method_of(call_kind::open), "alipay.trade.precreate");
  EXPECT_EQ(p.method_of(call_kind::query), "alipay.trade.query");
  EXPECT_EQ(p.method_of(call_kind::close), "alipay.trade.close");
  EXPECT_EQ(p.method_of(call_kind::refund), "alipay.trade.refund");
}

} // namespace
} // namespace payengine::channels
