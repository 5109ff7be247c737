// Wallets (API.md v1.1 "Wallets"), through real HTTP against real payengine
// and paysim processes and a real PostgreSQL: top-ups through the channel,
// balance payments under a storm and under kill -9, refunds back to the
// wallet, the customer's SMS, and the ledger's books after each.
#include "tests/support/engine_process.hpp"
#include "tests/support/paysim_for_tests.hpp"
#include "tests/support/test_db.hpp"

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include <atomic>
#include <chrono>
#include <future>
#include <iostream>
#include <sstream>
#include <thread>

namespace payengine {
namespace {

using json = nlohmann::json;
using testing::engine_process;
using testing::order_body;
using testing::test_database;

class wallet_test : public ::testing::Test {
protected:
  void SetUp() override {
    PE_REQUIRE_DATABASE();
    sim_ = testing::start_paysim();
    db_ = std::make_unique<test_database>("wallet");
    engine_ = std::make_unique<engine_process>(db_->url(), env());
    engine_->start();
    merchant_ = engine_->create_merchant();
    key_ = merchant_["api_key"].get<std::string>();
  }

  std::map<std::string, std::string> env() const {
    return {{"PAYENGINE_ALIPAY_GATEWAY_URL", sim_->url() + "/gateway.do"},
            {"PAYENGINE_SMS_URL", sim_->url() + "/sms/send"},
            {"PAYENGINE_TIME_SCALE", "100"},
            {"PAYENGINE_WALLET_RESERVATION_TIMEOUT_MS", "2000"},
            {"PAYENGINE_LOG_LEVEL", "info"}};
  }

  /// A request as a careful client sends it: shed at the door (503 with
  /// Payengine-Nothing-Changed, or 429) it is sent again after a moment.
  testing::http_result call(const std::string& method, const std::string& path,
                            const json& body = json::object(), httplib::Headers headers = {},
                            const std::string& key = {}) {
    testing::http_result r;
    for (int i = 0; i < 100; ++i) {
      r = engine_->request(method, path, key.empty() ? key_ : key,
                           method == "GET" ? "" : body.dump(), headers);
      bool shed = r.status == 429
                  || (r.status == 503 && r.headers.count("Payengine-Nothing-Changed") > 0);
      if (!shed)
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds{20});
    }
    return r;
  }

  testing::http_result admin(const std::string& path) {
    return engine_->request("GET", path, engine_->admin_token());
  }

  json wait_order(const std::string& id, const std::function<bool(const json&)>& pred) {
    auto o = call("GET", "/v1/orders/" + id).body;
    for (int i = 0; i < 40 && !pred(o); ++i)
      o = call("GET", "/v1/orders/" + id + "?wait_for_change=5&version="
                        + std::to_string(o["version"].get<int>())).body;
    return o;
  }

  /// The wallet once `pred` holds (or after about 20 s).
  json wait_wallet(const std::string& id, const std::function<bool(const json&)>& pred) {
    json w;
    for (int i = 0; i < 400; ++i) {
      w = call("GET", "/v1/wallets/" + id).body;
      if (pred(w))
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds{50});
    }
    return w;
  }

  std::string new_wallet(const std::string& ref, const std::string& currency = "CNY",
                         const std::string& phone = {}) {
    json body = {{"customer_ref", ref}, {"currency", currency}};
    if (!phone.empty())
      body["customer_phone"] = phone;
    auto r = call("POST", "/v1/wallets", body);
    EXPECT_EQ(r.status, 201) << r.raw;
    return r.body.value("id", "");
  }

  /// The customer pays `qr` at paysim.
  void customer_pays(const std::string& qr) {
    httplib::Client c{"127.0.0.1", sim_->port()};
    auto r = c.Post(qr.substr(qr.find('/', 7)).c_str(), R"({"result":"success"})", "application/json");
    ASSERT_TRUE(r && r->status == 200);
  }

