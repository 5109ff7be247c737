// Two channels (API.md v1.1 "Channels: WeChat Pay v3, and routing"):
// payengine and paysim as real processes, WeChat Pay v3 signatures and
// encrypted notifications both ways, and `auto` orders routed between
// Alipay and WeChat Pay while paysim makes one of them fail.
#include "channels/wechat.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/engine_process.hpp"
#include "tests/support/paysim_for_tests.hpp"
#include "tests/support/test_db.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <thread>

namespace payengine {
namespace {

using json = nlohmann::json;
using testing::engine_process;
using testing::order_body;
using testing::start_paysim;
using testing::test_channel_keys;
using testing::test_database;

int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

class channels_test : public ::testing::Test {
protected:
  void SetUp() override {
    PE_REQUIRE_DATABASE();
    sim_ = start_paysim();
    db_ = std::make_unique<test_database>("chan");
    env_ = testing::both_channels(*sim_);
    env_.insert({
      {"PAYENGINE_SMS_URL", sim_->url() + "/sms/send"},
      {"PAYENGINE_TIME_SCALE", "100"},
      // A failing channel is given up on quickly: one try per call, and
      // the breaker opens after 3 failed attempts for 2 s (at the scale).
      {"PAYENGINE_GATEWAY_ATTEMPTS_MAX", "1"},
      {"PAYENGINE_GATEWAY_BREAKER_FAILURES_MAX", "3"},
      {"PAYENGINE_GATEWAY_BREAKER_OPEN_MS", "200000"},
      // An answer held back by paysim is no answer (a read timeout).
      {"PAYENGINE_GATEWAY_READ_TIMEOUT_MS", "400"},
    });
    engine_ = std::make_unique<engine_process>(db_->url(), env_);
    engine_->start();
    key_ = engine_->create_merchant()["api_key"].get<std::string>();
  }

  testing::http_result call(const std::string& method, const std::string& path,
                            const json& body = json::object()) {
    return engine_->request(method, path, key_, method == "GET" ? "" : body.dump());
  }

  json order(const std::string& id) { return call("GET", "/v1/orders/" + id).body; }

  /// Long-polls until `pred(order)` holds (bounded: no fixed sleeps).
  json wait_until(const std::string& id, const std::function<bool(const json&)>& pred,
                  int rounds = 40) {
    auto r = call("GET", "/v1/orders/" + id);
    auto o = r.body;
    int64_t version = 0;
    for (int i = 0; i < rounds && (r.status != 200 || !pred(o)); ++i) {
      if (r.status == 200)
        version = o["version"].get<int64_t>();
      r = call("GET", "/v1/orders/" + id + "?wait_for_change=5&version=" + std::to_string(version));
      o = r.body;
    }
    return o;
  }

  std::string create(const std::string& no, const std::string& channel) {
    auto body = order_body(no);
    body["channel"] = channel;
    body["expires_in"] = 6000; // 60 s at the time scale: the tests wait on channels
    auto r = call("POST", "/v1/orders", body);
    EXPECT_EQ(r.status, 201) << r.raw;
    return r.body["id"].get<std::string>();
  }

  /// The customer scans the QR code and pays at the channel.
  int customer_pays(const json& o) {
    auto qr = o["payment"]["qr_code"].get<std::string>();
    auto path = qr.substr(qr.find('/', std::string{"http://"}.size()));
    httplib::Client c{"127.0.0.1", sim_->port()};
    auto r = c.Post(path.c_str(), json{{"result", "success"}}.dump(), "application/json");
    return r ? r->status : 0;
  }

  /// paysim's trades of one order (both channels), oldest first.
  std::vector<json> trades_of(const std::string& id) {
    httplib::Client c{"127.0.0.1", sim_->port()};
    auto r = c.Get("/sim/trades");
    std::vector<json> out;
    if (!r)
      return out;
    const auto all = json::parse(r->body); // kept: the loop reads a part of it
    for (const auto& t : all["data"])
      if (t["out_trade_no"].get<std::string>().rfind(id + "_", 0) == 0)
        out.push_back(t);
    return out;
  }

