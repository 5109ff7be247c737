// The symptoms of issue 9 ("money decisions as a pure core"), each through
// real HTTP against real payengine and paysim processes and a real
// PostgreSQL: what a merchant's free text, a full refund, a database
// outage and a broken invariant do to the books and to the answers.
#include "tests/support/engine_process.hpp"
#include "tests/support/paysim_for_tests.hpp"
#include "tests/support/test_db.hpp"

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include <atomic>
#include <chrono>
#include <future>
#include <set>
#include <thread>

namespace payengine {
namespace {

using json = nlohmann::json;
using testing::engine_process;
using testing::order_body;
using testing::test_database;

/// Runs SQL on the server's maintenance database (not the test's own, which
/// the outage tests make unreachable).
void admin_exec(const std::string& sql) {
  pqxx::connection conn{testing::admin_database_url()};
  pqxx::nontransaction tx{conn};
  tx.exec(sql);
}

/// The test's database refuses every connection, and the open ones are cut
/// (except `spare_pid`'s, cut afterwards): a database outage as the engine
/// sees it.
void database_down(const test_database& db, int spare_pid = 0) {
  admin_exec("ALTER DATABASE \"" + db.name() + "\" ALLOW_CONNECTIONS false");
  auto others = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '"
                + db.name() + "' AND pid <> " + std::to_string(spare_pid);
  admin_exec(others);
  // Gone before the spare one goes (it may hold a lock the others wait for).
  for (int i = 0; i < 500; ++i) {
    pqxx::connection conn{testing::admin_database_url()};
    pqxx::nontransaction tx{conn};
    auto left = tx.exec("SELECT count(*) FROM pg_stat_activity WHERE datname = '" + db.name()
                        + "' AND pid <> " + std::to_string(spare_pid))[0][0].as<int>();
    if (left == 0)
      break;
  }
  if (spare_pid)
    admin_exec("SELECT pg_terminate_backend(" + std::to_string(spare_pid) + ")");
}

void database_up(const test_database& db) {
  admin_exec("ALTER DATABASE \"" + db.name() + "\" ALLOW_CONNECTIONS true");
}

class money_core_test : public ::testing::Test {
protected:
  void SetUp() override {
    PE_REQUIRE_DATABASE();
    sim_ = testing::start_paysim();
    db_ = std::make_unique<test_database>("money");
    engine_ = std::make_unique<engine_process>(
      db_->url(), std::map<std::string, std::string>{
                    {"PAYENGINE_ALIPAY_GATEWAY_URL", sim_->url() + "/gateway.do"},
                    {"PAYENGINE_TIME_SCALE", "100"}});
    engine_->start();
    merchant_ = engine_->create_merchant();
    key_ = merchant_["api_key"].get<std::string>();
  }

  void TearDown() override {
    if (db_)
      database_up(*db_);
  }

  testing::http_result call(const std::string& method, const std::string& path,
                            const json& body = json::object(), httplib::Headers headers = {}) {
    return engine_->request(method, path, key_, method == "GET" ? "" : body.dump(),
                            std::move(headers));
  }

  json wait_until(const std::string& id, const std::function<bool(const json&)>& pred) {
    auto o = call("GET", "/v1/orders/" + id).body;
    for (int i = 0; i < 40 && !pred(o); ++i)
      o = call("GET", "/v1/orders/" + id + "?wait_for_change=5&version="
                        + std::to_string(o["version"].get<int>())).body;
    return o;
  }

  /// An order of `amount`, paid through paysim.
  std::string paid_order(const std::string& no, int64_t amount) {
    auto id = call("POST", "/v1/orders", order_body(no, amount)).body["id"].get<std::string>();
    EXPECT_EQ(call("POST", "/v1/orders/" + id + "/pay").status, 202);
    auto awaiting = wait_until(id, [](const json& o) { return o["status"] == "awaiting_payment"; });
    auto qr = awaiting["payment"]["qr_code"].get<std::string>();
    httplib::Client c{"127.0.0.1", sim_->port()};
    auto r = c.Post(qr.substr(qr.find('/', 7)).c_str(), R"({"result":"success"})", "application/json");
    EXPECT_TRUE(r && r->status == 200);
    auto paid = wait_until(id, [](const json& o) { return o["status"] == "paid"; });
    EXPECT_EQ(paid["status"], "paid") << paid.dump();
    return id;
  }

