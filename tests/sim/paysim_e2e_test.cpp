// End-to-end: the real paysim binary driven over HTTP with pe_channels.
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "channels/alipay.hpp"
#include "tests/channels/test_keys.hpp"
#include "tests/sim/notify_receiver.hpp"
#include "tests/sim/paysim_process.hpp"
#include "tests/sim/sim_test_support.hpp"
#include "tests/support/child_process.hpp"

namespace payengine {
namespace {

namespace alipay = channels::alipay;
using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* app_id = "2021000000000001";

using test::eventually;
using test::write_temp;

// Keys written once per binary: the app's pair and the simulator's pair.
struct key_files {
  std::string sim_private = write_temp("sim.pem", test::channel_pems().private_pem);
  std::string app_public = write_temp("app.pub", test::app_pems().public_pem);
  ~key_files() {
    std::remove(sim_private.c_str());
    std::remove(app_public.c_str());
  }
};

const key_files& files() {
  static const key_files f;
  return f;
}

class paysim_e2e : public ::testing::Test {
 protected:
  paysim_e2e()
      : sim_({"--listen", "127.0.0.1:0", "--private-key-file", files().sim_private, "--app-public-key-file",
              files().app_public, "--time-scale", "10000"},
             {}),
        client_("127.0.0.1", sim_.port()) {
    client_.set_read_timeout(10s);
  }

  void TearDown() override { EXPECT_EQ(sim_.stop(), 0); }

  static const channels::private_key& app_key() { return test::app_private(); }
  static const channels::public_key& sim_public() { return test::channel_public(); }

  alipay::request_envelope envelope(std::string notify_url = "") const {
    return {app_id, std::move(notify_url), alipay::format_timestamp(std::chrono::system_clock::now())};
  }

  std::string gateway(const std::string& form_body) {
    const auto res = client_.Post("/gateway.do", form_body, "application/x-www-form-urlencoded;charset=utf-8");
    if (!res) return "no response";
    return res->body;
  }

  template <class Request>
  std::string call(const Request& request, const std::string& notify_url = "") {
    return gateway(alipay::build_request(request, envelope(notify_url), app_key()).value());
  }

  alipay::precreate_response precreate(const std::string& out_trade_no, std::int64_t amount,
                                       const std::string& notify_url = "") {
    const auto text = call(alipay::precreate_request{out_trade_no, amount, "Annual plan", "15m", ""}, notify_url);
    auto parsed = alipay::parse_precreate_response(text, sim_public());
    EXPECT_TRUE(parsed) << text;
    return parsed ? *parsed : alipay::precreate_response{};
  }

  alipay::query_response query(const std::string& out_trade_no) {
    return alipay::parse_query_response(call(alipay::query_request{out_trade_no, ""}), sim_public()).value();
  }

  alipay::refund_response refund(const std::string& out_trade_no, std::int64_t amount, const std::string& request_no) {
    const auto text = call(alipay::refund_request{out_trade_no, "", amount, request_no, ""});
    return alipay::parse_refund_response(text, sim_public()).value();
  }

  // The buyer scans `qr_code` and answers `body`.
  int scan(const std::string& qr_code, const json& body) {
    const auto path = qr_code.substr(qr_code.find("/qr/"));
    const auto res = client_.Post(path, body.dump(), "application/json");
    return res ? res->status : -1;
  }

  json sim_get(const std::string& path) {
    const auto res = client_.Get(path);
    return res && res->status == 200 ? json::parse(res->body) : json{};
  }