  /// A top-up of `amount` for `wallet`, paid through the channel; returns the order id.
  std::string top_up(const std::string& wallet, const std::string& no, int64_t amount) {
    auto body = order_body(no, amount);
    body["topup_wallet"] = wallet;
    auto created = call("POST", "/v1/orders", body);
    EXPECT_EQ(created.status, 201) << created.raw;
    auto id = created.body["id"].get<std::string>();
    EXPECT_EQ(call("POST", "/v1/orders/" + id + "/pay").status, 202);
    auto awaiting = wait_order(id, [](const json& o) { return o["status"] == "awaiting_payment"; });
    customer_pays(awaiting["payment"]["qr_code"].get<std::string>());
    EXPECT_EQ(wait_order(id, [](const json& o) { return o["status"] == "paid"; })["status"], "paid");
    return id;
  }

  std::string new_order(const std::string& no, int64_t amount) {
    auto r = call("POST", "/v1/orders", order_body(no, amount));
    EXPECT_EQ(r.status, 201) << r.raw;
    return r.body.value("id", "");
  }

  testing::http_result pay_balance(const std::string& order, const std::string& wallet,
                                   httplib::Headers headers = {}) {
    return call("POST", "/v1/orders/" + order + "/pay", {{"method", "balance"}, {"wallet", wallet}},
                std::move(headers));
  }

  /// Every book of the ledger agrees: the sums over all accounts, each
  /// account's sums against its transfers, each wallet's transactions
  /// chained by ending_balance, no reservation left open.
  void expect_books_balance(bool no_open_reservations = true) {
    auto l = admin("/admin/ledger");
    ASSERT_EQ(l.status, 200) << l.raw;
    EXPECT_EQ(l.body["debits_posted"], l.body["credits_posted"]) << l.raw;
    EXPECT_EQ(l.body["debits_pending"], l.body["credits_pending"]) << l.raw;
    EXPECT_TRUE(l.body["balanced"].get<bool>());
    pqxx::connection conn{db_->url()};
    pqxx::read_transaction tx{conn};
    // Each account's four sums are exactly what its transfers add up to.
    auto off = tx.exec(
      "WITH moves AS ("
      " SELECT debit_account AS account, amount, phase, true AS debit FROM ledger_transfers"
      " UNION ALL SELECT credit_account, amount, phase, false FROM ledger_transfers),"
      " sums AS (SELECT account,"
      "  sum(CASE WHEN debit AND phase IN (0, 2) THEN amount ELSE 0 END) AS dp,"
      "  sum(CASE WHEN NOT debit AND phase IN (0, 2) THEN amount ELSE 0 END) AS cp,"
      "  sum(CASE WHEN debit AND phase = 1 THEN amount WHEN debit AND phase IN (2, 3) THEN -amount ELSE 0 END) AS dpe,"
      "  sum(CASE WHEN NOT debit AND phase = 1 THEN amount WHEN NOT debit AND phase IN (2, 3) THEN -amount ELSE 0 END) AS cpe"
      "  FROM moves GROUP BY account)"
      " SELECT a.id FROM ledger_accounts a LEFT JOIN sums s ON s.account = a.id"
      " WHERE a.debits_posted <> coalesce(s.dp, 0) OR a.credits_posted <> coalesce(s.cp, 0)"
      " OR a.debits_pending <> coalesce(s.dpe, 0) OR a.credits_pending <> coalesce(s.cpe, 0)");
    EXPECT_EQ(off.size(), 0u) << "accounts whose sums disagree with their transfers: "
                              << (off.empty() ? "" : off[0][0].as<std::string>());
    // Each wallet's posted movements chain: ending_balance = previous + amount.
    auto broken = tx.exec(
      "SELECT id FROM (SELECT id, ending_balance, wallet_amount,"
      " lag(ending_balance, 1, 0::bigint) OVER (PARTITION BY wallet_id ORDER BY seq) AS before"
      " FROM ledger_transfers WHERE wallet_amount <> 0) t"
      " WHERE ending_balance <> before + wallet_amount");
    EXPECT_EQ(broken.size(), 0u);
    auto last = tx.exec(
      "SELECT a.id FROM ledger_accounts a WHERE a.kind = 1 AND a.credits_posted - a.debits_posted"
      " <> coalesce((SELECT ending_balance FROM ledger_transfers t WHERE t.wallet_id = a.id"
      " AND t.wallet_amount <> 0 ORDER BY seq DESC LIMIT 1), 0)");
    EXPECT_EQ(last.size(), 0u) << "a wallet whose balance is not its last ending_balance";
    if (no_open_reservations) {
      auto open = tx.exec("SELECT p.id || ' order ' || p.order_id || ' status ' || o.status"
                          " || ' timeout_in_ms ' || (extract(epoch FROM p.timeout_at - now()) * 1000)::bigint"
                          " FROM ledger_transfers p JOIN orders o ON o.id = p.order_id"
                          " WHERE phase = 1 AND NOT EXISTS"
                          " (SELECT 1 FROM ledger_transfers e WHERE e.pending_id = p.id)");
      EXPECT_EQ(open.size(), 0u) << (open.empty() ? "" : open[0][0].as<std::string>());
    }
  }