  std::unique_ptr<test::paysim_process> sim_;
  std::unique_ptr<test_database> db_;
  std::unique_ptr<engine_process> engine_;
  json merchant_;
  std::string key_;
};

TEST_F(money_core_test, merchant_refund_with_reason_duplicate_payment_is_a_merchant_refund) {
  auto id = paid_order("M-reason-1", 1000);
  // Three full refunds whose free text names one of the engine's own
  // refund kinds: the first is the merchant's refund, the others exceed it.
  auto first = call("POST", "/v1/orders/" + id + "/refunds",
                    {{"amount", 1000}, {"reason", "duplicate_payment"}});
  ASSERT_EQ(first.status, 202) << first.raw;
  EXPECT_EQ(first.body["origin"], "merchant");
  EXPECT_EQ(first.body["reason"], "duplicate_payment");
  for (int i = 0; i < 2; ++i) {
    auto again = call("POST", "/v1/orders/" + id + "/refunds",
                      {{"amount", 1000}, {"reason", "duplicate_payment"}});
    EXPECT_EQ(again.status, 409) << again.raw;
    // Refused by the cap while the first is pending, or by the status once
    // it succeeded (the order is refunded): never a second refund.
    auto code = again.body["error"]["code"];
    EXPECT_TRUE(code == "refund_exceeds_amount" || code == "invalid_state") << again.raw;
    if (code == "refund_exceeds_amount") {
      EXPECT_EQ(again.body["error"]["refundable"], 0);
    }
  }
  auto refunded = wait_until(id, [](const json& o) { return o["status"] == "refunded"; });
  EXPECT_EQ(refunded["status"], "refunded") << refunded.dump();
  EXPECT_EQ(refunded["amount_refunded"], 1000);
  auto rows = call("GET", "/v1/orders/" + id + "/refunds").body["data"];
  ASSERT_EQ(rows.size(), 1u) << rows.dump();
  EXPECT_EQ(rows[0]["status"], "succeeded");
  EXPECT_EQ(rows[0]["origin"], "merchant");
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM refunds WHERE status = 0"), "0");
  // The channel refunded exactly once.
  httplib::Client sim{"127.0.0.1", sim_->port()};
  auto trades = json::parse(sim.Get("/sim/trades")->body);
  int64_t refunded_at_channel = 0;
  for (auto& t : trades["data"])
    refunded_at_channel += t.value("refunded_amount", int64_t{0});
  EXPECT_EQ(refunded_at_channel, 1000) << trades.dump();
}

TEST_F(money_core_test, full_refund_sends_refund_succeeded_and_order_refunded) {
  auto id = paid_order("M-full-1", 1000);
  ASSERT_EQ(call("POST", "/v1/orders/" + id + "/refunds", {{"amount", 400}}).status, 202);
  wait_until(id, [](const json& o) { return o["amount_refunded"] == 400; });
  ASSERT_EQ(call("POST", "/v1/orders/" + id + "/refunds", {{"amount", 600}}).status, 202);
  auto refunded = wait_until(id, [](const json& o) { return o["status"] == "refunded"; });
  ASSERT_EQ(refunded["status"], "refunded");
  std::vector<std::string> types;
  auto events = call("GET", "/v1/events?limit=100");
  for (auto& e : events.body["data"])
    if (e["data"]["id"] == id)
      types.push_back(e["type"]);
  EXPECT_EQ(types, (std::vector<std::string>{"order.paid", "refund.succeeded", "refund.succeeded",
                                             "order.refunded"}))
    << events.raw;
  // Each is pushed to the merchant as a webhook too.
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM outbox o JOIN merchant_events e ON e.id = o.event_id"
                        " WHERE e.order_id = '" + id + "' AND e.type = 'order.refunded' AND o.kind = 1"),
            "1");
}

TEST_F(money_core_test, valid_uncached_api_key_during_database_outage_answers_503_not_401) {
  auto other = engine_->create_merchant("Never seen"); // its key is in no cache yet
  auto other_key = other["api_key"].get<std::string>();
  database_down(*db_);
  auto r = engine_->request("GET", "/v1/orders?limit=1", other_key);
  EXPECT_EQ(r.status, 503) << r.raw;
  EXPECT_EQ(r.body["error"]["code"], "storage_unavailable") << r.raw;
  auto bad = engine_->request("GET", "/v1/orders?limit=1", "not-a-key");
  EXPECT_EQ(bad.status, 401) << bad.raw; // what is known to be wrong still is
  database_up(*db_);
  testing::http_result back;
  for (int i = 0; i < 50 && back.status != 200; ++i)
    back = engine_->request("GET", "/v1/orders?limit=1", other_key);
  EXPECT_EQ(back.status, 200) << back.raw;
}

