// Payments under a hostile channel: lost, duplicated and reordered
// notifications, failing API calls, a dead channel, and kill -9 while
// customers pay. What the channel took must end up in the order, once.
#include "tests/support/engine_process.hpp"
#include "tests/support/paysim_for_tests.hpp"
#include "tests/support/test_db.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

namespace payengine {
namespace {

using json = nlohmann::json;
using testing::engine_process;
using testing::order_body;
using testing::test_database;

using testing::start_paysim;

/// A merchant's client: create, pay (retrying what the API says to retry),
/// wait for the QR code, and the customer's scan-and-pay at the channel.
class shopper {
public:
  shopper(const engine_process& engine, std::string key, int sim_port,
          std::string channel = "alipay")
    : engine_(engine), key_(std::move(key)), sim_port_(sim_port), channel_(std::move(channel)) {}

  testing::http_result call(const std::string& method, const std::string& path) {
    return engine_.request(method, path, key_, method == "GET" ? "" : "{}");
  }

  /// The order once `pred` holds, long-polling for at most `rounds` * 5 s.
  json wait_until(const std::string& id, const std::function<bool(const json&)>& pred, int rounds = 8) {
    auto o = call("GET", "/v1/orders/" + id).body;
    for (int i = 0; i < rounds && !pred(o); ++i) {
      if (!o.contains("version")) { // an error answer: the API says what to do
        ADD_FAILURE() << "GET " << id << ": " << o.dump();
        return o;
      }
      o = call("GET", "/v1/orders/" + id + "?wait_for_change=5&version=" + std::to_string(o["version"].get<int>())).body;
    }
    return o;
  }

  std::string create(const std::string& no, int expires_in) {
    auto body = order_body(no);
    body["expires_in"] = expires_in;
    body["channel"] = channel_;
    auto r = engine_.request("POST", "/v1/orders", key_, body.dump());
    return r.status == 201 ? r.body["id"].get<std::string>() : "";
  }

  /// Pays until the order shows a QR code; false if it never did.
  bool open_trade(const std::string& id) {
    for (int i = 0; i < 50; ++i) {
      auto r = call("POST", "/v1/orders/" + id + "/pay");
      if (r.status == 503 || r.status == 429 || r.status == 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds{20}); // the API says: retry
        continue;
      }
      auto o = wait_until(id, [](const json& o) { return o["status"] != "paying"; }, 2);
      if (o["status"] == "awaiting_payment")
        return qr_[id] = o["payment"]["qr_code"], true;
      if (o["status"] != "failed")
        return false;
    }
    return false;
  }

  bool customer_pays(const std::string& id) {
    auto qr = qr_[id];
    auto path = qr.substr(qr.find('/', std::string{"http://"}.size()));
    httplib::Client c{"127.0.0.1", sim_port_};
    auto r = c.Post(path.c_str(), R"({"result":"success"})", "application/json");
    return r && r->status == 200;
  }

private:
  const engine_process& engine_;
  std::string key_;
  int sim_port_;
  std::string channel_;
  std::map<std::string, std::string> qr_;
};

int count_events(const json& events, const std::string& type) {
  int n = 0;
  for (auto& e : events)
    n += e["type"] == type;
  return n;
}

/// The channel's notifications are lost, duplicated and reordered, and a
/// fifth of its API calls fail: every paid order is paid once, every unpaid
/// one expires.
void chaos_on(const std::string& channel) {
  auto sim = start_paysim();
  httplib::Client sim_admin{"127.0.0.1", sim->port()};
  auto faults = json{{"drop_notify_rate", 0.3}, {"duplicate_notify_rate", 0.3},
                     {"reorder_notify", true}, {"error_rate", 0.2}, {"channel", channel}};
  ASSERT_EQ(sim_admin.Post("/sim/faults", faults.dump(), "application/json")->status, 200);
  test_database db{"chaos_" + channel};
  auto env = testing::both_channels(*sim);
  env["PAYENGINE_TIME_SCALE"] = "100";
  engine_process engine{db.url(), env};
  engine.start();
  auto key = engine.create_merchant()["api_key"].get<std::string>();
  constexpr int threads = 8, paid_per_thread = 25, unpaid_per_thread = 4;
  std::mutex mtx;
  std::vector<std::string> paid_ids, unpaid_ids;
  std::atomic<int> failures{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&, t] {
      shopper s{engine, key, sim->port(), channel};
      for (int i = 0; i < paid_per_thread + unpaid_per_thread; ++i) {
        auto id = s.create("C-" + std::to_string(t) + "-" + std::to_string(i), 900); // 9 s at scale 100
        if (id.empty() || !s.open_trade(id)) {
          failures++;
          continue;
        }
        bool pays = i < paid_per_thread;
        if (pays && !s.customer_pays(id)) {
          failures++;
          continue;
        }
        std::lock_guard lock{mtx};
        (pays ? paid_ids : unpaid_ids).push_back(id);
      }
    });
  for (auto& w : workers)
    w.join();
  ASSERT_EQ(failures.load(), 0);
  ASSERT_EQ(paid_ids.size(), size_t{threads * paid_per_thread});
  shopper s{engine, key, sim->port(), channel};
  for (auto& id : paid_ids) {
    auto o = s.wait_until(id, [](const json& o) { return o["status"] == "paid"; });
    ASSERT_EQ(o["status"], "paid") << id << " " << o.dump();
    auto events = s.call("GET", "/v1/orders/" + id + "/events").body["data"];
    EXPECT_EQ(count_events(events, "order.paid"), 1) << id;
  }
  for (auto& id : unpaid_ids) {
    auto o = s.wait_until(id, [](const json& o) { return o["status"] == "expired"; });
    EXPECT_EQ(o["status"], "expired") << id << " " << o.dump();
  }
  EXPECT_EQ(db.scalar("SELECT count(*) FROM orders WHERE status = 4"), std::to_string(paid_ids.size()));
  EXPECT_EQ(db.scalar("SELECT count(*) FROM order_events WHERE type = 'order.paid'"),
            std::to_string(paid_ids.size()));
  ::testing::Test::RecordProperty("duplicate_callbacks", db.scalar("SELECT count(*) FROM callbacks WHERE outcome = 'duplicate'"));
  // Nothing above may have crashed an order actor.
  EXPECT_TRUE(testing::no_order_actor_restarts(engine));
}

