// Paying through a real channel protocol: payengine and paysim as real
// processes over HTTP, RSA2 signatures both ways, asynchronous notifications.
#include "channels/alipay.hpp"
#include "tests/support/engine_process.hpp"
#include "tests/support/paysim_for_tests.hpp"
#include "tests/support/test_db.hpp"

#include <gtest/gtest.h>

#include <set>
#include <thread>

namespace payengine {
namespace {

using json = nlohmann::json;
using testing::engine_process;
using testing::order_body;
using testing::test_database;

using testing::start_paysim;

class payment_test : public ::testing::Test {
protected:
  void SetUp() override {
    PE_REQUIRE_DATABASE();
    sim_ = start_paysim();
    db_ = std::make_unique<test_database>("pay");
    engine_ = std::make_unique<engine_process>(
      db_->url(), std::map<std::string, std::string>{
                    {"PAYENGINE_ALIPAY_GATEWAY_URL", sim_->url() + "/gateway.do"},
                    {"PAYENGINE_SMS_URL", sim_->url() + "/sms/send"},
                    {"PAYENGINE_TIME_SCALE", "100"}});
    engine_->start();
    key_ = engine_->create_merchant()["api_key"].get<std::string>();
  }

  testing::http_result call(const std::string& method, const std::string& path,
                            const json& body = json::object()) {
    return engine_->request(method, path, key_, method == "GET" ? "" : body.dump());
  }

  /// Long-polls until `pred(order)` holds (bounded: no fixed sleeps).
  json wait_until(const std::string& id, const std::function<bool(const json&)>& pred,
                  int rounds = 40) {
    // A poll shed under load (503 with nothing changed, as a loaded 2-core
    // machine running the whole suite sometimes answers) is polled again.
    auto r = call("GET", "/v1/orders/" + id);
    auto o = r.body;
    int64_t version = 0;
    for (int i = 0; i < rounds && (r.status != 200 || !pred(o)); ++i) {
      if (r.status == 200)
        version = o["version"].get<int64_t>();
      else
        EXPECT_EQ(r.status, 503) << r.raw;
      r = call("GET", "/v1/orders/" + id + "?wait_for_change=5&version=" + std::to_string(version));
      o = r.body;
    }
    return o;
  }

  /// The order is refunded and its one (automatic) refund has succeeded.
  bool late_refund_settled(const std::string& id, const json& o) {
    if (o["status"] != "refunded")
      return false;
    auto rows = call("GET", "/v1/orders/" + id + "/refunds").body["data"];
    return rows.size() == 1 && rows[0]["status"] == "succeeded"
           && rows[0]["origin"] == "late_payment" && rows[0]["amount"] == 8888;
  }

  json create_and_pay(const std::string& no) {
    auto id = call("POST", "/v1/orders", order_body(no)).body["id"].get<std::string>();
    auto paying = call("POST", "/v1/orders/" + id + "/pay");
    EXPECT_EQ(paying.status, 202) << paying.raw;
    EXPECT_EQ(paying.body["status"], "paying");
    auto awaiting = wait_until(id, [](const json& o) { return o["status"] == "awaiting_payment"; });
    EXPECT_EQ(awaiting["status"], "awaiting_payment") << awaiting.dump();
    return awaiting;
  }

  /// The customer scans the QR code and pays (or fails) at the channel.
  int customer_pays(const json& order, json body = {{"result", "success"}}) {
    auto qr = order["payment"]["qr_code"].get<std::string>();
    auto path = qr.substr(qr.find('/', std::string{"http://"}.size()));
    httplib::Client c{"127.0.0.1", sim_->port()};
    auto r = c.Post(path.c_str(), body.dump(), "application/json");
    return r ? r->status : 0;
  }

  void expect_refund_refused_before_payment(const std::string& id) {
    auto r = call("POST", "/v1/orders/" + id + "/refunds", {{"amount", 100}});
    EXPECT_EQ(r.status, 409) << r.raw;
    EXPECT_EQ(r.body["error"]["code"], "invalid_state");
  }