TEST_F(money_core_test, idempotency_key_claimed_as_database_went_down_is_free_once_it_is_back) {
  ASSERT_EQ(call("GET", "/v1/orders?limit=1").status, 200); // the key is cached
  // A transaction of the test's holds the orders table: the create's
  // INSERT waits behind it, after its Idempotency-Key was claimed.
  pqxx::connection holder{db_->url()};
  pqxx::work lock{holder};
  lock.exec("LOCK TABLE orders IN EXCLUSIVE MODE");
  auto holder_pid = lock.exec("SELECT pg_backend_pid()")[0][0].as<int>();
  httplib::Headers key{{"Idempotency-Key", "outage-key-1"}};
  auto body = order_body("M-outage-1");
  auto pending = std::async(std::launch::async, [&] { return call("POST", "/v1/orders", body, key); });
  bool waiting = false;
  for (int i = 0; i < 2000 && !waiting; ++i)
    waiting = db_->scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = '" + db_->name()
                          + "' AND wait_event_type = 'Lock'") != "0";
  ASSERT_TRUE(waiting);
  // The database goes down under the waiting INSERT: nothing is stored,
  // and the key cannot be released now.
  database_down(*db_, holder_pid);
  auto failed = pending.get();
  EXPECT_EQ(failed.status, 503) << failed.raw;
  EXPECT_EQ(failed.body["error"]["code"], "storage_unavailable") << failed.raw;
  EXPECT_EQ(failed.headers.find("Payengine-Nothing-Changed")->second, "true");
  database_up(*db_);
  // Back: the same request runs at once (it was 409 in progress for 60 s).
  testing::http_result again;
  for (int i = 0; i < 50 && (again.status == 0 || again.status == 503); ++i)
    again = call("POST", "/v1/orders", body, key);
  EXPECT_EQ(again.status, 201) << again.raw;
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM orders"), "1");
  auto replay = call("POST", "/v1/orders", body, key);
  EXPECT_EQ(replay.status, 201);
  EXPECT_EQ(replay.body["id"], again.body["id"]);
}

TEST_F(money_core_test, broken_invariant_in_storage_answers_500_and_keeps_the_key) {
  // A rule storage keeps that the engine's write breaks: a bug, as seen
  // from outside. (The check stands in for any constraint.)
  db_->scalar("ALTER TABLE orders ADD CONSTRAINT test_no_boom CHECK (subject <> 'boom')");
  auto body = order_body("M-boom-1");
  body["subject"] = "boom";
  httplib::Headers key{{"Idempotency-Key", "boom-key-1"}};
  auto r = call("POST", "/v1/orders", body, key);
  EXPECT_EQ(r.status, 500) << r.raw;
  EXPECT_EQ(r.body["error"]["type"], "api_error") << r.raw;
  EXPECT_EQ(r.body["error"]["code"], "invariant_broken") << r.raw;
  EXPECT_EQ(r.headers.count("Payengine-Nothing-Changed"), 0u);
  // Not "retry, nothing changed": the key is not released.
  auto again = call("POST", "/v1/orders", body, key);
  EXPECT_EQ(again.status, 409) << again.raw;
  EXPECT_EQ(again.body["error"]["code"], "idempotency_in_progress");
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM orders"), "0");

  // On a live order: the actor stops and comes back from storage.
  auto id = call("POST", "/v1/orders", order_body("M-boom-2")).body["id"].get<std::string>();
  db_->scalar("ALTER TABLE orders ADD CONSTRAINT test_no_cancel CHECK (status <> 6)");
  auto cancel = call("POST", "/v1/orders/" + id + "/cancel");
  EXPECT_EQ(cancel.status, 500) << cancel.raw;
  EXPECT_EQ(cancel.body["error"]["code"], "invariant_broken");
  auto order = call("GET", "/v1/orders/" + id);
  EXPECT_EQ(order.status, 200);
  EXPECT_EQ(order.body["status"], "created");
  EXPECT_EQ(order.body["version"], 1);
  auto metrics = engine_->request("GET", "/metrics", engine_->admin_token());
  EXPECT_NE(metrics.raw.find("payengine_storage_broken_invariants_total"), std::string::npos);
  auto actor = engine_->request("GET", "/admin/orders/" + id, engine_->admin_token());
  EXPECT_EQ(actor.body["actor"]["restarts"], 1) << actor.raw;
  EXPECT_NE(metrics.raw.find("payengine_order_invariant_stops_total{shard=\""), std::string::npos);
  int64_t stops = 0;
  for (size_t at = 0; (at = metrics.raw.find("\npayengine_order_invariant_stops_total{", at)) != std::string::npos; ++at)
    stops += std::stoll(metrics.raw.substr(metrics.raw.find("} ", at) + 2));
  EXPECT_EQ(stops, 1) << metrics.raw;
}