TEST(payment_chaos, lost_duplicated_reordered_notifications_and_failing_calls) {
  PE_REQUIRE_DATABASE();
  chaos_on("alipay");
}

TEST(payment_chaos, the_same_chaos_on_wechat_pay) {
  PE_REQUIRE_DATABASE();
  chaos_on("wechat");
}

/// Customers pay while the engine is killed: after the restart every trade
/// the channel took is reflected, once.
void kill_9_on(const std::string& channel) {
  auto sim = start_paysim();
  test_database db{"chaoskill_" + channel};
  auto env = testing::both_channels(*sim);
  env["PAYENGINE_TIME_SCALE"] = "100";
  engine_process engine{db.url(), env};
  engine.start();
  auto key = engine.create_merchant()["api_key"].get<std::string>();
  std::vector<std::string> ids;
  shopper s{engine, key, sim->port(), channel};
  for (int i = 0; i < 60; ++i) {
    auto id = s.create("K-" + std::to_string(i), 3600);
    ASSERT_TRUE(!id.empty() && s.open_trade(id));
    ids.push_back(id);
  }
  // Customers pay while the engine dies: some notifications hit a dead port.
  std::atomic<int> paid{0};
  std::thread customers([&] {
    for (auto& id : ids)
      paid += s.customer_pays(id);
  });
  while (paid < 20)
    std::this_thread::yield();
  engine.kill_hard();
  customers.join();
  ASSERT_EQ(paid.load(), 60);
  engine.start(); // the reconciler's first sweep queries every unfinished order
  for (auto& id : ids) {
    auto o = s.wait_until(id, [](const json& o) { return o["status"] == "paid"; });
    EXPECT_EQ(o["status"], "paid") << id << " " << o.dump();
  }
  EXPECT_EQ(db.scalar("SELECT count(*) FROM order_events WHERE type = 'order.paid'"), "60");
  EXPECT_EQ(db.scalar("SELECT count(*) FROM channel_trades WHERE channel = '" + channel
                      + "' AND state = 2"), "60");
}

TEST(payment_chaos, kill_9_while_customers_pay_then_every_paid_trade_is_reflected) {
  PE_REQUIRE_DATABASE();
  kill_9_on("alipay");
}

TEST(payment_chaos, kill_9_while_customers_pay_on_wechat_pay) {
  PE_REQUIRE_DATABASE();
  kill_9_on("wechat");
}

TEST(payment_chaos, a_dead_channel_opens_the_breaker_and_pay_fails_fast) {
  PE_REQUIRE_DATABASE();
  auto sim = start_paysim();
  auto port = sim->port();
  test_database db{"breaker"};
  engine_process engine{db.url(), {{"PAYENGINE_ALIPAY_GATEWAY_URL", sim->url() + "/gateway.do"},
                                   {"PAYENGINE_TIME_SCALE", "100"}}};
  engine.start();
  auto key = engine.create_merchant()["api_key"].get<std::string>();
  shopper s{engine, key, port};
  sim->stop(); // the channel dies
  // Pays fail at the channel until the breaker opens; then pay fails fast.
  int fast_503 = 0;
  std::chrono::microseconds fastest{std::chrono::seconds{10}};
  for (int i = 0; i < 40 && fast_503 < 3; ++i) {
    auto id = s.create("B-" + std::to_string(i), 3600);
    auto started = std::chrono::steady_clock::now();
    auto r = s.call("POST", "/v1/orders/" + id + "/pay");
    auto took = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started);
    if (r.status == 503) {
      EXPECT_EQ(r.body["error"]["type"], "channel_error") << r.raw;
      EXPECT_EQ(s.call("GET", "/v1/orders/" + id).body["status"], "created"); // nothing changed
      fastest = std::min(fastest, took);
      ++fast_503;
    } else {
      s.wait_until(id, [](const json& o) { return o["status"] != "paying"; }, 2);
    }
  }
  ASSERT_GE(fast_503, 3);
  EXPECT_LT(fastest.count(), 50'000) << "an open breaker answers without calling the channel";
  RecordProperty("pay_fail_fast_us", static_cast<int>(fastest.count()));
  // The channel comes back on the same port; after the open interval a probe closes the breaker.
  auto revived = start_paysim("127.0.0.1:" + std::to_string(port));
  bool recovered = false;
  for (int i = 0; i < 200 && !recovered; ++i) {
    auto id = s.create("R-" + std::to_string(i), 3600);
    auto r = s.call("POST", "/v1/orders/" + id + "/pay");
    if (r.status == 202)
      recovered = s.wait_until(id, [](const json& o) { return o["status"] == "awaiting_payment"; })["status"]
                  == "awaiting_payment";
    else
      std::this_thread::sleep_for(std::chrono::milliseconds{20}); // 503 says: retry later
  }
  EXPECT_TRUE(recovered);
}

} // namespace
} // namespace payengine
