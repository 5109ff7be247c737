// End-to-end: the real paysim binary as WeChat Pay API v3, driven over HTTP
// with the shared protocol code (channels/wechat.hpp): the merchant's
// signature on every request, the platform's on every answer and
// notification, the notification resource sealed with the APIv3 key.
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "channels/alipay.hpp"
#include "channels/wechat.hpp"
#include "tests/channels/test_keys.hpp"
#include "tests/sim/notify_receiver.hpp"
#include "tests/sim/paysim_process.hpp"
#include "tests/sim/sim_test_support.hpp"
#include "tests/support/child_process.hpp"

namespace payengine {
namespace {

namespace wechat = channels::wechat;
using nlohmann::json;
using namespace std::chrono_literals;
using test::eventually;
using test::write_temp;

constexpr const char* mch_id = "1900000001";
constexpr const char* app_id = "wx0000000000000001";
constexpr const char* merchant_serial = "MERCHANT_SERIAL_TEST";
constexpr const char* platform_serial = "PLATFORM_SERIAL_TEST";
constexpr const char* apiv3_key = "0123456789abcdefghijABCDEFGHIJ01";  // 32 bytes

// The app pair is the merchant's, the channel pair the platform's.
struct key_files {
  std::string platform_private = write_temp("wx_platform.pem", test::channel_pems().private_pem);
  std::string merchant_public = write_temp("wx_merchant.pub", test::app_pems().public_pem);
  std::string apiv3 = write_temp("wx_apiv3.key", std::string(apiv3_key) + "\n");  // one newline is ignored
  std::string alipay_private = write_temp("wx_alipay.pem", test::channel_pems().private_pem);
  std::string alipay_app_public = write_temp("wx_alipay_app.pub", test::app_pems().public_pem);
  // The merchant's side, for the official client check.
  std::string merchant_private = write_temp("wx_merchant.pem", test::app_pems().private_pem);
  std::string platform_public = write_temp("wx_platform.pub", test::channel_pems().public_pem);
  ~key_files() {
    for (const auto* path : {&platform_private, &merchant_public, &apiv3, &alipay_private, &alipay_app_public,
                             &merchant_private, &platform_public}) {
      std::remove(path->c_str());
    }
  }
};

const key_files& files() {
  static const key_files f;
  return f;
}

std::vector<std::string> wechat_env() {
  return {"PAYSIM_WECHAT_PRIVATE_KEY_FILE=" + files().platform_private,
          std::string("PAYSIM_WECHAT_SERIAL=") + platform_serial,
          "PAYSIM_WECHAT_MERCHANT_PUBLIC_KEY_FILE=" + files().merchant_public,
          std::string("PAYSIM_WECHAT_MERCHANT_SERIAL=") + merchant_serial,
          "PAYSIM_WECHAT_APIV3_KEY_FILE=" + files().apiv3,
          std::string("PAYSIM_WECHAT_MCH_ID=") + mch_id,
          std::string("PAYSIM_WECHAT_APP_ID=") + app_id};
}

std::int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

channels::header_list header_list_of(const httplib::Headers& headers) {
  channels::header_list out;
  for (const auto& [name, value] : headers) out.emplace_back(name, value);
  return out;
}

struct answer {
  int status = 0;
  std::string body;
  httplib::Headers headers;

  [[nodiscard]] json object() const { return json::parse(body, nullptr, false); }
  [[nodiscard]] std::string code() const {
    const auto j = object();
    return j.is_object() && j.contains("code") ? j["code"].get<std::string>() : std::string{};
  }
  // The platform's signature verifies over exactly this body.
  [[nodiscard]] bool signed_by_platform() const {
    return wechat::verify_response(header_list_of(headers), body, test::channel_public(), platform_serial, now_s())
        .has_value();
  }
};

class paysim_wechat : public ::testing::Test {
 protected:
  paysim_wechat()
      : sim_({"--listen", "127.0.0.1:0", "--private-key-file", files().alipay_private, "--app-public-key-file",
              files().alipay_app_public, "--time-scale", "10000"},
             wechat_env()),
        client_("127.0.0.1", sim_.port()) {
    client_.set_read_timeout(10s);
  }