TEST_F(money_core_test, reads_racing_a_stopping_order_actor_are_answered_by_its_successor) {
  // Readers keep asking for an order while its actor stops on a broken
  // invariant, again and again. A read routed to the stopping actor is
  // bounced unprocessed; it must reach the successor, never come back as
  // "unavailable" (before the fix, about 20 reads in every run of this test
  // did: 503 actor_unavailable).
  auto id = call("POST", "/v1/orders", order_body("M-race-1")).body["id"].get<std::string>();
  db_->scalar("ALTER TABLE orders ADD CONSTRAINT test_no_cancel CHECK (status <> 6)");
  std::atomic<bool> done{false};
  std::atomic<int> reads_after_stop{0};
  std::atomic<bool> stopped{false};
  auto reader = [&] {
    std::vector<std::string> wrong;
    while (!done) {
      auto r = call("GET", "/v1/orders/" + id);
      if (r.status != 200 || r.body["status"] != "created" || r.body["version"] != 1)
        wrong.push_back(std::to_string(r.status) + " " + r.raw);
      if (stopped)
        reads_after_stop++;
    }
    return wrong;
  };
  std::vector<std::future<std::vector<std::string>>> readers;
  for (int i = 0; i < 4; ++i)
    readers.push_back(std::async(std::launch::async, reader));
  constexpr int stops = 5;
  for (int i = 0; i < stops; ++i) {
    reads_after_stop = 0;
    auto cancel = call("POST", "/v1/orders/" + id + "/cancel");
    EXPECT_EQ(cancel.status, 500) << cancel.raw;
    EXPECT_EQ(cancel.body["error"]["code"], "invariant_broken") << cancel.raw;
    stopped = true;
    // Until the successor has answered a few reads (a count, not a time).
    while (reads_after_stop < 20)
      std::this_thread::yield();
    stopped = false;
  }
  done = true;
  for (auto& r : readers)
    for (const auto& w : r.get())
      ADD_FAILURE() << "a read during the stop: " << w;
  auto actor = engine_->request("GET", "/admin/orders/" + id, engine_->admin_token());
  EXPECT_EQ(actor.body["actor"]["restarts"], stops) << actor.raw;
  EXPECT_EQ(db_->scalar("SELECT status FROM orders WHERE id = '" + id + "'"), "1");
}

// An order past its expires_at whose expiry is not recorded yet (its timer
// not armed, or the sweep behind a burst) cannot start a payment: the
// decision core refuses it (refusal_code::past_expiry), and nothing changes.
// The sweeper here runs once an hour (100 h nominal under the fixture's time
// scale of 100): its first sweep, at the start, comes before the order
// exists, so it neither arms this order's timer nor records the expiry. The
// order's expires_at is moved into the past in storage and its actor
// restarted from there, as after a passivation.
TEST_F(money_core_test, a_payment_past_expires_at_is_refused_and_records_the_expiry) {
  engine_->terminate();
  engine_->set_args({"--expiry-sweep-interval-ms", "360000000"});
  engine_->start();
  auto id = call("POST", "/v1/orders", order_body("M-late", 1000)).body["id"].get<std::string>();
  // As if created 61 s ago with expires_in 60 (a stored order must expire
  // after it was created: the engine checks what it loads).
  auto expires_at = db_->scalar(
      "UPDATE orders SET created_at = date_trunc('second', now()) - interval '61 seconds', "
      "updated_at = date_trunc('second', now()) - interval '61 seconds', "
      "expires_at = date_trunc('second', now()) - interval '1 second' WHERE id = '"
      + id + "' RETURNING to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')");
  ASSERT_FALSE(expires_at.empty());
  ASSERT_EQ(engine_->request("POST", "/admin/actors/" + id + "/kill", engine_->admin_token(), "{}").status,
            202);

  auto pay = call("POST", "/v1/orders/" + id + "/pay");
  EXPECT_EQ(pay.status, 409) << pay.raw;
  EXPECT_EQ(pay.body["error"]["code"], "invalid_state") << pay.raw;
  EXPECT_EQ(pay.body["error"]["status"], "created") << pay.raw;
  EXPECT_EQ(pay.body["error"]["expires_at"], expires_at) << pay.raw;

  // The refusal records the expiry at once (the sweeper is an hour away):
  // one `order.expired` event, no trade opened.
  auto order = wait_until(id, [](const json& o) { return o["status"] != "created"; });
  EXPECT_EQ(order["status"], "expired") << order.dump();
  EXPECT_EQ(order["version"], 2) << order.dump();
  EXPECT_EQ(db_->scalar("SELECT string_agg(type, ',' ORDER BY seq) FROM order_events WHERE order_id = '"
                        + id + "'"),
            "order.created,order.expired");
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM channel_trades WHERE order_id = '" + id + "'"), "0");
  EXPECT_EQ(db_->scalar("SELECT version FROM orders WHERE id = '" + id + "'"), "2");

  auto again = call("POST", "/v1/orders/" + id + "/pay");
  EXPECT_EQ(again.status, 409) << again.raw;
  EXPECT_EQ(again.body["error"]["status"], "expired") << again.raw;
  EXPECT_EQ(db_->scalar("SELECT version FROM orders WHERE id = '" + id + "'"), "2");
}

} // namespace
} // namespace payengine