  std::unique_ptr<test::paysim_process> sim_;
  std::unique_ptr<test_database> db_;
  std::unique_ptr<engine_process> engine_;
  std::string key_;
};

TEST_F(payment_test, create_pay_customer_pays_callback_paid) {
  auto awaiting = create_and_pay("M-pay-1");
  auto id = awaiting["id"].get<std::string>();
  EXPECT_EQ(awaiting["payment"]["attempt"], 1);
  EXPECT_NE(awaiting["payment"]["qr_code"].get<std::string>().find("/qr/"), std::string::npos);
  // Paying again while awaiting returns the same open trade.
  auto again = call("POST", "/v1/orders/" + id + "/pay");
  EXPECT_EQ(again.status, 202);
  EXPECT_EQ(again.body["payment"]["qr_code"], awaiting["payment"]["qr_code"]);
  EXPECT_EQ(again.body["version"], awaiting["version"]);

  ASSERT_EQ(customer_pays(awaiting), 200);
  auto paid = wait_until(id, [](const json& o) { return o["status"] == "paid"; });
  ASSERT_EQ(paid["status"], "paid") << paid.dump();
  EXPECT_FALSE(paid["payment"]["paid_at"].is_null());
  EXPECT_FALSE(paid["payment"]["channel_trade_no"].is_null());

  auto events = call("GET", "/v1/orders/" + id + "/events").body["data"];
  std::vector<std::string> path;
  for (auto& e : events)
    path.push_back(e["to"]);
  EXPECT_EQ(path, (std::vector<std::string>{"created", "paying", "awaiting_payment", "paid"}));
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM callbacks WHERE outcome = 'applied'"), "1");
  EXPECT_EQ(db_->scalar("SELECT state FROM channel_trades"), "2");
}

TEST_F(payment_test, a_failed_payment_can_be_paid_again_with_a_new_trade) {
  auto awaiting = create_and_pay("M-pay-2");
  auto id = awaiting["id"].get<std::string>();
  ASSERT_EQ(customer_pays(awaiting, {{"result", "fail"}}), 200);
  auto failed = wait_until(id, [](const json& o) { return o["status"] == "failed"; });
  ASSERT_EQ(failed["status"], "failed") << failed.dump();
  auto paying = call("POST", "/v1/orders/" + id + "/pay");
  EXPECT_EQ(paying.status, 202);
  auto second = wait_until(id, [](const json& o) { return o["status"] == "awaiting_payment"; });
  EXPECT_EQ(second["payment"]["attempt"], 2);
  EXPECT_NE(second["payment"]["qr_code"], awaiting["payment"]["qr_code"]);
  ASSERT_EQ(customer_pays(second), 200);
  EXPECT_EQ(wait_until(id, [](const json& o) { return o["status"] == "paid"; })["status"], "paid");
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM channel_trades"), "2");
}

TEST_F(payment_test, forged_replayed_and_tampered_callbacks_change_nothing) {
  auto awaiting = create_and_pay("M-pay-3");
  auto id = awaiting["id"].get<std::string>();
  auto otn = id + "_1";
  auto post_callback = [&](const std::string& body) {
    httplib::Client c{"127.0.0.1", engine_->port()};
    auto r = c.Post("/v1/callbacks/alipay", body, "application/x-www-form-urlencoded");
    return std::make_pair(r ? r->status : 0, r ? r->body : std::string{});
  };
  // Unsigned, and signed with a key that is not the channel's.
  channels::alipay::notification n;
  n.notify_id = "n-forged";
  n.notify_type = "trade_status_sync";
  n.notify_time = "2026-11-22 10:00:00";
  n.app_id = testing::test_app_id;
  n.out_trade_no = otn;
  n.trade_no = "2026X";
  n.status = channels::alipay::trade_status::trade_success;
  n.total_amount = 8888;
  auto channel_key = channels::private_key::from_pem_file(testing::test_channel_keys().channel_private).value();
  auto wrong_key = channels::private_key::from_pem_file(testing::test_channel_keys().app_private).value();
  auto signed_form = channels::alipay::make_notification(n, channel_key).value();
  auto unsigned_fields = channels::form_decode(signed_form).value();
  unsigned_fields.erase("sign");
  EXPECT_EQ(post_callback(channels::form_encode(unsigned_fields)).first, 400);
  EXPECT_EQ(post_callback(channels::alipay::make_notification(n, wrong_key).value()).first, 400);
  EXPECT_EQ(post_callback("garbage=%%%&&&").first, 400);
  EXPECT_EQ(call("GET", "/v1/orders/" + id).body["version"], awaiting["version"]);
  // Correctly signed by the channel, but tampered amount: recorded, flagged, never applied.
  auto tampered = n;
  tampered.notify_id = "n-tampered";
  tampered.total_amount = 1;
  auto r = post_callback(channels::alipay::make_notification(tampered, channel_key).value());
  EXPECT_EQ(r.first, 200);
  EXPECT_EQ(r.second, "success");
  auto after = call("GET", "/v1/orders/" + id).body;
  EXPECT_EQ(after["status"], "awaiting_payment");
  auto events = call("GET", "/v1/orders/" + id + "/events").body["data"];
  EXPECT_EQ(events.back()["type"], "payment.amount_mismatch");
  EXPECT_EQ(events.back()["detail"]["flagged"], true);
  // The customer's amount-tampered payment at the channel: the same.
  ASSERT_EQ(customer_pays(awaiting, {{"result", "success"}, {"amount", 100}}), 200);
  auto flagged = wait_until(id, [](const json& o) { return o["version"].get<int>() >= 5; });
  EXPECT_EQ(flagged["status"], "awaiting_payment");
  // A replayed valid notification is applied once.
  auto valid = n;
  valid.notify_id = "n-valid";
  valid.trade_no = "2026VALID";
  auto valid_form = channels::alipay::make_notification(valid, channel_key).value();
  EXPECT_EQ(post_callback(valid_form).second, "success");
  EXPECT_EQ(post_callback(valid_form).second, "success");
  EXPECT_EQ(post_callback(valid_form).second, "success");
  auto paid = call("GET", "/v1/orders/" + id).body;
  EXPECT_EQ(paid["status"], "paid");
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM order_events WHERE type = 'order.paid'"), "1");
}

TEST_F(payment_test, a_payment_the_engine_learns_of_after_cancel_is_refunded_automatically) {
  auto awaiting = create_and_pay("M-pay-4");
  auto id = awaiting["id"].get<std::string>();
  // The customer pays, but every notification is lost on the way.
  httplib::Client sim{"127.0.0.1", sim_->port()};
  ASSERT_EQ(sim.Post("/sim/faults", R"({"drop_notify_rate": 1})", "application/json")->status, 200);
  ASSERT_EQ(customer_pays(awaiting), 200);
  // The merchant cancels; closing the trade at the channel is refused (it is
  // paid), the engine asks for the truth and refunds the late payment.
  auto cancelled = call("POST", "/v1/orders/" + id + "/cancel");
  ASSERT_EQ(cancelled.status, 200);
  EXPECT_EQ(cancelled.body["status"], "cancelled");
  auto refunded = wait_until(id, [&](const json& o) { return late_refund_settled(id, o); });
  EXPECT_EQ(refunded["status"], "refunded") << refunded.dump();
  // The money went back, but not as the merchant's refund (API.md v1.1).
  EXPECT_EQ(refunded["amount_refunded"], 0);
  EXPECT_EQ(db_->scalar("SELECT origin || ':' || reason || ':' || status FROM refunds"),
            "2:late_payment:1");
  auto events = call("GET", "/v1/orders/" + id + "/events").body["data"];
  std::vector<std::string> types;
  for (auto& e : events)
    types.push_back(e["type"]);
  EXPECT_EQ(types, (std::vector<std::string>{"order.created", "order.paying", "order.awaiting_payment",
                                             "order.cancelled", "order.refunded", "refund.succeeded"}));
}

TEST_F(payment_test, a_payment_hidden_by_a_dead_channel_during_cancel_is_refunded_by_the_reconciler) {
  auto awaiting = create_and_pay("M-pay-5");
  auto id = awaiting["id"].get<std::string>();
  httplib::Client sim{"127.0.0.1", sim_->port()};
  auto faults = [&](const char* body) {
    ASSERT_EQ(sim.Post("/sim/faults", body, "application/json")->status, 200);
  };
  faults(R"({"drop_notify_rate": 1})");
  ASSERT_EQ(customer_pays(awaiting), 200);
  // The channel's API fails while the merchant cancels: neither the close
  // nor the query that follows it gets through.
  faults(R"({"drop_notify_rate": 1, "error_rate": 1})");
  auto cancelled = call("POST", "/v1/orders/" + id + "/cancel");
  ASSERT_EQ(cancelled.status, 200);
  // Nothing in memory will retry that; the trade is still open in storage,
  // and the reconciler (every 300 ms at time scale 100) drives it.
  faults(R"({"drop_notify_rate": 1})");
  auto refunded = wait_until(id, [&](const json& o) { return late_refund_settled(id, o); });
  EXPECT_EQ(refunded["status"], "refunded") << refunded.dump();
  EXPECT_EQ(refunded["amount_refunded"], 0);
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM refunds WHERE status = 1 AND origin = 2"), "1");
}

TEST_F(payment_test, partial_and_full_refunds_through_the_channel) {
  auto awaiting = create_and_pay("M-rfd-1");
  auto id = awaiting["id"].get<std::string>();
  expect_refund_refused_before_payment(id);
  ASSERT_EQ(customer_pays(awaiting), 200);
  ASSERT_EQ(wait_until(id, [](const json& o) { return o["status"] == "paid"; })["status"], "paid");
  auto first = call("POST", "/v1/orders/" + id + "/refunds", {{"amount", 1000}, {"reason", "broken lid"}});
  ASSERT_EQ(first.status, 202) << first.raw;
  EXPECT_EQ(first.body["status"], "pending");
  EXPECT_EQ(first.body["amount"], 1000);
  EXPECT_EQ(first.body["id"].get<std::string>().rfind("rfd_", 0), 0u);
  auto partly = wait_until(id, [](const json& o) { return o["amount_refunded"] == 1000; });
  EXPECT_EQ(partly["status"], "paid");
  // Text PostgreSQL cannot store is a client error, not a 503.
  auto nul = call("POST", "/v1/orders/" + id + "/refunds", {{"amount", 1}, {"reason", std::string("a\0b", 3)}});
  EXPECT_EQ(nul.status, 400) << nul.raw;
  EXPECT_EQ(nul.body["error"]["param"], "reason");
  auto too_much = call("POST", "/v1/orders/" + id + "/refunds", {{"amount", 7889}});
  EXPECT_EQ(too_much.status, 409) << too_much.raw;
  EXPECT_EQ(too_much.body["error"]["code"], "refund_exceeds_amount");
  ASSERT_EQ(call("POST", "/v1/orders/" + id + "/refunds", {{"amount", 7888}}).status, 202);
  auto refunded = wait_until(id, [](const json& o) { return o["status"] == "refunded"; });
  EXPECT_EQ(refunded["status"], "refunded");
  EXPECT_EQ(refunded["amount_refunded"], 8888);
  auto list = call("GET", "/v1/orders/" + id + "/refunds");
  ASSERT_EQ(list.body["data"].size(), 2u);
  EXPECT_EQ(list.body["data"][0]["status"], "succeeded");
  EXPECT_EQ(list.body["data"][1]["status"], "succeeded");
  std::multiset<std::string> reasons{list.body["data"][0]["reason"].get<std::string>(),
                                     list.body["data"][1]["reason"].get<std::string>()};
  EXPECT_EQ(reasons, (std::multiset<std::string>{"broken lid", "requested_by_merchant"}));
  EXPECT_EQ(call("POST", "/v1/orders/" + id + "/refunds", {{"amount", 1}}).status, 409);
  EXPECT_EQ(call("POST", "/v1/orders/" + id + "/refunds", {{"amount", 1.5}}).status, 400);
}

TEST_F(payment_test, a_refund_run_again_after_its_idempotency_record_was_lost_is_not_made_twice) {
  auto awaiting = create_and_pay("M-rfd-idem");
  auto id = awaiting["id"].get<std::string>();
  ASSERT_EQ(customer_pays(awaiting), 200);
  ASSERT_EQ(wait_until(id, [](const json& o) { return o["status"] == "paid"; })["status"], "paid");
  httplib::Headers key{{"Idempotency-Key", "refund-once-42"}};
  auto body = json{{"amount", 1000}}.dump();
  auto first = engine_->request("POST", "/v1/orders/" + id + "/refunds", key_, body, key);
  ASSERT_EQ(first.status, 202) << first.raw;
  // The answer was lost and the key's record with it (a timeout, a COMMIT
  // in doubt, then the key's lock expired): the request runs again.
  ASSERT_EQ(db_->scalar("DELETE FROM idempotency_keys RETURNING 1"), "1");
  auto again = engine_->request("POST", "/v1/orders/" + id + "/refunds", key_, body, key);
  ASSERT_EQ(again.status, 202) << again.raw;
  EXPECT_EQ(again.body["id"], first.body["id"]); // the same refund
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM refunds WHERE order_id = '" + id + "'"), "1");
  auto settled = wait_until(id, [](const json& o) { return o["amount_refunded"] == 1000; });
  EXPECT_EQ(settled["amount_refunded"], 1000);
  // Once more after it succeeded (found in storage, not in memory).
  ASSERT_EQ(db_->scalar("DELETE FROM idempotency_keys RETURNING 1"), "1");
  auto late = engine_->request("POST", "/v1/orders/" + id + "/refunds", key_, body, key);
  ASSERT_EQ(late.status, 202) << late.raw;
  EXPECT_EQ(late.body["id"], first.body["id"]);
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM refunds WHERE order_id = '" + id + "'"), "1");
  EXPECT_EQ(call("GET", "/v1/orders/" + id).body["amount_refunded"], 1000);
  // Another key is another refund.
  auto other = engine_->request("POST", "/v1/orders/" + id + "/refunds", key_, body,
                                {{"Idempotency-Key", "refund-twice-43"}});
  ASSERT_EQ(other.status, 202) << other.raw;
  EXPECT_NE(other.body["id"], first.body["id"]);
}

TEST_F(payment_test, a_reloaded_order_counts_the_refunds_it_still_owes) {
  auto awaiting = create_and_pay("M-rfd-reload");
  auto id = awaiting["id"].get<std::string>();
  ASSERT_EQ(customer_pays(awaiting), 200);
  ASSERT_EQ(wait_until(id, [](const json& o) { return o["status"] == "paid"; })["status"], "paid");
  // The channel's API fails: the refund stays pending, owed.
  httplib::Client sim{"127.0.0.1", sim_->port()};
  ASSERT_EQ(sim.Post("/sim/faults", R"({"error_rate": 1})", "application/json")->status, 200);
  ASSERT_EQ(call("POST", "/v1/orders/" + id + "/refunds", {{"amount", 8000}}).status, 202);
  // The actor is gone; the next request reaches its successor, loaded from
  // storage. It must know the 80.00 still owed before it answers.
  ASSERT_EQ(engine_->request("POST", "/admin/actors/" + id + "/kill", engine_->admin_token(), "{}").status, 202);
  auto second = call("POST", "/v1/orders/" + id + "/refunds", {{"amount", 8000}});
  EXPECT_EQ(second.status, 409) << second.raw;
  EXPECT_EQ(second.body["error"]["code"], "refund_exceeds_amount");
  EXPECT_EQ(db_->scalar("SELECT sum(amount) FROM refunds WHERE order_id = '" + id + "'"), "8000");
  // The channel back: the owed refund goes through, once.
  ASSERT_EQ(sim.Post("/sim/faults", R"({"error_rate": 0})", "application/json")->status, 200);
  auto settled = wait_until(id, [](const json& o) { return o["amount_refunded"] == 8000; }, 60);
  EXPECT_EQ(settled["amount_refunded"], 8000);
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM refunds WHERE order_id = '" + id + "' AND status = 1"), "1");
}

TEST_F(payment_test, fifty_concurrent_partial_refunds_never_exceed_the_amount) {
  auto awaiting = create_and_pay("M-rfd-2");
  auto id = awaiting["id"].get<std::string>();
  ASSERT_EQ(customer_pays(awaiting), 200);
  ASSERT_EQ(wait_until(id, [](const json& o) { return o["status"] == "paid"; })["status"], "paid");
  std::vector<int> statuses(50);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < statuses.size(); ++i)
    threads.emplace_back([&, i] {
      statuses[i] = call("POST", "/v1/orders/" + id + "/refunds", {{"amount", 200}}).status;
    });
  for (auto& t : threads)
    t.join();
  auto accepted = std::count(statuses.begin(), statuses.end(), 202);
  auto refused = std::count(statuses.begin(), statuses.end(), 409);
  EXPECT_EQ(accepted, 44); // 44 * 200 = 8800 <= 8888 < 45 * 200
  EXPECT_EQ(refused, 6);
  EXPECT_EQ(db_->scalar("SELECT sum(amount) FROM refunds WHERE status <> 2"), "8800");
  auto settled = wait_until(id, [](const json& o) { return o["amount_refunded"] == 8800; }, 60);
  EXPECT_EQ(settled["amount_refunded"], 8800);
  EXPECT_EQ(settled["status"], "paid");
}

TEST_F(payment_test, fulfillment_moves_forward_and_delivered_completes) {
  auto created = call("POST", "/v1/orders", order_body("M-ful-1")).body;
  auto id = created["id"].get<std::string>();
  auto early = call("POST", "/v1/orders/" + id + "/fulfillment", {{"stage", "produced"}});
  EXPECT_EQ(early.status, 409) << early.raw; // not paid
  ASSERT_EQ(call("POST", "/v1/orders/" + id + "/pay").status, 202);
  auto awaiting = wait_until(id, [](const json& o) { return o["status"] == "awaiting_payment"; });
  ASSERT_EQ(customer_pays(awaiting), 200);
  ASSERT_EQ(wait_until(id, [](const json& o) { return o["status"] == "paid"; })["status"], "paid");
  auto produced = call("POST", "/v1/orders/" + id + "/fulfillment", {{"stage", "produced"}, {"detail", "batch 7"}});
  EXPECT_EQ(produced.status, 200) << produced.raw;
  EXPECT_EQ(produced.body["fulfillment"]["stage"], "produced");
  EXPECT_EQ(call("POST", "/v1/orders/" + id + "/fulfillment", {{"stage", "produced"}}).status, 409);
  // The detail is kept in the order's event log.
  auto events = call("GET", "/v1/orders/" + id + "/events").body["data"];
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back()["type"], "fulfillment.produced");
  EXPECT_EQ(events.back()["detail"]["detail"], "batch 7") << events.back().dump();
  EXPECT_EQ(call("POST", "/v1/orders/" + id + "/fulfillment", {{"stage", "shipped"}}).status, 200);
  EXPECT_EQ(call("POST", "/v1/orders/" + id + "/fulfillment", {{"stage", "bogus"}}).status, 400);
  auto delivered = call("POST", "/v1/orders/" + id + "/fulfillment", {{"stage", "delivered"}});
  EXPECT_EQ(delivered.status, 200);
  EXPECT_EQ(delivered.body["status"], "completed");
  EXPECT_EQ(delivered.body["fulfillment"]["stage"], "delivered");
  EXPECT_EQ(call("POST", "/v1/orders/" + id + "/fulfillment", {{"stage", "shipped"}}).status, 409);
  // A completed order can still be refunded in full.
  ASSERT_EQ(call("POST", "/v1/orders/" + id + "/refunds", {{"amount", 8888}}).status, 202);
  EXPECT_EQ(wait_until(id, [](const json& o) { return o["status"] == "refunded"; })["status"], "refunded");
}