  void TearDown() override { EXPECT_EQ(sim_.stop(), 0); }

  // One call signed by `key` as the merchant (the body as sent is signed).
  answer call(const std::string& method, const std::string& target, const std::string& body = "",
              const channels::private_key& key = test::app_private(), const std::string& serial = merchant_serial) {
    const auto authorization =
        wechat::sign_request(key, mch_id, serial, method, target, body, now_s(), "NONCE" + std::to_string(++nonce_));
    return send(method, target, body, {{"Authorization", authorization.value()}});
  }

  answer send(const std::string& method, const std::string& target, const std::string& body,
              const httplib::Headers& headers) {
    const auto res = method == "GET" ? client_.Get(target, headers)
                                     : client_.Post(target, headers, body, "application/json");
    if (!res) return {};
    return {res->status, res->body, res->headers};
  }

  static json order(const std::string& out_trade_no, std::int64_t total, const std::string& notify_url) {
    return {{"appid", app_id},
            {"mchid", mch_id},
            {"description", "Annual plan"},
            {"out_trade_no", out_trade_no},
            {"notify_url", notify_url},
            {"amount", {{"total", total}, {"currency", "CNY"}}}};
  }

  answer prepay(const json& body) { return call("POST", "/v3/pay/transactions/native", body.dump()); }

  std::string open(const std::string& out_trade_no, std::int64_t total, const std::string& notify_url) {
    const auto a = prepay(order(out_trade_no, total, notify_url));
    EXPECT_EQ(a.status, 200) << a.body;
    return a.status == 200 ? a.object()["code_url"].get<std::string>() : std::string{};
  }

  answer query(const std::string& out_trade_no) {
    return call("GET", "/v3/pay/transactions/out-trade-no/" + out_trade_no + "?mchid=" + mch_id);
  }

  answer close(const std::string& out_trade_no) {
    return call("POST", "/v3/pay/transactions/out-trade-no/" + out_trade_no + "/close",
                json{{"mchid", mch_id}}.dump());
  }

  answer refund(const std::string& out_trade_no, const std::string& out_refund_no, std::int64_t amount,
                std::int64_t total, const std::string& notify_url = "") {
    json body = {{"out_trade_no", out_trade_no},
                 {"out_refund_no", out_refund_no},
                 {"amount", {{"refund", amount}, {"total", total}, {"currency", "CNY"}}}};
    if (!notify_url.empty()) body["notify_url"] = notify_url;
    return call("POST", "/v3/refund/domestic/refunds", body.dump());
  }

  // The buyer scans `code_url` (a URL on the simulator) and pays.
  int scan(const std::string& code_url, const json& body = {{"result", "success"}}) {
    const auto res = client_.Post(code_url.substr(code_url.find("/qr/")), body.dump(), "application/json");
    return res ? res->status : -1;
  }

  json sim_get(const std::string& path) {
    const auto res = client_.Get(path);
    return res && res->status == 200 ? json::parse(res->body) : json{};
  }

  static wechat::notification verified(const test::notify_receiver::received& r) {
    auto n = wechat::verify_notification(header_list_of(r.headers), r.body, test::channel_public(), platform_serial,
                                         apiv3_key, mch_id, now_s());
    EXPECT_TRUE(n) << (n ? "" : n.error().detail) << "\n" << r.body;
    return n ? *n : wechat::notification{};
  }