  void faults(json body) {
    httplib::Client c{"127.0.0.1", sim_->port()};
    auto r = c.Post("/sim/faults", body.dump(), "application/json");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
  }

  std::string gateway_circuit(const std::string& channel) {
    auto r = engine_->request("GET", "/admin/actors", engine_->admin_token());
    for (const auto& g : r.body["gateways"])
      if (g["channel"] == channel)
        return g["circuit"].get<std::string>();
    return "missing";
  }

  /// A WeChat notification for `otn` as the platform would send it, signed
  /// at `ts`; `tamper` changes one thing after signing.
  testing::http_result post_notification(const std::string& otn, int64_t total,
                                         const std::string& tamper = {}, int64_t ts = 0) {
    namespace wx = channels::wechat;
    const auto& k = test_channel_keys();
    wx::transaction t;
    t.appid = testing::test_wechat_app_id;
    t.mchid = testing::test_wechat_mch_id;
    t.out_trade_no = otn;
    t.transaction_id = "4200000000" + std::to_string(now_s());
    t.trade_type = "NATIVE";
    t.state = wx::trade_state::success;
    t.trade_state_desc = "paid";
    t.success_time = wx::format_rfc3339(now_s() * 1'000'000);
    t.total = total;
    t.payer_total = total;
    wx::notification n;
    n.id = "notify-" + otn + "-" + tamper;
    n.create_time = t.success_time;
    n.event_type = "TRANSACTION.SUCCESS";
    n.summary = "payment succeeded";
    n.original_type = "transaction";
    n.trade = t;
    std::string key = testing::test_apiv3_key;
    if (tamper == "wrong_apiv3_key")
      key = "another-apiv3-key-of-32-bytes-xx";
    auto body = wx::make_notification(n, key, "nonce0123456");
    EXPECT_TRUE(body);
    std::string text = body.value();
    auto platform = channels::private_key::from_pem_file(k.channel_private).value();
    if (tamper == "wrong_signer")
      platform = channels::private_key::from_pem_file(k.app_private).value();
    auto headers = wx::sign_response(platform, testing::test_wechat_platform_serial, text,
                                     ts ? ts : now_s(), "n0nce-" + tamper);
    EXPECT_TRUE(headers);
    auto h = headers.value();
    if (tamper == "ciphertext") {
      auto j = json::parse(text);
      auto c = j["resource"]["ciphertext"].get<std::string>();
      c[4] = c[4] == 'A' ? 'B' : 'A';
      j["resource"]["ciphertext"] = c;
      text = j.dump(); // then re-signed: only the AEAD tag can tell
      h = wx::sign_response(platform, testing::test_wechat_platform_serial, text, now_s(),
                            "n0nce-c").value();
    }
    if (tamper == "body")
      text.insert(text.size() - 1, " ");
    if (tamper == "probe")
      for (auto& [name, value] : h)
        if (name == "Wechatpay-Signature")
          value = "WECHATPAY/SIGNTEST/" + value;
    httplib::Headers hs;
    for (const auto& [name, value] : h)
      hs.emplace(name, value);
    httplib::Client c{"127.0.0.1", engine_->port()};
    auto r = c.Post("/v1/callbacks/wechat", hs, text, "application/json");
    testing::http_result out;
    if (r) {
      out.status = r->status;
      out.raw = r->body;
      out.body = json::parse(r->body, nullptr, false);
    }
    return out;
  }