TEST_F(payment_test, merchant_events_and_their_deliveries_commit_with_the_transition) {
  auto body = order_body("M-evt-1");
  body["customer_phone"] = "+8613800000000";
  auto id = call("POST", "/v1/orders", body).body["id"].get<std::string>();
  ASSERT_EQ(call("POST", "/v1/orders/" + id + "/pay").status, 202);
  auto awaiting = wait_until(id, [](const json& o) { return o["status"] == "awaiting_payment"; });
  ASSERT_EQ(customer_pays(awaiting), 200);
  ASSERT_EQ(wait_until(id, [](const json& o) { return o["status"] == "paid"; })["status"], "paid");
  auto other = call("POST", "/v1/orders", order_body("M-evt-2")).body["id"].get<std::string>();
  ASSERT_EQ(call("POST", "/v1/orders/" + other + "/cancel").status, 200);
  // Only what a merchant cares about, in creation order, with the order as it was.
  auto page = call("GET", "/v1/events?limit=1");
  ASSERT_EQ(page.status, 200) << page.raw;
  ASSERT_EQ(page.body["data"].size(), 1u);
  EXPECT_TRUE(page.body["has_more"].get<bool>());
  auto first = page.body["data"][0];
  EXPECT_EQ(first["type"], "order.paid");
  EXPECT_EQ(first["id"].get<std::string>().rfind("evt_", 0), 0u);
  EXPECT_EQ(first["data"]["id"], id);
  EXPECT_EQ(first["data"]["status"], "paid");
  auto rest = call("GET", "/v1/events?starting_after=" + first["id"].get<std::string>());
  ASSERT_EQ(rest.body["data"].size(), 1u);
  EXPECT_EQ(rest.body["data"][0]["type"], "order.cancelled");
  EXPECT_FALSE(rest.body["has_more"].get<bool>());
  EXPECT_EQ(call("GET", "/v1/events?starting_after=nope").status, 400);
  // Each event has its deliveries in the outbox, committed with it: a webhook, and an
  // SMS for the customer who paid.
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM outbox WHERE kind = 1"), "2");
  EXPECT_EQ(db_->scalar("SELECT target FROM outbox WHERE kind = 2"), "+8613800000000");
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM merchant_events e JOIN order_events o"
                        " ON o.order_id = e.order_id AND o.type = e.type"), "2");
  // The customer's SMS reaches the SMS provider (paysim's), off the payment path.
  httplib::Client sim{"127.0.0.1", sim_->port()};
  std::string sms;
  for (int i = 0; i < 200 && sms.find("+8613800000000") == std::string::npos; ++i) {
    auto r = sim.Get("/sms/messages");
    sms = r ? r->body : "";
    if (sms.find("+8613800000000") == std::string::npos)
      std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
  EXPECT_NE(sms.find("+8613800000000"), std::string::npos) << sms;
  EXPECT_NE(sms.find("88.88 CNY"), std::string::npos) << sms;
}

} // namespace
} // namespace payengine