  test::paysim_process sim_;
  httplib::Client client_;
};

TEST_F(paysim_e2e, pay_sends_a_signed_notification) {
  test::notify_receiver merchant({"success"});
  const auto created = precreate("ord_pay_1", 8888, merchant.url());
  EXPECT_TRUE(created.head.ok());
  EXPECT_EQ(created.out_trade_no, "ord_pay_1");
  EXPECT_EQ(created.qr_code.rfind(sim_.url() + "/qr/", 0), 0u) << created.qr_code;
  EXPECT_EQ(query("ord_pay_1").status, alipay::trade_status::wait_buyer_pay);

  ASSERT_EQ(scan(created.qr_code, {{"result", "success"}}), 200);
  ASSERT_TRUE(merchant.wait_for(1));
  const auto notice = alipay::verify_notification(merchant.bodies().at(0), sim_public(), app_id);
  ASSERT_TRUE(notice) << notice.error().detail;
  EXPECT_EQ(notice->out_trade_no, "ord_pay_1");
  EXPECT_EQ(notice->status, alipay::trade_status::trade_success);
  EXPECT_EQ(notice->total_amount, 8888);
  EXPECT_TRUE(notice->gmt_payment);

  const auto paid = query("ord_pay_1");
  EXPECT_EQ(paid.status, alipay::trade_status::trade_success);
  EXPECT_EQ(paid.total_amount, 8888);
  EXPECT_EQ(paid.trade_no, notice->trade_no);
  EXPECT_TRUE(eventually([&] { return sim_get("/sim/trades/ord_pay_1")["notifications"][0]["delivered"] == true; }));
  EXPECT_EQ(scan(created.qr_code, {{"result", "success"}}), 409);  // paid once only
}

TEST_F(paysim_e2e, notifications_retry_until_success) {
  test::notify_receiver merchant({"fail", "fail", "success"});
  const auto created = precreate("ord_retry_1", 100, merchant.url());
  ASSERT_EQ(scan(created.qr_code, {{"result", "success"}}), 200);
  ASSERT_TRUE(merchant.wait_for(3));
  const auto bodies = merchant.bodies();
  EXPECT_EQ(bodies.at(0), bodies.at(2));  // the same notification again
  ASSERT_TRUE(eventually([&] { return sim_get("/sim/trades/ord_retry_1")["notifications"][0]["delivered"] == true; }));
  const auto delivery = sim_get("/sim/trades/ord_retry_1")["notifications"][0];
  EXPECT_EQ(delivery["attempts"], 3);
  EXPECT_EQ(delivery["last_status"], "success");
  EXPECT_EQ(merchant.bodies().size(), 3u);
}

TEST_F(paysim_e2e, dropped_attempts_count_as_failed_and_are_retried) {
  test::notify_receiver merchant({"success"});
  ASSERT_EQ(client_.Post("/sim/faults", R"({"drop_notify_rate": 1})", "application/json")->status, 200);
  const auto created = precreate("ord_drop_1", 100, merchant.url());
  ASSERT_EQ(scan(created.qr_code, {{"result", "success"}}), 200);
  ASSERT_TRUE(eventually([&] { return sim_get("/sim/trades/ord_drop_1")["notifications"][0]["attempts"] >= 2; }));
  EXPECT_EQ(sim_get("/sim/trades/ord_drop_1")["notifications"][0]["last_status"], "dropped");
  EXPECT_TRUE(merchant.bodies().empty());
  ASSERT_EQ(client_.Post("/sim/faults", "{}", "application/json")->status, 200);
  EXPECT_TRUE(merchant.wait_for(1));
}

TEST_F(paysim_e2e, duplicate_fault_sends_twice) {
  test::notify_receiver merchant({"success"});
  ASSERT_EQ(client_.Post("/sim/faults", R"({"duplicate_notify_rate": 1})", "application/json")->status, 200);
  const auto created = precreate("ord_dup_1", 100, merchant.url());
  ASSERT_EQ(scan(created.qr_code, {{"result", "success"}}), 200);
  ASSERT_TRUE(merchant.wait_for(2));
  EXPECT_EQ(merchant.bodies().at(0), merchant.bodies().at(1));
}

TEST_F(paysim_e2e, reorder_fault_sends_a_notification_after_the_next_one) {
  test::notify_receiver merchant({"success"});
  ASSERT_EQ(client_.Post("/sim/faults", R"({"reorder_notify": true})", "application/json")->status, 200);
  const auto first = precreate("ord_order_1", 100, merchant.url());
  const auto second = precreate("ord_order_2", 100, merchant.url());
  ASSERT_EQ(scan(first.qr_code, {{"result", "success"}}), 200);
  ASSERT_EQ(scan(second.qr_code, {{"result", "success"}}), 200);
  ASSERT_TRUE(merchant.wait_for(2));
  const auto bodies = merchant.bodies();
  EXPECT_EQ(alipay::verify_notification(bodies.at(0), sim_public(), app_id)->out_trade_no, "ord_order_2");
  EXPECT_EQ(alipay::verify_notification(bodies.at(1), sim_public(), app_id)->out_trade_no, "ord_order_1");
}

TEST_F(paysim_e2e, timeout_fault_does_the_work_but_answers_late) {
  ASSERT_EQ(client_.Post("/sim/faults", R"({"timeout_rate": 1, "timeout_ms": 2000})", "application/json")->status,
            200);
  httplib::Client impatient("127.0.0.1", sim_.port());
  impatient.set_read_timeout(200ms);
  const auto body =
      alipay::build_request(alipay::precreate_request{"ord_late_1", 100, "s", "", ""}, envelope(), app_key()).value();
  EXPECT_FALSE(impatient.Post("/gateway.do", body, "application/x-www-form-urlencoded"));
  ASSERT_EQ(client_.Post("/sim/faults", "{}", "application/json")->status, 200);
  EXPECT_EQ(query("ord_late_1").status, alipay::trade_status::wait_buyer_pay);
}

TEST_F(paysim_e2e, hostile_gateway_input_gets_a_signed_refusal) {
  for (const std::string& body : std::vector<std::string>{"%FF=1&%FF=2", "method=alipay.trade.query&%zz",
                                                         std::string(70'000, 'a'), ""}) {
    const auto res = client_.Post("/gateway.do", body, "application/x-www-form-urlencoded");
    ASSERT_TRUE(res);
    if (res->status == 413) continue;  // over the body limit
    EXPECT_EQ(res->status, 200);
    const auto parsed = alipay::parse_query_response(res->body, sim_public());
    ASSERT_TRUE(parsed) << res->body;
    EXPECT_EQ(parsed->head.classify(), alipay::outcome::rejected);
  }
}

TEST_F(paysim_e2e, scan_fail_closes_and_tampered_amount_is_reported) {
  test::notify_receiver merchant({"success"});
  const auto failed = precreate("ord_fail_1", 500, merchant.url());
  ASSERT_EQ(scan(failed.qr_code, {{"result", "fail"}}), 200);
  ASSERT_TRUE(merchant.wait_for(1));
  EXPECT_EQ(alipay::verify_notification(merchant.bodies().at(0), sim_public(), app_id)->status,
            alipay::trade_status::trade_closed);

  const auto tampered = precreate("ord_tamper_1", 8888, merchant.url());
  ASSERT_EQ(scan(tampered.qr_code, {{"result", "success"}, {"amount", 1}}), 200);
  ASSERT_TRUE(merchant.wait_for(2));
  EXPECT_EQ(alipay::verify_notification(merchant.bodies().at(1), sim_public(), app_id)->total_amount, 1);
  EXPECT_EQ(scan(tampered.qr_code, {{"result", "maybe"}}), 400);
  EXPECT_EQ(scan(tampered.qr_code, {{"result", "success"}, {"amount", 0}}), 400);
  EXPECT_EQ(scan(sim_.url() + "/qr/nope", {{"result", "success"}}), 404);
}

TEST_F(paysim_e2e, precreate_is_idempotent_and_closed_numbers_stay_closed) {
  const auto first = precreate("ord_idem_1", 8888);
  const auto again = precreate("ord_idem_1", 8888);
  EXPECT_EQ(first.qr_code, again.qr_code);
  EXPECT_EQ(precreate("ord_idem_1", 100).head.sub_code, alipay::sub_codes::context_inconsistent);

  const auto closed = alipay::parse_close_response(call(alipay::close_request{"ord_idem_1", ""}), sim_public());
  ASSERT_TRUE(closed);
  EXPECT_TRUE(closed->head.ok());
  EXPECT_EQ(query("ord_idem_1").status, alipay::trade_status::trade_closed);
  EXPECT_EQ(precreate("ord_idem_1", 8888).head.sub_code, alipay::sub_codes::trade_has_close);
  const auto unknown = query("ord_never");
  EXPECT_EQ(unknown.head.code, alipay::codes::business_failed);
  EXPECT_EQ(unknown.head.sub_code, alipay::sub_codes::trade_not_exist);
}

TEST_F(paysim_e2e, close_refuses_a_paid_trade) {
  const auto created = precreate("ord_close_1", 300);
  ASSERT_EQ(scan(created.qr_code, {{"result", "success"}}), 200);
  const auto closed = alipay::parse_close_response(call(alipay::close_request{"ord_close_1", ""}), sim_public());
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->head.sub_code, alipay::sub_codes::trade_status_error);
  EXPECT_EQ(closed->head.classify(), alipay::outcome::business_failure);
}

TEST_F(paysim_e2e, refunds_are_idempotent_and_bounded) {
  const auto created = precreate("ord_refund_1", 1000);
  EXPECT_EQ(refund("ord_refund_1", 100, "r1").head.sub_code, alipay::sub_codes::trade_status_error);  // unpaid
  ASSERT_EQ(scan(created.qr_code, {{"result", "success"}}), 200);
  const auto first = refund("ord_refund_1", 400, "r1");
  ASSERT_TRUE(first.head.ok()) << first.head.sub_msg;
  EXPECT_TRUE(first.fund_change);
  EXPECT_EQ(first.refund_fee, 400);
  const auto replay = refund("ord_refund_1", 400, "r1");
  EXPECT_TRUE(replay.head.ok());
  EXPECT_FALSE(replay.fund_change);
  EXPECT_EQ(replay.refund_fee, 400);
  EXPECT_EQ(refund("ord_refund_1", 601, "r2").head.sub_code, alipay::sub_codes::refund_amount_exceeded);
  EXPECT_TRUE(refund("ord_refund_1", 600, "r3").head.ok());
  EXPECT_EQ(query("ord_refund_1").status, alipay::trade_status::trade_closed);  // fully refunded
  EXPECT_EQ(refund("ord_refund_1", 1, "r4").head.sub_code, alipay::sub_codes::trade_status_error);
}

TEST_F(paysim_e2e, forged_or_unsigned_requests_are_refused) {
  const auto request = alipay::precreate_request{"ord_forged_1", 100, "s", "", ""};
  const auto& forger = test::channel_private();
  const auto forged = alipay::parse_precreate_response(
      gateway(alipay::build_request(request, envelope(), forger).value()), sim_public());
  ASSERT_TRUE(forged);  // the refusal itself is signed by the simulator
  EXPECT_EQ(forged->head.code, alipay::codes::invalid_argument);
  EXPECT_EQ(forged->head.sub_code, alipay::sub_codes::invalid_signature);

  auto fields = channels::form_decode(alipay::build_request(request, envelope(), app_key()).value()).value();
  fields["timestamp"] = "2000-01-01 00:00:00";  // altered after signing
  EXPECT_EQ(alipay::parse_precreate_response(gateway(channels::form_encode(fields)), sim_public())->head.sub_code,
            alipay::sub_codes::invalid_signature);
  fields.erase("sign");
  EXPECT_EQ(alipay::parse_precreate_response(gateway(channels::form_encode(fields)), sim_public())->head.sub_code,
            alipay::sub_codes::missing_signature);
  EXPECT_EQ(query("ord_forged_1").head.sub_code, alipay::sub_codes::trade_not_exist);  // nothing was created
}

TEST_F(paysim_e2e, parameters_may_come_in_the_query_string) {
  const auto body = alipay::build_request(alipay::query_request{"ord_x", ""}, envelope(), app_key()).value();
  client_.set_url_encode(false);  // the query string is form-encoded already
  const auto res = client_.Post("/gateway.do?" + body, "", "application/x-www-form-urlencoded");
  ASSERT_TRUE(res);
  EXPECT_EQ(alipay::parse_query_response(res->body, sim_public())->head.sub_code,
            alipay::sub_codes::trade_not_exist);
}

TEST_F(paysim_e2e, fault_settings_are_validated) {
  for (const char* bad : {R"({"error_rate": 1.5})", R"({"latency_ms": -1})", R"({"latency_ms": 1.5})",
                          R"({"reorder_notify": "yes"})", R"({"drop_notify_rate": "0.1"})", R"({"bogus": 1})",
                          "[]", "not json"}) {
    const auto res = client_.Post("/sim/faults", bad, "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400) << bad;
    EXPECT_TRUE(json::parse(res->body).contains("error")) << bad;
  }
  for (const char* bad : {R"({"channel": "paypal"})", R"({"channel": 1})"}) {
    EXPECT_EQ(client_.Post("/sim/faults", bad, "application/json")->status, 400) << bad;
  }
  EXPECT_EQ(client_.Get("/sim/faults?channel=paypal")->status, 400);
  const auto set = client_.Post("/sim/faults", R"({"latency_ms": 1, "reorder_notify": true})", "application/json");
  ASSERT_EQ(set->status, 200);
  const auto current = sim_get("/sim/faults");  // without "channel": both
  for (const char* channel : {"alipay", "wechat"}) {
    EXPECT_EQ(current[channel]["latency_ms"], 1) << current.dump();
    EXPECT_EQ(current[channel]["reorder_notify"], true);
    EXPECT_EQ(current[channel]["error_rate"], 0.0);
  }
  ASSERT_EQ(client_.Post("/sim/faults", R"({"error_rate": 0.5, "channel": "wechat"})", "application/json")->status,
            200);
  EXPECT_EQ(sim_get("/sim/faults?channel=wechat")["error_rate"], 0.5);
  EXPECT_EQ(sim_get("/sim/faults?channel=wechat")["latency_ms"], 0);  // a setting replaces the channel's faults
  EXPECT_EQ(sim_get("/sim/faults?channel=alipay")["latency_ms"], 1);  // the other channel keeps its own
}

TEST_F(paysim_e2e, error_faults_answer_500_or_signed_unavailable) {
  ASSERT_EQ(client_.Post("/sim/faults", R"({"error_rate": 1})", "application/json")->status, 200);
  for (int i = 0; i < 8; ++i) {
    const auto body = alipay::build_request(alipay::query_request{"ord_x", ""}, envelope(), app_key()).value();
    const auto res = client_.Post("/gateway.do", body, "application/x-www-form-urlencoded");
    ASSERT_TRUE(res);
    if (res->status == 500) continue;
    const auto parsed = alipay::parse_query_response(res->body, sim_public());
    ASSERT_TRUE(parsed) << res->body;
    EXPECT_EQ(parsed->head.code, alipay::codes::unavailable);
    EXPECT_EQ(parsed->head.classify(), alipay::outcome::retryable);
  }
}

TEST_F(paysim_e2e, sms_round_trip) {
  const json message = {{"to", "+8613800000000"}, {"text", "Your order ord_1 is paid"}, {"id", "sms_1"}};
  for (int i = 0; i < 2; ++i) {  // the second send is a replay
    const auto res = client_.Post("/sms/send", message.dump(), "application/json");
    ASSERT_EQ(res->status, 200);
    EXPECT_EQ(json::parse(res->body), (json{{"id", "sms_1"}, {"status", "sent"}}));
  }
  json other = message;
  other["text"] = "different";
  EXPECT_EQ(client_.Post("/sms/send", other.dump(), "application/json")->status, 409);
  other = message;
  other["to"] = "13800000000";
  EXPECT_EQ(client_.Post("/sms/send", other.dump(), "application/json")->status, 400);
  const auto messages = sim_get("/sms/messages")["data"];
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0]["to"], "+8613800000000");
  EXPECT_EQ(messages[0]["text"], "Your order ord_1 is paid");
}

TEST_F(paysim_e2e, trades_are_listed) {
  precreate("ord_list_1", 100);
  precreate("ord_list_2", 200);
  const auto trades = sim_get("/sim/trades")["data"];
  ASSERT_EQ(trades.size(), 2u);
  EXPECT_EQ(trades[0]["channel"], "alipay");
  EXPECT_EQ(trades[0]["out_trade_no"], "ord_list_1");
  EXPECT_EQ(trades[1]["total_amount"], 200);
  EXPECT_EQ(trades[1]["status"], "WAIT_BUYER_PAY");
  EXPECT_EQ(client_.Get("/sim/trades/nope")->status, 404);
  EXPECT_EQ(client_.Get("/healthz")->status, 200);
}

// Alipay-only use: without the PAYSIM_WECHAT_* settings paysim still starts,
// and the WeChat routes say so.
TEST_F(paysim_e2e, wechat_routes_answer_500_when_not_configured) {
  for (const auto& res : {client_.Post("/v3/pay/transactions/native", "{}", "application/json"),
                          client_.Get("/v3/pay/transactions/out-trade-no/ord_x_1?mchid=1"),
                          client_.Post("/v3/pay/transactions/out-trade-no/ord_x_1/close", "{}", "application/json"),
                          client_.Post("/v3/refund/domestic/refunds", "{}", "application/json")}) {
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 500);
    EXPECT_EQ(json::parse(res->body), (json{{"code", "SYSTEM_ERROR"}, {"message", "wechat not configured"}}));
  }
  EXPECT_TRUE(precreate("ord_alipay_only", 100).head.ok());
}

// Configuration through the environment, and its refusals.
TEST(paysim_config, environment_is_read_and_bad_values_exit_non_zero) {
  test::paysim_process sim({}, {"PAYSIM_LISTEN=127.0.0.1:0", "PAYSIM_PRIVATE_KEY_FILE=" + files().sim_private,
                                "PAYSIM_APP_PUBLIC_KEY_FILE=" + files().app_public, "PAYSIM_TIME_SCALE=5"});
  httplib::Client client("127.0.0.1", sim.port());
  EXPECT_EQ(client.Get("/healthz")->status, 200);
  EXPECT_EQ(sim.stop(), 0);

  const std::string command = std::string("PAYSIM_TIME_SCALE=0.5 ") + PAYSIM_BINARY + " --private-key-file " +
                              files().sim_private + " --app-public-key-file " + files().app_public + " 2>&1";
  const auto [status, output] = testing::run_command(command);
  EXPECT_EQ(WEXITSTATUS(status), 2);
  EXPECT_EQ(output.rfind("paysim: ", 0), 0u) << output;
  EXPECT_EQ(std::count(output.begin(), output.end(), '\n'), 1) << output;
}

}  // namespace
}  // namespace payengine