  std::unique_ptr<test::paysim_process> sim_;
  std::unique_ptr<test_database> db_;
  std::map<std::string, std::string> env_;
  std::unique_ptr<engine_process> engine_;
  std::string key_;
};

TEST_F(channels_test, a_wechat_order_is_paid_end_to_end_and_refunded_there) {
  auto id = create("M-wx-1", "wechat");
  auto paying = call("POST", "/v1/orders/" + id + "/pay");
  ASSERT_EQ(paying.status, 202) << paying.raw;
  EXPECT_EQ(paying.body["payment"]["channel"], "wechat");
  auto awaiting = wait_until(id, [](const json& o) { return o["status"] == "awaiting_payment"; });
  ASSERT_EQ(awaiting["status"], "awaiting_payment") << awaiting.dump();
  auto trades = trades_of(id);
  ASSERT_EQ(trades.size(), 1u);
  EXPECT_EQ(trades[0]["channel"], "wechat");
  EXPECT_EQ(trades[0]["status"], "NOTPAY");
  EXPECT_EQ(trades[0]["total_amount"], 8888); // integer fen, as sent

  ASSERT_EQ(customer_pays(awaiting), 200);
  auto paid = wait_until(id, [](const json& o) { return o["status"] == "paid"; });
  ASSERT_EQ(paid["status"], "paid") << paid.dump();
  EXPECT_EQ(paid["payment"]["channel"], "wechat");
  EXPECT_EQ(paid["payment"]["channel_trade_no"], trades_of(id)[0]["trade_no"]);
  // The encrypted notification was delivered once it was committed (204).
  // paysim marks it when the answer reaches it, which may be just after a
  // read of the committed order: poll for it (bounded).
  json delivered;
  for (int i = 0; i < 400; ++i) {
    delivered = trades_of(id)[0]["notifications"];
    if (!delivered.empty() && delivered[0]["delivered"].get<bool>())
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds{25});
  }
  ASSERT_FALSE(delivered.empty());
  EXPECT_TRUE(delivered[0]["delivered"].get<bool>()) << delivered.dump();

  auto refund = call("POST", "/v1/orders/" + id + "/refunds", {{"amount", 888}});
  ASSERT_EQ(refund.status, 202) << refund.raw;
  auto rid = refund.body["id"].get<std::string>();
  auto partly = wait_until(id, [](const json& o) { return o["amount_refunded"] == 888; });
  EXPECT_EQ(partly["amount_refunded"], 888) << partly.dump();
  EXPECT_EQ(call("GET", "/v1/orders/" + id + "/refunds").body["data"][0]["status"], "succeeded");
  auto t = trades_of(id)[0];
  EXPECT_EQ(t["refunded_amount"], 888);
  ASSERT_EQ(t["refunds"].size(), 1u);
  EXPECT_EQ(t["refunds"][0]["out_request_no"], rid); // out_refund_no: a retry is not paid twice
}

TEST_F(channels_test, forged_stale_tampered_and_probe_notifications_change_nothing) {
  auto id = create("M-wx-2", "wechat");
  ASSERT_EQ(call("POST", "/v1/orders/" + id + "/pay").status, 202);
  auto awaiting = wait_until(id, [](const json& o) { return o["status"] == "awaiting_payment"; });
  ASSERT_EQ(awaiting["status"], "awaiting_payment");
  const auto otn = id + "_1";
  const auto version = awaiting["version"];
  for (const auto& tamper : {"wrong_signer", "body", "ciphertext", "probe", "wrong_apiv3_key"}) {
    auto r = post_notification(otn, 8888, tamper);
    EXPECT_EQ(r.status, 400) << tamper << ": " << r.raw;
    EXPECT_EQ(order(id)["version"], version) << tamper;
  }
  auto stale = post_notification(otn, 8888, "stale", now_s() - 301);
  EXPECT_EQ(stale.status, 400) << stale.raw;
  // Whole seconds, and the engine reads its clock later than this test:
  // ahead by a clear margin, so that the time the request takes never
  // brings it back inside the window.
  auto future = post_notification(otn, 8888, "future", now_s() + 330);
  EXPECT_EQ(future.status, 400) << future.raw;
  EXPECT_EQ(order(id)["version"], version);
  EXPECT_EQ(order(id)["status"], "awaiting_payment");
  // The genuine article is applied: 204 only after the commit.
  auto good = post_notification(otn, 8888);
  EXPECT_EQ(good.status, 204) << good.raw;
  EXPECT_EQ(order(id)["status"], "paid");
  // Replayed: idempotent.
  EXPECT_EQ(post_notification(otn, 8888).status, 204);
  EXPECT_EQ(order(id)["status"], "paid");
}

// An independent implementation (npm wechatpay-axios-plugin, through
// tests/node/wechat_official_client.mjs notify) builds a signed, encrypted
// notification that the engine accepts; tampered after signing, refused.
TEST_F(channels_test, a_notification_from_the_official_client_is_accepted) {
  const char* node_checks = std::getenv("PAYENGINE_NODE_CHECKS");
  if (node_checks == nullptr)
    GTEST_SKIP() << "PAYENGINE_NODE_CHECKS not set (scripts/test.sh sets it)";
  auto id = create("M-wx-node", "wechat");
  ASSERT_EQ(call("POST", "/v1/orders/" + id + "/pay").status, 202);
  auto awaiting = wait_until(id, [](const json& o) { return o["status"] == "awaiting_payment"; });
  ASSERT_EQ(awaiting["status"], "awaiting_payment");
  const auto& k = test_channel_keys();
  auto command = [&](const std::string& extra) {
    return std::string("node ") + node_checks + "/wechat_official_client.mjs notify http://127.0.0.1:"
           + std::to_string(engine_->port()) + " --platform-private-key-file " + k.channel_private
           + " --platform-serial " + testing::test_wechat_platform_serial + " --apiv3-key-file "
           + k.apiv3_key + " --mchid " + testing::test_wechat_mch_id + " --appid "
           + testing::test_wechat_app_id + " --out-trade-no " + id + "_1 --amount 8888" + extra
           + " 2>&1";
  };
  auto tampered = testing::run_command(command(" --tamper"));
  EXPECT_NE(WEXITSTATUS(tampered.status), 0) << tampered.output;
  EXPECT_EQ(order(id)["status"], "awaiting_payment");
  auto good = testing::run_command(command(""));
  EXPECT_EQ(WEXITSTATUS(good.status), 0) << good.output;
  EXPECT_NE(good.output.find("\"status\":204"), std::string::npos) << good.output;
  EXPECT_EQ(order(id)["status"], "paid");
}

TEST_F(channels_test, a_channel_without_its_settings_is_not_offered) {
  auto body = order_body("M-none");
  body["channel"] = "unionpay";
  auto r = call("POST", "/v1/orders", body);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body["error"]["param"], "channel");
  // An engine with Alipay only: "wechat" is a 400, "auto" still works.
  auto env = env_;
  env.erase("PAYENGINE_WECHAT_GATEWAY_URL");
  test_database other{"chan_alipay"}; // its own: engines on one database form a cluster
  engine_process alipay_only{other.url(), env};
  alipay_only.start();
  auto k = alipay_only.create_merchant()["api_key"].get<std::string>();
  body = order_body("M-wx-missing");
  body["channel"] = "wechat";
  auto refused = alipay_only.request("POST", "/v1/orders", k, body.dump());
  EXPECT_EQ(refused.status, 400) << refused.raw;
  EXPECT_EQ(refused.body["error"]["param"], "channel");
  body["channel"] = "auto";
  EXPECT_EQ(alipay_only.request("POST", "/v1/orders", k, body.dump()).status, 201);
}