  /// Paid orders and payment posts agree, order by order.
  void expect_paid_iff_debited(const std::vector<std::string>& orders) {
    pqxx::connection conn{db_->url()};
    pqxx::read_transaction tx{conn};
    for (const auto& id : orders) {
      auto status = tx.exec_params("SELECT status FROM orders WHERE id = $1", id)[0][0].as<int>();
      auto posts = tx.exec_params("SELECT count(*) FROM ledger_transfers WHERE order_id = $1"
                                  " AND type = 2 AND phase = 2", id)[0][0].as<int>();
      EXPECT_EQ(posts, status == 4 ? 1 : 0) << id << " status " << status;
    }
  }

  std::unique_ptr<test::paysim_process> sim_;
  std::unique_ptr<test_database> db_;
  std::unique_ptr<engine_process> engine_;
  json merchant_;
  std::string key_;
};

TEST_F(wallet_test, a_top_up_credits_the_wallet_once) {
  auto w = new_wallet("u-1001");
  auto dup = call("POST", "/v1/wallets", {{"customer_ref", "u-1001"}, {"currency", "CNY"}});
  EXPECT_EQ(dup.status, 409) << dup.raw;
  EXPECT_EQ(dup.body["error"]["code"], "duplicate_wallet");
  EXPECT_EQ(dup.body["error"]["id"], w);
  auto fresh = call("GET", "/v1/wallets/" + w).body;
  EXPECT_EQ(fresh["balance"], (json{{"available", 0}, {"pending", 0}, {"posted", 0}}));

  auto order = top_up(w, "T-1", 100'000);
  auto wallet = wait_wallet(w, [](const json& x) { return x["balance"]["posted"] == 100'000; });
  EXPECT_EQ(wallet["balance"], (json{{"available", 100'000}, {"pending", 0}, {"posted", 100'000}}));
  // After a kill -9 the order asks its wallet again when it is activated
  // (it cannot know the credit was committed): the wallet finds the
  // transfer by its id and moves nothing.
  engine_->kill_hard();
  engine_->start();
  EXPECT_EQ(call("GET", "/v1/orders/" + order).body["status"], "paid"); // activates it
  for (int i = 0; i < 200; ++i) {
    auto actors = admin("/admin/actors").body;
    if (actors["wallets"].is_object() && actors["wallets"]["conflicts"].get<int>() >= 1)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds{25});
  }
  EXPECT_GE(admin("/admin/actors").body["wallets"]["conflicts"].get<int>(), 1)
    << "the second credit never reached the wallet";
  EXPECT_EQ(call("GET", "/v1/wallets/" + w).body["balance"]["posted"], 100'000);
  auto tx = call("GET", "/v1/wallets/" + w + "/transactions");
  ASSERT_EQ(tx.status, 200) << tx.raw;
  ASSERT_EQ(tx.body["data"].size(), 1u) << tx.raw;
  EXPECT_EQ(tx.body["data"][0]["type"], "topup");
  EXPECT_EQ(tx.body["data"][0]["amount"], 100'000);
  EXPECT_EQ(tx.body["data"][0]["ending_balance"], 100'000);
  EXPECT_EQ(tx.body["data"][0]["order_id"], order);
  // wallet.credited was committed for the merchant with the order paid.
  auto events = call("GET", "/v1/events?limit=100").body["data"];
  int credited = 0;
  for (const auto& e : events)
    credited += e["type"] == "wallet.credited";
  EXPECT_EQ(credited, 1);
  expect_books_balance();
}

TEST_F(wallet_test, a_storm_of_balance_payments_pays_exactly_what_the_wallet_holds) {
  auto w = new_wallet("u-storm");
  top_up(w, "T-storm", 100'000);
  wait_wallet(w, [](const json& x) { return x["balance"]["posted"] == 100'000; });
  std::vector<std::string> orders;
  for (int i = 0; i < 60; ++i)
    orders.push_back(new_order("S-" + std::to_string(i), 3'000));

  std::atomic<bool> storming{true};
  std::atomic<int> negative_reads{0};
  std::atomic<int> reads{0};
  auto reader = std::async(std::launch::async, [&] {
    while (storming) {
      auto r = engine_->request("GET", "/v1/wallets/" + w, key_);
      if (r.status != 200)
        continue;
      ++reads;
      const auto& b = r.body["balance"];
      if (b["available"].get<int64_t>() < 0 || b["posted"].get<int64_t>() < 0
          || b["pending"].get<int64_t>() < 0)
        ++negative_reads;
    }
  });
  std::vector<std::future<testing::http_result>> answers;
  for (const auto& id : orders)
    answers.push_back(std::async(std::launch::async, [&, id] { return pay_balance(id, w); }));
  int paid = 0, refused = 0;
  for (size_t i = 0; i < answers.size(); ++i) {
    auto r = answers[i].get();
    if (r.status == 200) {
      ++paid;
      EXPECT_EQ(r.body["status"], "paid");
      EXPECT_EQ(r.body["payment"]["method"], "balance");
      EXPECT_EQ(r.body["payment"]["wallet"], w);
    } else {
      ++refused;
      EXPECT_EQ(r.status, 402) << r.raw;
      EXPECT_EQ(r.body["error"]["type"], "payment_error");
      EXPECT_EQ(r.body["error"]["code"], "insufficient_funds");
      // Nothing changed: the order is as created.
      auto o = call("GET", "/v1/orders/" + orders[i]).body;
      EXPECT_EQ(o["status"], "created");
      EXPECT_EQ(o["version"], 1);
    }
  }
  storming = false;
  reader.get();
  EXPECT_EQ(paid, 33);
  EXPECT_EQ(refused, 27);
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(negative_reads.load(), 0);
  auto wallet = call("GET", "/v1/wallets/" + w).body;
  EXPECT_EQ(wallet["balance"], (json{{"available", 1'000}, {"pending", 0}, {"posted", 1'000}}));
  auto tx = call("GET", "/v1/wallets/" + w + "/transactions?limit=100").body["data"];
  ASSERT_EQ(tx.size(), 34u);
  int64_t balance = 0;
  for (const auto& t : tx) {
    balance += t["amount"].get<int64_t>();
    EXPECT_EQ(t["ending_balance"], balance);
  }
  expect_paid_iff_debited(orders);
  expect_books_balance();
}

TEST_F(wallet_test, a_refund_of_a_balance_payment_goes_back_and_the_customer_is_told) {
  auto w = new_wallet("u-sms", "CNY", "+8613800000001");
  top_up(w, "T-sms", 10'000);
  wait_wallet(w, [](const json& x) { return x["balance"]["posted"] == 10'000; });
  auto order = new_order("P-sms", 8'888);
  auto paid = pay_balance(order, w);
  ASSERT_EQ(paid.status, 200) << paid.raw;
  EXPECT_EQ(paid.body["status"], "paid");
  EXPECT_EQ(call("GET", "/v1/wallets/" + w).body["balance"]["posted"], 1'112);

  // The customer's SMS names what was spent and what is left.
  httplib::Client sim{"127.0.0.1", sim_->port()};
  std::string text, seen;
  for (int i = 0; i < 200 && text.empty(); ++i) {
    auto r = sim.Get("/sms/messages");
    seen = r ? r->body : "";
    auto box = r && r->status == 200 ? json::parse(r->body) : json::object();
    if (box.contains("data"))
      for (const auto& m : box["data"])
        if (m["to"] == "+8613800000001" && m["text"].get<std::string>().rfind("Paid", 0) == 0)
          text = m["text"].get<std::string>();
    if (text.empty())
      std::this_thread::sleep_for(std::chrono::milliseconds{50});
  }
  EXPECT_EQ(text, "Paid 88.88 CNY from your balance (order " + order + "); balance 11.12 CNY.")
    << seen << " outbox: " << db_->scalar("SELECT string_agg(kind || ':' || target || ':' || status || ':' || last_error, ', ') FROM outbox");

  auto refund = call("POST", "/v1/orders/" + order + "/refunds", {{"amount", 8'888}});
  ASSERT_EQ(refund.status, 202) << refund.raw;
  auto refunded = wait_order(order, [](const json& o) { return o["status"] == "refunded"; });
  EXPECT_EQ(refunded["status"], "refunded");
  auto wallet = wait_wallet(w, [](const json& x) { return x["balance"]["posted"] == 10'000; });
  EXPECT_EQ(wallet["balance"]["available"], 10'000);
  auto tx = call("GET", "/v1/wallets/" + w + "/transactions").body["data"];
  ASSERT_EQ(tx.size(), 3u);
  EXPECT_EQ(tx[1]["type"], "payment");
  EXPECT_EQ(tx[1]["amount"], -8'888);
  EXPECT_EQ(tx[2]["type"], "refund");
  EXPECT_EQ(tx[2]["amount"], 8'888);
  EXPECT_EQ(tx[2]["ending_balance"], 10'000);
  expect_books_balance();
}

TEST_F(wallet_test, refunding_a_top_up_takes_the_money_back_from_the_wallet_first) {
  auto w = new_wallet("u-rev");
  auto topup = top_up(w, "T-rev", 5'000);
  wait_wallet(w, [](const json& x) { return x["balance"]["posted"] == 5'000; });
  ASSERT_EQ(pay_balance(new_order("P-rev", 4'000), w).status, 200);
  // 1,000 is left: a refund of the whole top-up is refused, nothing changed.
  auto too_much = call("POST", "/v1/orders/" + topup + "/refunds", {{"amount", 5'000}});
  EXPECT_EQ(too_much.status, 409) << too_much.raw;
  EXPECT_EQ(too_much.body["error"]["code"], "insufficient_funds");
  EXPECT_EQ(call("GET", "/v1/orders/" + topup + "/refunds").body["data"].size(), 0u);
  EXPECT_EQ(call("GET", "/v1/wallets/" + w).body["balance"],
            (json{{"available", 1'000}, {"pending", 0}, {"posted", 1'000}}));
  // What the wallet holds can go back.
  auto ok = call("POST", "/v1/orders/" + topup + "/refunds", {{"amount", 1'000}});
  ASSERT_EQ(ok.status, 202) << ok.raw;
  auto wallet = wait_wallet(w, [](const json& x) { return x["balance"]["posted"] == 0; });
  EXPECT_EQ(wallet["balance"], (json{{"available", 0}, {"pending", 0}, {"posted", 0}}));
  auto after = wait_order(topup, [](const json& o) { return o["amount_refunded"] == 1'000; });
  EXPECT_EQ(after["amount_refunded"], 1'000);
  auto tx = call("GET", "/v1/wallets/" + w + "/transactions").body["data"];
  ASSERT_EQ(tx.size(), 3u);
  EXPECT_EQ(tx[2]["type"], "topup_reversal");
  EXPECT_EQ(tx[2]["amount"], -1'000);
  expect_books_balance();
}

TEST_F(wallet_test, other_merchants_wallets_currencies_and_bad_input_change_nothing) {
  auto w = new_wallet("u-iso");
  top_up(w, "T-iso", 2'000);
  wait_wallet(w, [](const json& x) { return x["balance"]["posted"] == 2'000; });
  auto before = admin("/admin/ledger").body;

  auto other = engine_->create_merchant("Other")["api_key"].get<std::string>();
  EXPECT_EQ(call("GET", "/v1/wallets/" + w, {}, {}, other).status, 404);
  EXPECT_EQ(call("GET", "/v1/wallets/" + w + "/transactions", {}, {}, other).status, 404);
  auto theirs = engine_->request("POST", "/v1/orders", other, order_body("O-1", 100).dump());
  auto stolen = engine_->request("POST", "/v1/orders/" + theirs.body["id"].get<std::string>() + "/pay",
                                 other, json{{"method", "balance"}, {"wallet", w}}.dump());
  EXPECT_EQ(stolen.status, 404) << stolen.raw;

  auto usd = new_wallet("u-iso", "USD");
  auto cny_order = new_order("P-iso", 100);
  auto mismatch = pay_balance(cny_order, usd);
  EXPECT_EQ(mismatch.status, 400) << mismatch.raw;
  EXPECT_EQ(mismatch.body["error"]["code"], "currency_mismatch");
  auto topup_mismatch = order_body("T-usd", 100);
  topup_mismatch["topup_wallet"] = usd;
  EXPECT_EQ(call("POST", "/v1/orders", topup_mismatch).status, 400);

  for (const auto& bad : {json{{"method", "balance"}}, json{{"method", "cash"}},
                          json{{"method", "balance"}, {"wallet", "ord_x"}},
                          json{{"method", "channel"}, {"wallet", w}}, json{{"wallet", 12}},
                          json{{"method", "balance"}, {"wallet", w}, {"extra", 1}}}) {
    auto r = call("POST", "/v1/orders/" + cny_order + "/pay", bad);
    EXPECT_EQ(r.status, 400) << bad.dump() << " " << r.raw;
  }
  for (const auto& bad : {json{{"currency", "CNY"}}, json{{"customer_ref", ""}, {"currency", "CNY"}},
                          json{{"customer_ref", "a b"}, {"currency", "CNY"}},
                          json{{"customer_ref", "x"}, {"currency", "cny"}},
                          json{{"customer_ref", "x"}, {"currency", "CNY"}, {"customer_phone", "123"}},
                          json{{"customer_ref", std::string(65, 'x')}, {"currency", "CNY"}}}) {
    auto r = call("POST", "/v1/wallets", bad);
    EXPECT_EQ(r.status, 400) << bad.dump() << " " << r.raw;
  }
  EXPECT_EQ(call("GET", "/v1/wallets/wal_nope").status, 404);
  EXPECT_EQ(call("GET", "/v1/wallets?limit=0").status, 400);
  auto bad_topup = order_body("T-bad", 100);
  bad_topup["topup_wallet"] = "wal_nope";
  EXPECT_EQ(call("POST", "/v1/orders", bad_topup).status, 400);
  auto list = call("GET", "/v1/wallets?customer_ref=u-iso");
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.body["data"].size(), 2u);

  EXPECT_EQ(call("GET", "/v1/orders/" + cny_order).body["status"], "created");
  auto after = admin("/admin/ledger").body;
  EXPECT_EQ(after["transfers"], before["transfers"]);
  EXPECT_EQ(after["credits_posted"], before["credits_posted"]);
  expect_books_balance();
}

TEST_F(wallet_test, balance_payments_racing_expires_at_pay_before_it_or_change_nothing) {
  auto w = new_wallet("u-race");
  top_up(w, "T-race", 10'000);
  wait_wallet(w, [](const json& x) { return x["balance"]["posted"] == 10'000; });
  // Orders that live 120 s: 1.2 s at the time scale of 100, so that even a
  // slow (sanitized) run has created them all before the first is due. Each
  // is paid from the balance at its own moment, while its expiry timer and
  // the sweeper run as usual: 20 from 300 ms before its expires_at to
  // 300 ms after, 40 a millisecond apart from 20 ms before it to 19 ms after.
  const int n = 60;
  std::vector<std::string> orders;
  for (int i = 0; i < n; ++i) {
    auto body = order_body("R-" + std::to_string(i), 100);
    body["expires_in"] = 120;
    auto r = call("POST", "/v1/orders", body);
    ASSERT_EQ(r.status, 201) << r.raw;
    orders.push_back(r.body["id"].get<std::string>());
  }
  std::vector<std::chrono::steady_clock::time_point> at;
  {
    pqxx::connection conn{db_->url()};
    pqxx::read_transaction tx{conn};
    for (int i = 0; i < n; ++i) {
      auto left_ms = tx.exec_params("SELECT (extract(epoch FROM expires_at - clock_timestamp()) * 1000)::bigint"
                                    " FROM orders WHERE id = $1", orders[i])[0][0].as<int64_t>();
      const auto now = std::chrono::steady_clock::now();
      const int offset_ms = i < 20 ? -300 + i * 600 / 19 : i - 40;
      at.push_back(now + std::chrono::milliseconds{left_ms + offset_ms});
    }
  }
  std::vector<std::future<testing::http_result>> answers;
  for (int i = 0; i < n; ++i)
    answers.push_back(std::async(std::launch::async, [&, i] {
      std::this_thread::sleep_until(at[i]);
      return pay_balance(orders[i], w);
    }));
  int paid = 0, refused = 0;
  for (int i = 0; i < n; ++i) {
    auto r = answers[i].get();
    // Paid in full, or refused with nothing taken: never a 5xx.
    if (r.status == 200) {
      ++paid;
      EXPECT_EQ(r.body["status"], "paid") << r.raw;
    } else {
      ++refused;
      EXPECT_EQ(r.status, 409) << r.raw;
      EXPECT_EQ(r.body["error"]["code"], "invalid_state") << r.raw;
    }
    auto o = wait_order(orders[i], [](const json& x) { return x["status"] == "paid" || x["status"] == "expired"; });
    EXPECT_EQ(o["status"], r.status == 200 ? "paid" : "expired") << o.dump();
  }
  std::cout << "balance payments racing expires_at: " << paid << " paid, " << refused << " refused\n";
  // Both sides of the race were reached (300 ms either side of expires_at).
  EXPECT_GT(paid, 0);
  EXPECT_GT(refused, 0);
  {
    pqxx::connection conn{db_->url()};
    pqxx::read_transaction tx{conn};
    // A payment started only before expires_at; no order was paid after.
    auto late = tx.exec("SELECT o.id FROM orders o JOIN order_events e ON e.order_id = o.id"
                        " WHERE o.merchant_order_no LIKE 'R-%' AND e.type IN ('order.paying', 'order.paid')"
                        " AND e.seq = 2 AND e.at >= o.expires_at");
    EXPECT_EQ(late.size(), 0u) << (late.empty() ? "" : late[0][0].as<std::string>());
  }
  auto wallet = wait_wallet(w, [](const json& x) { return x["balance"]["pending"] == 0; });
  EXPECT_EQ(wallet["balance"]["posted"], 10'000 - 100 * paid) << wallet.dump();
  EXPECT_EQ(wallet["balance"]["available"], 10'000 - 100 * paid) << wallet.dump();
  expect_paid_iff_debited(orders);
  expect_books_balance();
}

TEST_F(wallet_test, kill_9_in_a_storm_then_retries_with_the_same_keys_leave_the_books_right) {
  auto w = new_wallet("u-kill");
  top_up(w, "T-kill", 60'000);
  wait_wallet(w, [](const json& x) { return x["balance"]["posted"] == 60'000; });
  std::vector<std::string> orders;
  for (int i = 0; i < 40; ++i)
    orders.push_back(new_order("K-" + std::to_string(i), 2'000));
  auto key_of = [](size_t i) { return httplib::Headers{{"Idempotency-Key", "kill-" + std::to_string(i)}}; };

  std::vector<std::future<testing::http_result>> answers;
  for (size_t i = 0; i < orders.size(); ++i)
    answers.push_back(std::async(std::launch::async, [&, i] { return pay_balance(orders[i], w, key_of(i)); }));
  std::this_thread::sleep_for(std::chrono::milliseconds{30});
  engine_->kill_hard();
  for (auto& a : answers)
    a.get(); // whatever they got: refused connections, resets, or answers
  engine_->start();

  // Retries with the same keys: each is answered from its first run, or
  // runs now; a key whose request died with the engine stays locked for a
  // minute (409), and its order is as that request left it.
  for (size_t i = 0; i < orders.size(); ++i) {
    testing::http_result r;
    for (int attempt = 0; attempt < 50; ++attempt) {
      r = pay_balance(orders[i], w, key_of(i));
      if (r.status == 200 || r.status == 402 || r.status == 409)
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds{100});
    }
    EXPECT_TRUE(r.status == 200 || r.status == 402 || r.status == 409) << r.raw;
  }
  // Every order settles: a `paying` one is posted, or failed once its
  // reservation timed out; a reservation nobody committed is voided at its
  // timeout (2 s here).
  for (const auto& id : orders)
    wait_order(id, [](const json& x) { return x["status"] != "paying"; });
  auto settled = wait_wallet(w, [](const json& x) { return x["balance"]["pending"] == 0; });
  EXPECT_EQ(settled["balance"]["pending"], 0) << engine_->log().substr(0, 20000);
  // Then what the wallet still holds pays the others, under new keys: the
  // wallet ends up paying exactly 30 of them.
  int paid = 0, refused = 0;
  for (size_t i = 0; i < orders.size(); ++i) {
    auto o = call("GET", "/v1/orders/" + orders[i]).body;
    if (o["status"] != "paid") {
      auto again = pay_balance(orders[i], w, {{"Idempotency-Key", "kill-again-" + std::to_string(i)}});
      EXPECT_TRUE(again.status == 200 || again.status == 402) << again.raw;
      o = call("GET", "/v1/orders/" + orders[i]).body;
    }
    if (o["status"] == "paid")
      ++paid;
    else
      ++refused;
  }
  EXPECT_EQ(paid, 30); // 60,000 / 2,000
  EXPECT_EQ(refused, 10);
  // Reservations nobody committed are voided at their timeout (2 s here).
  auto wallet = wait_wallet(w, [](const json& x) { return x["balance"]["pending"] == 0; });
  EXPECT_EQ(wallet["balance"], (json{{"available", 0}, {"pending", 0}, {"posted", 0}}))
    << [&] {
         std::string out, log = engine_->log();
         std::istringstream in{log};
         for (std::string line; std::getline(in, line);)
           if (line.find("wallet") != std::string::npos || line.find("error") != std::string::npos)
             out += line + "\n";
         return out.substr(0, 6000);
       }();
  expect_paid_iff_debited(orders);
  expect_books_balance();
}

} // namespace
} // namespace payengine
