// The WeChat Pay v3 protocol behind the gateway (channels/wechat_protocol.hpp):
// channel-neutral requests in, signed HTTP requests out; answers signed here
// with the platform's test key (as paysim signs them) in, channel_replies out.
// The clock and the nonce are pinned. No CAF, no network.
#include "channels/wechat_protocol.hpp"

#include "channels/wechat.hpp"
#include "tests/channels/test_keys.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

namespace payengine::channels {
namespace {

using nlohmann::json;

constexpr int64_t now = 1'796'126'400; // 2026-12-01T12:00:00Z
constexpr std::string_view mchid = "1900000001";
constexpr std::string_view merchant_serial = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1";
constexpr std::string_view platform_serial = "7132D72A03E93CDDF8C03BBD1F37EEDF0BD0ED2";
constexpr std::string_view nonce = "593BEC0C930BF1AFEB40B4A08C8FB242";

wechat_protocol protocol(std::vector<std::string> currencies = {"CNY"}) {
  wechat_protocol_settings s{std::string(mchid),
                             "wxd678efh567hg6787",
                             "https://pay.example.com/v1/callbacks/wechat",
                             test::app_private(),
                             std::string(merchant_serial),
                             test::channel_public(),
                             std::string(platform_serial),
                             std::move(currencies),
                             [] { return now; },
                             [] { return std::string(nonce); }};
  return wechat_protocol{std::move(s)};
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

/// The signed request, its signature checked as paysim checks it.
signed_request sent(const prepared& p) {
  const auto* out = std::get_if<outbound>(&p);
  EXPECT_NE(out, nullptr);
  if (out == nullptr)
    return {};
  auto req = out->sign();
  EXPECT_TRUE(req) << req.error().detail;
  if (!req)
    return {};
  const auto verified =
    wechat::verify_request(header_value(req->headers, "Authorization"), test::app_public(), mchid,
                           merchant_serial, req->method, req->path, req->body, now);
  EXPECT_TRUE(verified) << verified.error().detail;
  EXPECT_EQ(header_value(req->headers, "Accept"), "application/json");
  return std::move(req).value();
}

json body_of(const prepared& p) {
  return json::parse(sent(p).body);
}

std::string refusal_of(const prepared& p) {
  const auto* r = std::get_if<channel_reply>(&p);
  if (r == nullptr)
    return "(sent)";
  EXPECT_EQ(r->outcome, channel_outcome::rejected);
  return r->reason;
}

refund_trade refund(int64_t amount, int64_t trade_amount = 8888, std::string reason = "asked") {
  return refund_trade{"ord_1_1", "rfd_1", amount, "CNY", std::move(reason), trade_amount};
}

// --- requests ----------------------------------------------------------------------------

TEST(wechat_protocol, open_is_a_signed_native_prepay) {
  const auto p = protocol();
  auto x = trade(8888);
  x.expires_at = int64_t{1'796'128'200} * 1'000'000; // 12:30 UTC
  const auto req = sent(p.prepare(x));
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.path, "/v3/pay/transactions/native");
  EXPECT_EQ(req.content_type, "application/json");
  const auto auth = header_value(req.headers, "Authorization");
  EXPECT_NE(auth.find("nonce_str=\"593BEC0C930BF1AFEB40B4A08C8FB242\""), std::string::npos);
  EXPECT_NE(auth.find("timestamp=\"1796126400\""), std::string::npos);
  const auto body = json::parse(req.body);
  EXPECT_EQ(body["appid"], "wxd678efh567hg6787");
  EXPECT_EQ(body["mchid"], mchid);
  EXPECT_EQ(body["description"], "Annual plan");
  EXPECT_EQ(body["out_trade_no"], "ord_1_1");
  EXPECT_EQ(body["time_expire"], "2026-12-01T20:30:00+08:00");
  EXPECT_EQ(body["notify_url"], "https://pay.example.com/v1/callbacks/wechat");
  EXPECT_EQ(body["amount"], (json{{"total", 8888}, {"currency", "CNY"}}));

  auto own = trade(100);
  own.notify_url = "https://merchant.example.com/notify";
  const auto own_body = body_of(p.prepare(own));
  EXPECT_EQ(own_body["notify_url"], own.notify_url);
  EXPECT_FALSE(own_body.contains("time_expire"));
}

TEST(wechat_protocol, description_is_cut_on_a_character_boundary) {
  const auto p = protocol();
  auto x = trade(100);
  x.subject = std::string(126, 'a') + "年费"; // 126 + 3 + 3 bytes
  EXPECT_EQ(body_of(p.prepare(x))["description"], std::string(126, 'a'));
  x.subject = std::string(124, 'a') + "年费";
  EXPECT_EQ(body_of(p.prepare(x))["description"], std::string(124, 'a') + "年");
  x.subject = std::string(127, 'b') + "c";
  EXPECT_EQ(body_of(p.prepare(x))["description"], std::string(127, 'b'));
}

TEST(wechat_protocol, query_close_and_refund_requests) {
  const auto p = protocol();
  const auto query = sent(p.prepare(query_trade{"ord_1_1", "CNY"}));
  EXPECT_EQ(query.method, "GET");
  EXPECT_EQ(query.path, "/v3/pay/transactions/out-trade-no/ord_1_1?mchid=1900000001");
  EXPECT_EQ(query.body, "");

  const auto close = sent(p.prepare(close_trade{"ord_1_1"}));
  EXPECT_EQ(close.method, "POST");
  EXPECT_EQ(close.path, "/v3/pay/transactions/out-trade-no/ord_1_1/close");
  EXPECT_EQ(json::parse(close.body), (json{{"mchid", mchid}}));

  const auto r = sent(p.prepare(refund(1000)));
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.path, "/v3/refund/domestic/refunds");
  const auto body = json::parse(r.body);
  EXPECT_EQ(body["out_trade_no"], "ord_1_1");
  EXPECT_EQ(body["out_refund_no"], "rfd_1");
  EXPECT_EQ(body["reason"], "asked");
  EXPECT_EQ(body["notify_url"], "https://pay.example.com/v1/callbacks/wechat");
  EXPECT_EQ(body["amount"], (json{{"refund", 1000}, {"total", 8888}, {"currency", "CNY"}}));
  EXPECT_FALSE(body_of(p.prepare(refund(1000, 8888, ""))).contains("reason"));
  const auto long_reason = body_of(p.prepare(refund(1000, 8888, std::string(79, 'r') + "é")));
  EXPECT_EQ(long_reason["reason"], std::string(79, 'r'));
}

TEST(wechat_protocol, what_the_channel_would_refuse_is_refused_unsent) {
  const auto p = protocol();
  EXPECT_EQ(refusal_of(p.prepare(trade(8888, "USD"))), "unsupported_currency");
  EXPECT_EQ(refusal_of(p.prepare(trade(8888, "XYZ"))), "unsupported_currency");
  EXPECT_EQ(refusal_of(p.prepare(query_trade{"ord_1_1", "EUR"})), "unsupported_currency");
  EXPECT_EQ(refusal_of(p.prepare(refund_trade{"ord_1_1", "rfd_1", 1, "JPY", "", 1})),
            "unsupported_currency");
  EXPECT_EQ(refusal_of(p.prepare(trade(8888))), "(sent)");
  EXPECT_EQ(refusal_of(p.prepare(trade(0))), "invalid_request: amount");
  EXPECT_EQ(refusal_of(p.prepare(trade(-5))), "invalid_request: amount");
  EXPECT_EQ(refusal_of(p.prepare(refund(0))), "invalid_request: amount");
  EXPECT_EQ(refusal_of(p.prepare(refund(8889))), "invalid_request: amount"); // more than paid
  auto nameless = trade(100);
  nameless.subject.clear();
  EXPECT_EQ(refusal_of(p.prepare(nameless)), "invalid_request: description");
  for (std::string otn : {std::string(), std::string("ord_1"), std::string(33, 'o'),
                          std::string("ord/../1"), std::string("ord_1_1?x=y")}) {
    auto x = trade(100);
    x.out_trade_no = otn;
    EXPECT_EQ(refusal_of(p.prepare(x)), "invalid_request: out_trade_no") << otn;
    EXPECT_EQ(refusal_of(p.prepare(close_trade{otn})), "invalid_request: out_trade_no") << otn;
    EXPECT_EQ(refusal_of(p.prepare(query_trade{otn, "CNY"})), "invalid_request: out_trade_no");
  }
  // A channel that settles yen too takes it in yen's own minor units.
  EXPECT_EQ(body_of(protocol({"CNY", "JPY"}).prepare(trade(100, "JPY")))["amount"]["total"], 100);
}

// --- answers ---------------------------------------------------------------------------------

/// An answer as paysim sends it: the body and its platform signature.
struct answer {
  int status = 200;
  std::string body;
  std::optional<header_list> headers;
};

answer signed_answer(int status, std::string body, int64_t at = now,
                     std::string_view serial = platform_serial) {
  auto headers = wechat::sign_response(test::channel_private(), serial, body, at, "n0nce").value();
  return {status, std::move(body), std::move(headers)};
}

answer unsigned_answer(int status, std::string body) {
  return {status, std::move(body), std::nullopt};
}

answer refused(int status, std::string code) {
  return signed_answer(status, wechat::write_error({std::move(code), "refused"}));
}

std::string a_transaction(std::string state, std::string otn = "ord_1_1") {
  wechat::transaction t;
  t.appid = "wxd678efh567hg6787";
  t.mchid = std::string(mchid);
  t.out_trade_no = std::move(otn);
  t.state = wechat::trade_state_from(state).value();
  t.total = 8888;
  if (state == "SUCCESS" || state == "REFUND") {
    t.transaction_id = "4200000000202612010000000001";
    t.trade_type = "NATIVE";
    t.success_time = "2026-12-01T20:00:00+08:00";
    t.payer_total = 8000; // a coupon paid the rest
  }
  return wechat::write_transaction(t);
}

std::string a_refund(std::string status, std::string otn = "ord_1_1") {
  wechat::refund_resource r;
  r.out_trade_no = std::move(otn);
  r.out_refund_no = "rfd_1";
  r.refund_id = "50000000382019052709732678859";
  r.refund_status = std::move(status);
  r.total = 8888;
  r.refund = 1000;
  return wechat::write_refund_answer(r);
}

struct answer_case {
  std::string name;
  call_kind kind;
  answer a;
  bool healthy, retry;
  channel_outcome outcome;
  std::string reason_has; // empty: no reason expected
  trade_state state = trade_state::unknown;
};

verdict judge(const wechat_protocol& p, call_kind kind, const answer& a, bool final = false) {
  exchange x;
  x.status = a.status;
  x.body = a.body;
  x.transport_error = "Read";
  x.headers = a.headers ? &*a.headers : nullptr;
  x.final = final;
  return p.judge({kind, "ord_1_1", 2}, x);
}

TEST(wechat_protocol, answers_become_replies_retries_or_distrust) {
  using k = call_kind;
  using o = channel_outcome;
  const auto tampered = [](answer a) {
    a.body.replace(a.body.find("8888"), 4, "8889");
    return a;
  };
  const std::vector<answer_case> cases = {
    // No answer, busy, down: the same signed request again.
    {"no_http_answer", k::open, {0, "", std::nullopt}, false, true, o::unavailable, "transport: Read"},
    {"http_429", k::query, unsigned_answer(429, R"({"code":"FREQUENCY_LIMITED","message":"slow"})"),
     false, true, o::unavailable, "http_429 FREQUENCY_LIMITED"},
    {"http_500_signed", k::open, refused(500, "SYSTEM_ERROR"), false, true, o::unavailable,
     "http_500 SYSTEM_ERROR"},
    {"http_502_proxy", k::refund, unsigned_answer(502, "<html>bad gateway</html>"), false, true,
     o::unavailable, "http_502"},
    // Signed answers.
    {"opened", k::open, signed_answer(200, R"({"code_url":"weixin://wxpay/bizpayurl?pr=abc"})"),
     true, false, o::ok, "", trade_state::waiting},
    {"open_without_code_url", k::open, signed_answer(200, "{}"), false, false, o::unavailable,
     "invalid_response"},
    {"open_refused", k::open, refused(400, "PARAM_ERROR"), true, false, o::rejected, "PARAM_ERROR"},
    {"open_already_paid", k::open, refused(400, "ORDERPAID"), true, false, o::unavailable,
     "ORDERPAID"},
    {"open_sign_error", k::open, refused(401, "SIGN_ERROR"), true, false, o::rejected, "SIGN_ERROR"},
    {"query_waiting", k::query, signed_answer(200, a_transaction("NOTPAY")), true, false, o::ok, "",
     trade_state::waiting},
    {"query_userpaying", k::query, signed_answer(200, a_transaction("USERPAYING")), true, false,
     o::ok, "", trade_state::waiting},
    {"query_paid", k::query, signed_answer(200, a_transaction("SUCCESS")), true, false, o::ok, "",
     trade_state::succeeded},
    {"query_refunded", k::query, signed_answer(200, a_transaction("REFUND")), true, false, o::ok, "",
     trade_state::succeeded},
    {"query_closed", k::query, signed_answer(200, a_transaction("CLOSED")), true, false, o::ok, "",
     trade_state::closed},
    {"query_payerror", k::query, signed_answer(200, a_transaction("PAYERROR")), true, false, o::ok,
     "", trade_state::closed},
    {"query_no_such_trade", k::query, refused(404, "ORDER_NOT_EXIST"), true, false, o::ok, "",
     trade_state::unknown},
    {"query_other_404", k::query, refused(404, "RESOURCE_NOT_EXISTS"), true, false, o::rejected,
     "RESOURCE_NOT_EXISTS"},
    {"query_another_trade", k::query, signed_answer(200, a_transaction("SUCCESS", "ord_9_1")), false,
     false, o::unavailable, "another trade"},
    {"query_not_json", k::query, signed_answer(200, "<html>"), false, false, o::unavailable,
     "invalid_response"},
    {"closed", k::close, signed_answer(204, ""), true, false, o::ok, "", trade_state::closed},
    {"close_paid", k::close, refused(400, "ORDERPAID"), true, false, o::unavailable, "ORDERPAID"},
    {"close_no_such_trade", k::close, refused(404, "ORDER_NOT_EXIST"), true, false, o::rejected,
     "ORDER_NOT_EXIST"},
    {"refunded", k::refund, signed_answer(200, a_refund("SUCCESS")), true, false, o::ok, ""},
    {"refund_processing", k::refund, signed_answer(200, a_refund("PROCESSING")), true, false,
     o::unavailable, "refund_processing"},
    {"refund_closed", k::refund, signed_answer(200, a_refund("CLOSED")), true, false, o::rejected,
     "CLOSED"},
    {"refund_abnormal", k::refund, signed_answer(200, a_refund("ABNORMAL")), true, false,
     o::rejected, "ABNORMAL"},
    {"refund_not_enough", k::refund, refused(403, "NOT_ENOUGH"), true, false, o::rejected,
     "NOT_ENOUGH"},
    {"refund_paid_after_all", k::refund, refused(400, "ORDERPAID"), true, false, o::rejected,
     "ORDERPAID"},
    {"refund_another_trade", k::refund, signed_answer(200, a_refund("SUCCESS", "ord_9_1")), false,
     false, o::unavailable, "another trade"},
    // Answers that cannot be trusted: never retried, nothing known.
    {"unsigned_200", k::query, unsigned_answer(200, a_transaction("SUCCESS")), false, false,
     o::unavailable, "unsigned"},
    {"unsigned_204", k::close, unsigned_answer(204, ""), false, false, o::unavailable, "unsigned"},
    {"unsigned_400", k::open, unsigned_answer(400, R"({"code":"PARAM_ERROR","message":"x"})"), false,
     false, o::unavailable, "unsigned"},
    {"tampered_body", k::query, tampered(signed_answer(200, a_transaction("SUCCESS"))), false, false,
     o::unavailable, "bad_signature"},
    {"stale_signature", k::query, signed_answer(200, a_transaction("SUCCESS"), now - 301), false,
     false, o::unavailable, "bad_signature"},
    {"other_serial", k::query,
     signed_answer(200, a_transaction("SUCCESS"), now, "0000000000000000000000000000000000000000"),
     false, false, o::unavailable, "bad_signature"},
    {"signed_400_not_json", k::open, signed_answer(400, "bad"), false, false, o::unavailable,
     "invalid_response"},
    {"signed_302", k::open, signed_answer(302, ""), false, false, o::unavailable, "http_302"},
    {"open_answers_201", k::open, signed_answer(201, R"({"code_url":"weixin://x"})"), false, false,
     o::unavailable, "http_201"},
  };
  const auto p = protocol();
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto v = judge(p, c.kind, c.a);
    EXPECT_EQ(v.healthy, c.healthy);
    EXPECT_EQ(v.retry, c.retry);
    EXPECT_EQ(v.reply.outcome, c.outcome) << v.reply.reason;
    EXPECT_EQ(v.reply.state, c.state);
    if (c.reason_has.empty())
      EXPECT_EQ(v.reply.reason, "");
    else
      EXPECT_NE(v.reply.reason.find(c.reason_has), std::string::npos) << v.reply.reason;
  }
}

TEST(wechat_protocol, a_probe_signature_is_distrusted) {
  auto a = signed_answer(200, a_transaction("SUCCESS"));
  for (auto& [name, value] : *a.headers)
    if (name == "Wechatpay-Signature")
      value = "WECHATPAY/SIGNTEST/" + value;
  const auto v = judge(protocol(), call_kind::query, a);
  EXPECT_FALSE(v.healthy);
  EXPECT_FALSE(v.retry);
  EXPECT_NE(v.reply.reason.find("probe"), std::string::npos) << v.reply.reason;
}

TEST(wechat_protocol, a_final_transport_failure_is_not_retried) {
  const auto v = judge(protocol(), call_kind::open, {0, "", std::nullopt}, true);
  EXPECT_FALSE(v.healthy);
  EXPECT_FALSE(v.retry);
  EXPECT_EQ(v.reply.outcome, channel_outcome::unavailable);
}

TEST(wechat_protocol, a_paid_query_carries_amount_id_and_time) {
  const auto p = protocol();
  const auto v = judge(p, call_kind::query, signed_answer(200, a_transaction("SUCCESS")));
  ASSERT_EQ(v.reply.outcome, channel_outcome::ok) << v.reply.reason;
  EXPECT_EQ(v.reply.state, trade_state::succeeded);
  EXPECT_EQ(v.reply.amount, 8888); // the trade's total, coupons included
  EXPECT_EQ(v.reply.channel_trade_no, "4200000000202612010000000001");
  EXPECT_EQ(v.reply.paid_at, now * 1'000'000); // 20:00 Beijing is 12:00 UTC
  const auto waiting = judge(p, call_kind::query, signed_answer(200, a_transaction("NOTPAY")));
  EXPECT_EQ(waiting.reply.amount, 0);
  EXPECT_EQ(waiting.reply.paid_at, 0);
  // Paid, but without WeChat's id: not trusted.
  auto j = json::parse(a_transaction("SUCCESS"));
  j.erase("transaction_id");
  const auto odd = judge(p, call_kind::query, signed_answer(200, j.dump()));
  EXPECT_EQ(odd.reply.outcome, channel_outcome::unavailable);
  EXPECT_FALSE(odd.healthy);
}

TEST(wechat_protocol, an_opened_trade_carries_its_code_url) {
  const auto v = judge(protocol(), call_kind::open,
                       signed_answer(200, R"({"code_url":"weixin://wxpay/bizpayurl?pr=abc"})"));
  EXPECT_EQ(v.reply.qr_code, "weixin://wxpay/bizpayurl?pr=abc");
}

TEST(wechat_protocol, a_refund_carries_its_amount_and_id) {
  const auto v = judge(protocol(), call_kind::refund, signed_answer(200, a_refund("SUCCESS")));
  ASSERT_EQ(v.reply.outcome, channel_outcome::ok) << v.reply.reason;
  EXPECT_EQ(v.reply.amount, 1000);
  EXPECT_EQ(v.reply.channel_trade_no, "50000000382019052709732678859");
}

TEST(wechat_protocol, the_default_clock_and_nonce_sign_fresh_requests) {
  wechat_protocol_settings s{std::string(mchid),          "wx1",
                             "https://pay.example.com/n",  test::app_private(),
                             std::string(merchant_serial), test::channel_public(),
                             std::string(platform_serial), {"CNY"},
                             {} /* the system clock */,    {} /* random nonces */};
  const wechat_protocol p{std::move(s)};
  const auto prepared = p.prepare(close_trade{"ord_1_1"});
  const auto* out = std::get_if<outbound>(&prepared);
  ASSERT_NE(out, nullptr);
  const auto a = out->sign().value(), b = out->sign().value();
  const auto auth_a = wechat::parse_authorization(header_value(a.headers, "Authorization")).value();
  const auto auth_b = wechat::parse_authorization(header_value(b.headers, "Authorization")).value();
  EXPECT_EQ(auth_a.nonce_str.size(), 32u);
  EXPECT_NE(auth_a.nonce_str, auth_b.nonce_str);
  const auto system_now = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  EXPECT_LE(std::abs(auth_a.timestamp - system_now), 5);
}

TEST(wechat_protocol, names_its_methods) {
  const auto p = protocol();
  EXPECT_EQ(p.method_of(call_kind::open), "wechat.native.prepay");
  EXPECT_EQ(p.method_of(call_kind::query), "wechat.query");
  EXPECT_EQ(p.method_of(call_kind::close), "wechat.close");
  EXPECT_EQ(p.method_of(call_kind::refund), "wechat.refund");
}

} // namespace
} // namespace payengine::channels