TEST_F(channels_test, auto_sends_new_payments_to_wechat_once_alipay_breaker_opens) {
  // Healthy: the first configured channel.
  auto first = create("M-auto-0", "auto");
  ASSERT_EQ(call("POST", "/v1/orders/" + first + "/pay").status, 202);
  auto shown = wait_until(first, [](const json& o) { return o["status"] == "awaiting_payment"; });
  ASSERT_EQ(shown["payment"]["channel"], "alipay");

  // Alipay answers only errors now (nothing is done there).
  faults({{"channel", "alipay"}, {"error_rate", 1.0}});
  std::vector<std::string> early;
  for (int i = 0; i < 6 && gateway_circuit("alipay") != "open"; ++i) {
    auto id = create("M-auto-e" + std::to_string(i), "auto");
    call("POST", "/v1/orders/" + id + "/pay");
    early.push_back(id);
    wait_until(id, [](const json& o) { return o["version"].get<int64_t>() >= 2; }, 2);
  }
  // The breaker opens after 3 failed attempts (each early order made a
  // prepay and its query before moving on).
  for (int i = 0; i < 40 && gateway_circuit("alipay") != "open"; ++i)
    wait_until(early.back(), [](const json&) { return false; }, 1);
  ASSERT_EQ(gateway_circuit("alipay"), "open");

  // New payments go to WeChat Pay, and are paid there.
  for (int i = 0; i < 3; ++i) {
    auto id = create("M-auto-n" + std::to_string(i), "auto");
    auto r = call("POST", "/v1/orders/" + id + "/pay");
    ASSERT_EQ(r.status, 202) << r.raw;
    EXPECT_EQ(r.body["payment"]["channel"], "wechat");
    auto o = wait_until(id, [](const json& o) { return o["status"] == "awaiting_payment"; });
    ASSERT_EQ(o["payment"]["channel"], "wechat") << o.dump();
    ASSERT_EQ(customer_pays(o), 200);
    EXPECT_EQ(wait_until(id, [](const json& o) { return o["status"] == "paid"; })["status"], "paid");
    auto ts = trades_of(id);
    ASSERT_EQ(ts.size(), 1u);
    EXPECT_EQ(ts[0]["channel"], "wechat");
  }

  // The order that showed an Alipay QR code never opens a WeChat trade
  // while that trade may be open: paying it again stays on Alipay, which is
  // down (503, nothing changed).
  auto again = call("POST", "/v1/orders/" + first + "/pay");
  EXPECT_TRUE(again.status == 202 || again.status == 503) << again.raw;
  for (const auto& t : trades_of(first))
    EXPECT_EQ(t["channel"], "alipay") << t.dump();
  EXPECT_EQ(order(first)["payment"]["channel"], "alipay");
  // Nothing was ever paid twice.
  for (const auto& id : early) {
    int paid = 0;
    for (const auto& t : trades_of(id))
      paid += t["paid_amount"].get<int64_t>() > 0;
    EXPECT_LE(paid, 1) << id;
  }
}