  test::paysim_process sim_;
  httplib::Client client_;
  int nonce_ = 0;
};

TEST_F(paysim_wechat, a_signed_prepay_is_paid_by_scanning_and_notified) {
  test::notify_receiver merchant({""}, {204});
  const auto created = prepay(order("ord_wx_pay_1", 8888, merchant.url()));
  ASSERT_EQ(created.status, 200) << created.body;
  EXPECT_TRUE(created.signed_by_platform());
  const auto code_url = created.object()["code_url"].get<std::string>();
  EXPECT_EQ(code_url.rfind(sim_.url() + "/qr/", 0), 0u) << code_url;

  const auto unpaid = query("ord_wx_pay_1");
  ASSERT_EQ(unpaid.status, 200) << unpaid.body;
  EXPECT_TRUE(unpaid.signed_by_platform());
  const auto before = wechat::read_transaction(unpaid.body);
  ASSERT_TRUE(before) << unpaid.body;
  EXPECT_EQ(before->state, wechat::trade_state::notpay);
  EXPECT_TRUE(before->transaction_id.empty());

  ASSERT_EQ(scan(code_url), 200);
  const auto paid = query("ord_wx_pay_1");
  const auto after = wechat::read_transaction(paid.body);
  ASSERT_TRUE(after) << paid.body;
  EXPECT_EQ(after->state, wechat::trade_state::success);
  EXPECT_EQ(after->appid, app_id);
  EXPECT_EQ(after->mchid, mch_id);
  EXPECT_EQ(after->trade_type, "NATIVE");
  EXPECT_EQ(after->total, 8888);
  EXPECT_EQ(after->payer_total, 8888);
  EXPECT_EQ(after->currency, "CNY");
  EXPECT_FALSE(after->transaction_id.empty());
  EXPECT_TRUE(wechat::parse_rfc3339_us(after->success_time)) << after->success_time;
  EXPECT_EQ(paid.object()["amount"]["payer_currency"], "CNY");

  ASSERT_TRUE(merchant.wait_for(1));
  const auto request = merchant.requests().at(0);
  EXPECT_EQ(request.headers.find("Content-Type")->second.rfind("application/json", 0), 0u);
  const auto notice = verified(request);
  EXPECT_EQ(notice.event_type, "TRANSACTION.SUCCESS");
  EXPECT_EQ(notice.original_type, "transaction");
  ASSERT_TRUE(notice.trade);
  EXPECT_EQ(notice.trade->out_trade_no, "ord_wx_pay_1");
  EXPECT_EQ(notice.trade->transaction_id, after->transaction_id);
  EXPECT_EQ(notice.trade->state, wechat::trade_state::success);
  EXPECT_EQ(notice.trade->total, 8888);
  EXPECT_TRUE(eventually([&] {
    return sim_get("/sim/trades/ord_wx_pay_1?channel=wechat")["notifications"][0]["delivered"] == true;
  }));
  const auto listed = sim_get("/sim/trades/ord_wx_pay_1");
  EXPECT_EQ(listed["channel"], "wechat");
  EXPECT_EQ(listed["status"], "SUCCESS");
  EXPECT_EQ(listed["notifications"][0]["event_type"], "TRANSACTION.SUCCESS");
  EXPECT_EQ(scan(code_url), 409);  // paid once only
}

TEST_F(paysim_wechat, a_bad_signature_is_refused_and_changes_nothing) {
  const std::string body = order("ord_wx_forged", 100, "http://127.0.0.1:9/notify").dump();
  const auto forged = call("POST", "/v3/pay/transactions/native", body, test::channel_private());
  EXPECT_EQ(forged.status, 401);
  EXPECT_EQ(forged.code(), "SIGN_ERROR");
  EXPECT_TRUE(forged.signed_by_platform());  // refusals are signed too

  const auto authorization = wechat::sign_request(test::app_private(), mch_id, merchant_serial, "POST",
                                                  "/v3/pay/transactions/native", body, now_s(), "N1");
  auto altered = body;
  altered.replace(altered.find("100"), 3, "001");  // the amount changed after signing
  EXPECT_EQ(send("POST", "/v3/pay/transactions/native", altered, {{"Authorization", authorization.value()}}).status,
            401);
  EXPECT_EQ(send("POST", "/v3/pay/transactions/native", body, {}).status, 401);  // unsigned
  EXPECT_EQ(call("POST", "/v3/pay/transactions/native", body, test::app_private(), "OTHER_SERIAL").status, 401);
  const auto stale = wechat::sign_request(test::app_private(), mch_id, merchant_serial, "POST",
                                          "/v3/pay/transactions/native", body, now_s() - 3600, "N2");
  EXPECT_EQ(send("POST", "/v3/pay/transactions/native", body, {{"Authorization", stale.value()}}).status, 401);
  // Signed for another path: the signature covers the URL.
  const auto elsewhere = wechat::sign_request(test::app_private(), mch_id, merchant_serial, "POST",
                                              "/v3/refund/domestic/refunds", body, now_s(), "N3");
  EXPECT_EQ(send("POST", "/v3/pay/transactions/native", body, {{"Authorization", elsewhere.value()}}).status, 401);

  const auto unknown = query("ord_wx_forged");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.code(), "ORDER_NOT_EXIST");
  EXPECT_TRUE(unknown.signed_by_platform());
  EXPECT_TRUE(sim_get("/sim/trades")["data"].empty());
}

TEST_F(paysim_wechat, prepay_is_idempotent_and_checks_its_parameters) {
  const std::string url = "http://127.0.0.1:9/notify";
  const auto first = open("ord_wx_idem_1", 500, url);
  EXPECT_EQ(open("ord_wx_idem_1", 500, url), first);
  const auto changed = prepay(order("ord_wx_idem_1", 501, url));
  EXPECT_EQ(changed.status, 403);
  EXPECT_EQ(changed.code(), "OUT_TRADE_NO_USED");

  auto other_app = order("ord_wx_bad_1", 100, url);
  other_app["appid"] = "wx_other";
  EXPECT_EQ(prepay(other_app).code(), "APPID_MCHID_NOT_MATCH");
  auto other_mch = order("ord_wx_bad_1", 100, url);
  other_mch["mchid"] = "1900000002";
  EXPECT_EQ(prepay(other_mch).code(), "PARAM_ERROR");
  for (const json& amount : {json{{"total", 0}}, json{{"total", 1.5}}, json{{"total", "100"}},
                             json{{"total", -1}}, json{{"total", 100}, {"currency", "USD"}}, json{}}) {
    auto bad = order("ord_wx_bad_1", 100, url);
    bad["amount"] = amount;
    const auto refused = prepay(bad);
    EXPECT_EQ(refused.status, 400) << amount.dump();
    EXPECT_EQ(refused.code(), "PARAM_ERROR") << amount.dump();
    EXPECT_TRUE(refused.signed_by_platform());
  }
  for (const char* number : {"short", "has space 123", "0123456789012345678901234567890123"}) {
    EXPECT_EQ(prepay(order(number, 100, url)).code(), "PARAM_ERROR") << number;
  }
  auto no_url = order("ord_wx_bad_1", 100, url);
  no_url.erase("notify_url");
  EXPECT_EQ(prepay(no_url).code(), "PARAM_ERROR");
  EXPECT_EQ(call("POST", "/v3/pay/transactions/native", "not json").code(), "PARAM_ERROR");
  EXPECT_EQ(query("ord_wx_bad_1").status, 404);
}

TEST_F(paysim_wechat, close_answers_204_and_a_paid_trade_refuses) {
  const std::string url = "http://127.0.0.1:9/notify";
  open("ord_wx_close_1", 300, url);
  const auto closed = close("ord_wx_close_1");
  EXPECT_EQ(closed.status, 204);
  EXPECT_TRUE(closed.body.empty());
  EXPECT_TRUE(closed.signed_by_platform());  // over the empty body
  EXPECT_EQ(wechat::read_transaction(query("ord_wx_close_1").body)->state, wechat::trade_state::closed);
  EXPECT_EQ(close("ord_wx_close_1").status, 204);  // again: still closed
  EXPECT_EQ(prepay(order("ord_wx_close_1", 300, url)).code(), "ORDER_CLOSED");

  const auto code_url = open("ord_wx_close_2", 300, url);
  ASSERT_EQ(scan(code_url), 200);
  const auto refused = close("ord_wx_close_2");
  EXPECT_EQ(refused.status, 400);
  EXPECT_EQ(refused.code(), "ORDERPAID");
  EXPECT_EQ(prepay(order("ord_wx_close_2", 300, url)).code(), "ORDERPAID");
  EXPECT_EQ(close("ord_wx_never").code(), "ORDER_NOT_EXIST");
  EXPECT_EQ(call("POST", "/v3/pay/transactions/out-trade-no/ord_wx_close_1/close", "{}").code(), "PARAM_ERROR");
}

TEST_F(paysim_wechat, a_failed_payment_is_payerror_and_not_notified) {
  test::notify_receiver merchant({""}, {204});
  const auto code_url = open("ord_wx_fail_1", 300, merchant.url());
  ASSERT_EQ(scan(code_url, {{"result", "fail"}}), 200);
  EXPECT_EQ(wechat::read_transaction(query("ord_wx_fail_1").body)->state, wechat::trade_state::payerror);
  EXPECT_EQ(scan(code_url), 409);
  EXPECT_FALSE(merchant.wait_for(1, 200ms));
}

TEST_F(paysim_wechat, refunds_are_idempotent_and_capped_and_notified) {
  test::notify_receiver merchant({""}, {200});
  const auto code_url = open("ord_wx_refund_1", 1000, merchant.url());
  EXPECT_EQ(refund("ord_wx_refund_1", "rf_1", 100, 1000).code(), "INVALID_REQUEST");  // unpaid
  ASSERT_EQ(scan(code_url), 200);
  ASSERT_TRUE(merchant.wait_for(1));

  const auto first = refund("ord_wx_refund_1", "rf_1", 400, 1000, merchant.url());
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_TRUE(first.signed_by_platform());
  const auto r = first.object();
  EXPECT_EQ(r["status"], "SUCCESS");
  EXPECT_EQ(r["out_refund_no"], "rf_1");
  EXPECT_EQ(r["out_trade_no"], "ord_wx_refund_1");
  EXPECT_FALSE(r["refund_id"].get<std::string>().empty());
  EXPECT_FALSE(r["transaction_id"].get<std::string>().empty());
  EXPECT_TRUE(wechat::parse_rfc3339_us(r["success_time"].get<std::string>()));
  EXPECT_EQ(r["amount"]["total"], 1000);
  EXPECT_EQ(r["amount"]["refund"], 400);
  EXPECT_EQ(r["amount"]["payer_total"], 1000);
  EXPECT_EQ(r["amount"]["payer_refund"], 400);
  EXPECT_EQ(r["amount"]["currency"], "CNY");

  const auto replay = refund("ord_wx_refund_1", "rf_1", 400, 1000, merchant.url());
  ASSERT_EQ(replay.status, 200);
  EXPECT_EQ(replay.object()["refund_id"], r["refund_id"]);  // the same refund, not a second one
  EXPECT_EQ(refund("ord_wx_refund_1", "rf_1", 300, 1000).code(), "INVALID_REQUEST");  // other amount
  EXPECT_EQ(refund("ord_wx_refund_1", "rf_2", 601, 1000).code(), "INVALID_REQUEST");  // over what is left
  EXPECT_EQ(refund("ord_wx_refund_1", "rf_3", 100, 999).code(), "PARAM_ERROR");       // not the order's total
  EXPECT_EQ(wechat::read_transaction(query("ord_wx_refund_1").body)->state, wechat::trade_state::refund);
  EXPECT_EQ(refund("ord_wx_refund_1", "rf_4", 600, 1000).status, 200);
  EXPECT_EQ(refund("ord_wx_refund_1", "rf_5", 1, 1000).code(), "INVALID_REQUEST");  // fully refunded
  EXPECT_EQ(refund("ord_wx_nope", "rf_6", 1, 1000).status, 404);
  EXPECT_EQ(sim_get("/sim/trades/ord_wx_refund_1")["refunded_amount"], 1000);

  ASSERT_TRUE(merchant.wait_for(2));  // the payment, then rf_1 (rf_4 had no notify_url)
  const auto notice = verified(merchant.requests().at(1));
  EXPECT_EQ(notice.event_type, "REFUND.SUCCESS");
  ASSERT_TRUE(notice.refund);
  EXPECT_EQ(notice.refund->out_refund_no, "rf_1");
  EXPECT_EQ(notice.refund->refund_id, r["refund_id"]);
  EXPECT_EQ(notice.refund->refund_status, "SUCCESS");
  EXPECT_EQ(notice.refund->refund, 400);
  EXPECT_EQ(notice.refund->total, 1000);
  EXPECT_FALSE(merchant.wait_for(3, 200ms));
}

TEST_F(paysim_wechat, notifications_retry_until_200_or_204_and_are_signed_afresh) {
  test::notify_receiver merchant({"FAIL", "FAIL", ""}, {500, 202, 204});
  ASSERT_EQ(scan(open("ord_wx_retry_1", 100, merchant.url())), 200);
  ASSERT_TRUE(merchant.wait_for(3));
  const auto requests = merchant.requests();
  EXPECT_EQ(requests.at(0).body, requests.at(2).body);  // the same notification again
  EXPECT_NE(requests.at(0).headers.find("Wechatpay-Nonce")->second,
            requests.at(2).headers.find("Wechatpay-Nonce")->second);  // signed for each attempt
  for (const auto& r : requests) verified(r);
  ASSERT_TRUE(eventually([&] { return sim_get("/sim/trades/ord_wx_retry_1")["notifications"][0]["delivered"] == true; }));
  EXPECT_EQ(sim_get("/sim/trades/ord_wx_retry_1")["notifications"][0]["attempts"], 3);
  EXPECT_EQ(merchant.requests().size(), 3u);
}

TEST_F(paysim_wechat, faults_apply_to_the_channel_they_name) {
  ASSERT_EQ(client_.Post("/sim/faults", R"({"error_rate": 1, "channel": "wechat"})", "application/json")->status, 200);
  for (int i = 0; i < 6; ++i) {
    const auto a = prepay(order("ord_wx_fault_1", 100, "http://127.0.0.1:9/notify"));
    EXPECT_TRUE(a.status == 500 || a.status == 429) << a.status;
    EXPECT_TRUE(a.code() == "SYSTEM_ERROR" || a.code() == "FREQUENCY_LIMITED") << a.body;
    EXPECT_TRUE(a.signed_by_platform());
  }
  // Alipay has no faults: its precreate goes through.
  const auto form = channels::alipay::build_request(
      channels::alipay::precreate_request{"ord_ali_fault_1", 100, "s", "", ""},
      {"2021000000000001", "", channels::alipay::format_timestamp(std::chrono::system_clock::now())},
      test::app_private());
  const auto precreated = client_.Post("/gateway.do", form.value(), "application/x-www-form-urlencoded");
  ASSERT_TRUE(precreated);
  EXPECT_TRUE(channels::alipay::parse_precreate_response(precreated->body, test::channel_public())->head.ok());

  // Alipay's notifications dropped, WeChat's delivered.
  test::notify_receiver merchant({""}, {204});
  ASSERT_EQ(client_.Post("/sim/faults", R"({"drop_notify_rate": 1, "channel": "alipay"})", "application/json")->status,
            200);
  EXPECT_EQ(sim_get("/sim/faults")["wechat"]["error_rate"], 1.0);
  ASSERT_EQ(client_.Post("/sim/faults", R"({"channel": "wechat"})", "application/json")->status, 200);
  ASSERT_EQ(scan(open("ord_wx_fault_2", 100, merchant.url())), 200);
  EXPECT_TRUE(merchant.wait_for(1));
  ASSERT_EQ(client_.Post("/sim/faults", R"({"drop_notify_rate": 1, "channel": "wechat"})", "application/json")->status,
            200);
  ASSERT_EQ(scan(open("ord_wx_fault_3", 100, merchant.url())), 200);
  ASSERT_TRUE(eventually([&] { return sim_get("/sim/trades/ord_wx_fault_3")["notifications"][0]["attempts"] >= 2; }));
  EXPECT_EQ(sim_get("/sim/trades/ord_wx_fault_3")["notifications"][0]["last_status"], "dropped");
  EXPECT_EQ(merchant.requests().size(), 1u);
}

TEST_F(paysim_wechat, the_same_number_at_both_channels_is_two_trades) {
  open("ord_both_1", 100, "http://127.0.0.1:9/notify");
  const auto form = channels::alipay::build_request(
      channels::alipay::precreate_request{"ord_both_1", 200, "s", "", ""},
      {"2021000000000001", "", channels::alipay::format_timestamp(std::chrono::system_clock::now())},
      test::app_private());
  ASSERT_EQ(client_.Post("/gateway.do", form.value(), "application/x-www-form-urlencoded")->status, 200);
  const auto trades = sim_get("/sim/trades")["data"];
  ASSERT_EQ(trades.size(), 2u);
  EXPECT_EQ(trades[0]["channel"], "wechat");
  EXPECT_EQ(trades[0]["status"], "NOTPAY");
  EXPECT_EQ(trades[1]["channel"], "alipay");
  EXPECT_EQ(trades[1]["total_amount"], 200);
  EXPECT_EQ(sim_get("/sim/trades/ord_both_1?channel=wechat")["total_amount"], 100);
  EXPECT_EQ(wechat::read_transaction(query("ord_both_1").body)->total, 100);
}

// An independent implementation (npm wechatpay-axios-plugin, through
// tests/node/wechat_official_client.mjs) signs a prepay paysim accepts,
// verifies paysim's signatures, sees a forged request refused, and decrypts
// the notification paysim sends it.
TEST_F(paysim_wechat, the_official_client_agrees) {
  const char* node_checks = std::getenv("PAYENGINE_NODE_CHECKS");
  if (node_checks == nullptr) GTEST_SKIP() << "PAYENGINE_NODE_CHECKS not set (scripts/test.sh sets it)";
  const std::string command =
      std::string("node ") + node_checks + "/wechat_official_client.mjs sim " + sim_.url() +
      " --merchant-private-key-file " + files().merchant_private + " --merchant-serial " + merchant_serial +
      " --platform-public-key-file " + files().platform_public + " --platform-serial " + platform_serial +
      " --apiv3-key-file " + files().apiv3 + " --mchid " + mch_id + " --appid " + app_id + " 2>&1";
  const auto checked = testing::run_command(command);
  EXPECT_EQ(WEXITSTATUS(checked.status), 0) << command << "\n" << checked.output;
  EXPECT_EQ(sim_get("/sim/trades")["data"].size(), 1u);  // the forged prepay created nothing
}

// Configuration: every PAYSIM_WECHAT_* in --help; half a WeChat
// configuration, or an APIv3 key of the wrong size, stops paysim at start.
TEST(paysim_wechat_config, help_lists_every_setting_and_half_a_configuration_is_refused) {
  const auto help = testing::run_command(std::string(PAYSIM_BINARY) + " --help 2>&1");
  EXPECT_EQ(WEXITSTATUS(help.status), 0);
  for (const auto& entry : wechat_env()) {
    const auto name = entry.substr(0, entry.find('='));
    EXPECT_NE(help.output.find(name), std::string::npos) << name << " missing from --help";
  }

  const std::string base = std::string(PAYSIM_BINARY) + " --listen 127.0.0.1:0 --private-key-file " +
                           files().alipay_private + " --app-public-key-file " + files().alipay_app_public;
  const auto half = testing::run_command("PAYSIM_WECHAT_MCH_ID=1900000001 " + base + " 2>&1");
  EXPECT_EQ(WEXITSTATUS(half.status), 2);
  EXPECT_NE(half.output.find("PAYSIM_WECHAT_APIV3_KEY_FILE"), std::string::npos) << half.output;
  EXPECT_EQ(std::count(half.output.begin(), half.output.end(), '\n'), 1) << half.output;

  const auto short_key = write_temp("wx_short.key", "too short");
  std::string env;
  for (const auto& entry : wechat_env()) {
    env += entry.rfind("PAYSIM_WECHAT_APIV3_KEY_FILE=", 0) == 0 ? "PAYSIM_WECHAT_APIV3_KEY_FILE=" + short_key : entry;
    env += ' ';
  }
  const auto bad_key = testing::run_command(env + base + " 2>&1");
  EXPECT_EQ(WEXITSTATUS(bad_key.status), 1);
  EXPECT_NE(bad_key.output.find("APIv3"), std::string::npos) << bad_key.output;
  std::remove(short_key.c_str());
}

}  // namespace
}  // namespace payengine