TEST_F(channels_test, an_unknown_outcome_is_queried_and_closed_before_another_channel) {
  // Alipay does the work but holds its answers past the engine's deadline:
  // the prepay's outcome is unknown, and so is the query's.
  faults({{"channel", "alipay"}, {"timeout_rate", 1.0}, {"timeout_ms", 1500}});
  auto id = create("M-auto-u", "auto");
  auto r = call("POST", "/v1/orders/" + id + "/pay");
  ASSERT_EQ(r.status, 202) << r.raw;
  EXPECT_EQ(r.body["payment"]["channel"], "alipay");
  // The trade exists at Alipay: the engine may not open a WeChat one yet.
  for (int i = 0; i < 40 && trades_of(id).empty(); ++i)
    wait_until(id, [](const json&) { return false; }, 1);
  ASSERT_EQ(trades_of(id).size(), 1u);
  wait_until(id, [](const json&) { return false; }, 2);
  for (const auto& t : trades_of(id))
    EXPECT_EQ(t["channel"], "alipay") << "a second channel before the first trade was closed";
  EXPECT_EQ(order(id)["status"], "paying");

  // Alipay answers again: the engine learns the trade is open there, closes
  // it, and only then opens one on WeChat Pay.
  faults({{"channel", "alipay"}});
  auto o = wait_until(id, [](const json& o) { return o["status"] == "awaiting_payment"; }, 80);
  ASSERT_EQ(o["status"], "awaiting_payment") << o.dump();
  ASSERT_EQ(o["payment"]["channel"], "wechat") << o.dump();
  EXPECT_EQ(o["payment"]["attempt"], 2);
  auto ts = trades_of(id);
  ASSERT_EQ(ts.size(), 2u);
  EXPECT_EQ(ts[0]["channel"], "alipay");
  EXPECT_EQ(ts[0]["status"], "TRADE_CLOSED"); // closed before WeChat's was opened
  EXPECT_EQ(ts[1]["channel"], "wechat");
  auto events = call("GET", "/v1/orders/" + id + "/events").body["data"];
  bool rerouted = false;
  for (const auto& e : events)
    rerouted = rerouted || e["type"] == "payment.rerouted";
  EXPECT_TRUE(rerouted) << events.dump();
  ASSERT_EQ(customer_pays(o), 200);
  EXPECT_EQ(wait_until(id, [](const json& o) { return o["status"] == "paid"; })["status"], "paid");
}

} // namespace
} // namespace payengine
