// Telling the merchant: signed webhooks from the outbox, retried on the
// schedule, isolated per merchant, resumed after kill -9.
#include "tests/support/child_process.hpp"
#include "tests/support/engine_process.hpp"
#include "tests/support/raw_http_server.hpp"
#include "tests/support/test_db.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <thread>

namespace payengine {
namespace {

using json = nlohmann::json;
using clock_type = std::chrono::steady_clock;
using testing::engine_process;
using testing::order_body;
using testing::test_database;

/// A merchant's webhook endpoint: answers `fail_first` times with 500 (or
/// hangs `hang_ms` first), then 200; keeps every request it got.
class webhook_receiver {
public:
  struct hit {
    clock_type::time_point at;
    httplib::Headers headers;
    std::string body;
  };

  webhook_receiver(int fail_first, int hang_ms = 0) : fail_first_(fail_first), hang_ms_(hang_ms) {
    svr_.Post("/hook", [this](const httplib::Request& req, httplib::Response& res) {
      int n;
      {
        std::lock_guard lock{mtx_};
        hits_.push_back({clock_type::now(), req.headers, req.body});
        n = static_cast<int>(hits_.size());
        cv_.notify_all();
      }
      if (hang_ms_ > 0 && n == 1)
        std::this_thread::sleep_for(std::chrono::milliseconds{hang_ms_});
      res.status = n <= fail_first_ ? 500 : 200;
      res.set_content("ok", "text/plain");
    });
    port_ = svr_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { svr_.listen_after_bind(); });
    // stop() before the loop runs would be lost, and join() would hang.
    auto deadline = clock_type::now() + std::chrono::seconds{5};
    while (!svr_.is_running() && clock_type::now() < deadline)
      std::this_thread::yield();
  }
  ~webhook_receiver() {
    svr_.stop();
    thread_.join();
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hook"; }

  /// Waits (bounded) until `n` requests came; returns them.
  std::vector<hit> wait_for(size_t n, std::chrono::seconds limit = std::chrono::seconds{20}) {
    std::unique_lock lock{mtx_};
    cv_.wait_for(lock, limit, [&] { return hits_.size() >= n; });
    return hits_;
  }

private:
  int fail_first_;
  int hang_ms_;
  httplib::Server svr_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mtx_;
  std::condition_variable cv_;
  std::vector<hit> hits_;
};

std::string header(const httplib::Headers& h, const std::string& name) {
  auto i = h.find(name);
  return i == h.end() ? "" : i->second;
}

class notify_test : public ::testing::Test {
protected:
  // Here, not only in start(): a skip inside a helper returns from the
  // helper, and the test would go on with no engine.
  void SetUp() override { PE_REQUIRE_DATABASE(); }

  /// `env` adds to the harness's (which allows outbound calls to 127.0.0.0/8).
  void start(std::vector<std::string> more_args = {}, std::map<std::string, std::string> env = {}) {
    PE_REQUIRE_DATABASE();
    db_ = std::make_unique<test_database>("notify");
    // Time scale 1000: 4 min -> 240 ms, 10 min -> 600 ms.
    env.emplace("PAYENGINE_TIME_SCALE", "1000");
    engine_ = std::make_unique<engine_process>(db_->url(), env);
    std::vector<std::string> args{"--notifier-poll-ms", "50"};
    args.insert(args.end(), more_args.begin(), more_args.end());
    engine_->set_args(args);
    engine_->start();
  }

  json merchant(const std::string& notify_url) {
    auto r = engine_->request("POST", "/admin/merchants", engine_->admin_token(),
                              json{{"name", "shop"}, {"notify_url", notify_url}}.dump());
    EXPECT_EQ(r.status, 201);
    return r.body;
  }

  /// An order.cancelled event for `m`, at the time of the call.
  clock_type::time_point cancel_an_order(const json& m, const std::string& no) {
    auto key = m["api_key"].get<std::string>();
    auto id = engine_->request("POST", "/v1/orders", key, order_body(no).dump()).body["id"].get<std::string>();
    auto at = clock_type::now();
    EXPECT_EQ(engine_->request("POST", "/v1/orders/" + id + "/cancel", key, "{}").status, 200);
    return at;
  }

  /// The notifications in `status`, once there is one (polled, bounded: the
  /// notifier records an attempt just after it is made).
  json notifications(const std::string& status) {
    json list;
    for (int i = 0; i < 100; ++i) {
      list = engine_->request("GET", "/admin/notifications?status=" + status, engine_->admin_token()).body;
      if (!list["data"].empty())
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds{20});
    }
    return list;
  }

  /// The notifications (any status) once one of them has `attempts` attempts
  /// (polled, bounded).
  json notifications_with_attempts(int attempts) {
    json list;
    for (int i = 0; i < 500; ++i) {
      list = engine_->request("GET", "/admin/notifications", engine_->admin_token()).body;
      for (const auto& n : list["data"])
        if (n["attempts"].get<int>() >= attempts)
          return list;
      std::this_thread::sleep_for(std::chrono::milliseconds{20});
    }
    return list;
  }

  /// Waits (bounded) until the notification of merchant `m` has `attempts`
  /// attempts recorded; returns the whole list then (or at the bound).
  json notifications_with_attempts_of(const json& m, int attempts) {
    json list;
    for (int i = 0; i < 500; ++i) {
      list = engine_->request("GET", "/admin/notifications", engine_->admin_token()).body;
      for (const auto& n : list["data"])
        if (n["merchant_id"] == m["id"] && n["attempts"].get<int>() >= attempts)
          return list;
      std::this_thread::sleep_for(std::chrono::milliseconds{20});
    }
    return list;
  }

  /// The notification of `m` (its merchant id), or null.
  static json of_merchant(const json& list, const json& m) {
    for (const auto& n : list["data"])
      if (n["merchant_id"] == m["id"])
        return n;
    return nullptr;
  }

  std::unique_ptr<test_database> db_;
  std::unique_ptr<engine_process> engine_;
};

int64_t ms(clock_type::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

TEST_F(notify_test, fails_five_times_then_delivered_on_the_schedule_and_verified_independently) {
  start();
  webhook_receiver hook{5};
  auto m = merchant(hook.url());
  cancel_an_order(m, "W-1");
  auto hits = hook.wait_for(6);
  ASSERT_EQ(hits.size(), 6u);
  // 3 immediate retries, then 4 min and 10 min (time scale 1000: 240, 600 ms).
  std::vector<int64_t> gaps;
  for (size_t i = 1; i < hits.size(); ++i)
    gaps.push_back(ms(hits[i].at - hits[i - 1].at));
  for (int i = 0; i < 3; ++i)
    EXPECT_LT(gaps[i], 200) << "retry " << i + 1 << " is immediate";
  EXPECT_GE(gaps[3], 230);
  EXPECT_LT(gaps[3], 240 + 400);
  EXPECT_GE(gaps[4], 590);
  EXPECT_LT(gaps[4], 600 + 400);
  RecordProperty("retry_gaps_ms", json(gaps).dump());
  // The same event every time: one webhook-id, one body.
  for (const auto& h : hits) {
    EXPECT_EQ(header(h.headers, "webhook-id"), header(hits[0].headers, "webhook-id"));
    EXPECT_EQ(h.body, hits[0].body);
  }
  auto event = json::parse(hits.back().body);
  EXPECT_EQ(event["type"], "order.cancelled");
  EXPECT_EQ(event["id"], header(hits.back().headers, "webhook-id"));
  // Recorded: delivered after 6 attempts, each attempt with its status.
  auto list = notifications("delivered");
  ASSERT_EQ(list["data"].size(), 1u) << list.dump();
  EXPECT_EQ(list["data"][0]["attempts"], 6);
  EXPECT_EQ(list["data"][0]["history"].size(), 6u);
  EXPECT_EQ(list["data"][0]["history"][0]["status_code"], 500);
  EXPECT_EQ(list["data"][0]["history"][5]["status_code"], 200);
  // An independent implementation (npm standardwebhooks) verifies the signature.
  const char* node_checks = std::getenv("PAYENGINE_NODE_CHECKS");
  if (!node_checks)
    GTEST_SKIP() << "PAYENGINE_NODE_CHECKS not set (scripts/test.sh sets it)";
  json check = {{"secret", m["webhook_secret"]}, {"body", hits.back().body},
                {"headers", {{"webhook-id", header(hits.back().headers, "webhook-id")},
                             {"webhook-timestamp", header(hits.back().headers, "webhook-timestamp")},
                             {"webhook-signature", header(hits.back().headers, "webhook-signature")}}}};
  auto path = ::testing::TempDir() + "payengine-webhook.json";
  std::ofstream{path} << check.dump();
  auto cmd = std::string{"node "} + node_checks + "/verify_webhook.mjs " + path;
  auto verified = testing::run_command(cmd);
  EXPECT_EQ(verified.status, 0) << cmd << "\n" << verified.output;
  // A tampered body does not verify.
  check["body"] = hits.back().body + " ";
  std::ofstream{path} << check.dump();
  EXPECT_NE(testing::run_command(cmd + " 2>/dev/null").status, 0);
}

TEST_F(notify_test, a_hanging_merchant_does_not_delay_another_merchants_deliveries) {
  // A small claim window: merchant A's backlog must not fill it.
  start({"--notifier-batch-max", "3", "--notifier-per-merchant-max", "1"});
  webhook_receiver slow{0, 3'000};
  webhook_receiver fast{0};
  auto a = merchant(slow.url());
  auto b = merchant(fast.url());
  for (int i = 0; i < 6; ++i)
    cancel_an_order(a, "S-" + std::to_string(i)); // the first hangs 3 s
  slow.wait_for(1);
  auto sent = cancel_an_order(b, "F-1");
  auto hits = fast.wait_for(1, std::chrono::seconds{5});
  ASSERT_EQ(hits.size(), 1u);
  auto delay = ms(hits[0].at - sent);
  EXPECT_LT(delay, 1'000) << "merchant B waited for merchant A";
  RecordProperty("other_merchant_delay_ms", static_cast<int>(delay));
}

TEST_F(notify_test, a_merchants_backlog_drains_at_its_endpoints_pace_not_the_polls) {
  // Five deliveries claimed at a time, a poll every 2 s: polling alone would
  // take 80 s for 200 webhooks. Each finished claim asks for the next.
  start({"--notifier-batch-max", "5", "--notifier-poll-ms", "2000"});
  webhook_receiver hook{0};
  auto m = merchant(hook.url());
  for (int i = 0; i < 200; ++i)
    cancel_an_order(m, "B-" + std::to_string(i));
  auto hits = hook.wait_for(200, std::chrono::seconds{15});
  EXPECT_EQ(hits.size(), 200u);
  if (hits.size() == 200u) {
    auto took = ms(hits.back().at - hits.front().at);
    RecordProperty("backlog_200_ms", static_cast<int>(took));
    EXPECT_LT(took, 10'000);
  }
}

TEST_F(notify_test, a_delivery_interrupted_by_kill_9_resumes_after_restart) {
  start();
  webhook_receiver hook{0, 2'000}; // the first attempt hangs: the engine dies meanwhile
  auto m = merchant(hook.url());
  cancel_an_order(m, "K-1");
  hook.wait_for(1);
  engine_->kill_hard();
  engine_->start();
  auto hits = hook.wait_for(2);
  ASSERT_GE(hits.size(), 2u);
  EXPECT_EQ(header(hits[1].headers, "webhook-id"), header(hits[0].headers, "webhook-id"));
  EXPECT_EQ(hits[1].body, hits[0].body); // the same event, not another one
  auto list = notifications("delivered");
  EXPECT_EQ(list["data"].size(), 1u) << list.dump();
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM merchant_events"), "1");
}

TEST_F(notify_test, dead_deliveries_wait_for_an_operator_and_redeliver) {
  start();
  webhook_receiver hook{100}; // never succeeds
  auto m = merchant(hook.url());
  engine_->terminate();
  engine_->set_args({"--notifier-poll-ms", "50", "--notify-schedule-s", "0,1"});
  engine_->start();
  cancel_an_order(m, "D-1");
  hook.wait_for(3);
  auto dead = notifications("dead");
  ASSERT_EQ(dead["data"].size(), 1u) << dead.dump();
  auto id = dead["data"][0]["id"].get<std::string>();
  auto r = engine_->request("POST", "/admin/notifications/" + id + "/redeliver", engine_->admin_token(), "{}");
  EXPECT_EQ(r.status, 202) << r.raw;
  EXPECT_GE(hook.wait_for(4).size(), 4u); // sent again
  EXPECT_EQ(engine_->request("POST", "/admin/notifications/ntf_nope/redeliver", engine_->admin_token(), "{}").status, 409);
}

TEST_F(notify_test, a_delivery_with_nowhere_to_go_is_dead_at_once_even_while_every_worker_hangs) {
  // One worker, held by a hanging endpoint: a delivery that needs no call
  // (no notify_url on the order nor the merchant) must not wait for it.
  start({"--notifier-workers", "1"});
  webhook_receiver slow{0, 5'000};
  auto a = merchant(slow.url());
  auto made = engine_->request("POST", "/admin/merchants", engine_->admin_token(),
                               json{{"name", "pulls GET /v1/events"}}.dump()); // no notify_url
  ASSERT_EQ(made.status, 201) << made.raw;
  auto nowhere = made.body;
  cancel_an_order(a, "H-1");
  slow.wait_for(1); // the only worker is inside the hanging call now
  cancel_an_order(nowhere, "N-1");
  auto dead = notifications("dead");
  ASSERT_EQ(dead["data"].size(), 1u) << dead.dump();
  const auto& n = dead["data"][0];
  EXPECT_EQ(n["merchant_id"], nowhere["id"]);
  EXPECT_EQ(n["attempts"], 1);
  ASSERT_EQ(n["history"].size(), 1u) << n.dump();
  EXPECT_EQ(n["history"][0]["error"], "no_target") << n.dump();
  // Settled while the hanging attempt still held the worker: that attempt
  // has not been recorded yet.
  auto all = engine_->request("GET", "/admin/notifications", engine_->admin_token()).body;
  auto held = of_merchant(all, a);
  ASSERT_FALSE(held.is_null()) << all.dump();
  EXPECT_EQ(held["attempts"], 0) << held.dump();
}

// --- outbound calls (API.md "Outbound calls") ---------------------------------------

TEST_F(notify_test, notify_url_to_link_local_is_refused_at_creation) {
  start();
  auto merchants_before = db_->scalar("SELECT count(*) FROM merchants");
  for (auto url : {"http://169.254.169.254/latest/meta-data/", "http://[::ffff:169.254.169.254]/",
                   "http://169.254.43518/", "https://10.0.0.7/hook", "http://[fe80::1]:8080/"}) {
    auto r = engine_->request("POST", "/admin/merchants", engine_->admin_token(),
                              json{{"name", "shop"}, {"notify_url", url}}.dump());
    EXPECT_EQ(r.status, 400) << url << " " << r.raw;
    EXPECT_EQ(r.body["error"]["type"], "invalid_request_error") << r.raw;
    EXPECT_EQ(r.body["error"]["param"], "notify_url") << r.raw;
  }
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM merchants"), merchants_before);
  auto m = merchant("https://hooks.example.com/payengine"); // a name: checked when connecting
  auto key = m["api_key"].get<std::string>();
  auto body = order_body("L-1");
  body["notify_url"] = "http://169.254.169.254/latest/meta-data/iam";
  auto r = engine_->request("POST", "/v1/orders", key, body.dump());
  EXPECT_EQ(r.status, 400) << r.raw;
  EXPECT_EQ(r.body["error"]["type"], "invalid_request_error") << r.raw;
  EXPECT_EQ(r.body["error"]["param"], "notify_url") << r.raw;
  EXPECT_NE(r.body["error"]["message"].get<std::string>().find("169.254.169.254"), std::string::npos);
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM orders"), "0");
  // Inside the allow list (the harness allows 127.0.0.0/8) a literal is fine.
  body["notify_url"] = "http://127.0.0.1:9/hook";
  EXPECT_EQ(engine_->request("POST", "/v1/orders", key, body.dump()).status, 201);
}

TEST_F(notify_test, webhook_to_loopback_is_not_sent_without_allow_list) {
  start({}, {{"PAYENGINE_OUTBOUND_ALLOW", ""}});
  webhook_receiver hook{0};
  // A hostname passes at creation; it resolves to 127.0.0.1 when connecting.
  auto url = hook.url();
  url.replace(url.find("127.0.0.1"), 9, "localhost");
  auto m = merchant(url);
  cancel_an_order(m, "LB-1");
  auto list = notifications_with_attempts(2);
  auto n = of_merchant(list, m);
  ASSERT_FALSE(n.is_null()) << list.dump();
  EXPECT_NE(n["status"], "delivered");
  ASSERT_GE(n["history"].size(), 1u) << n.dump();
  for (const auto& attempt : n["history"]) {
    auto error = attempt["error"].get<std::string>();
    EXPECT_EQ(error.rfind("address_forbidden", 0), 0u) << n.dump();
    EXPECT_NE(error.find("127.0.0.1 is loopback"), std::string::npos) << error;
    EXPECT_EQ(attempt["status_code"], 0);
  }
  EXPECT_TRUE(hook.wait_for(1, std::chrono::seconds{0}).empty()) << "the listener was reached";
}

TEST_F(notify_test, drip_feeding_endpoint_is_cut_at_the_total_deadline) {
  // One worker: the next delivery goes through only if the drip lets it go.
  start({"--notifier-workers", "1", "--webhook-timeout-ms", "1500", "--notify-schedule-s", "3600"});
  payengine::testing::raw_http_server dripping{[](int fd) {
    payengine::testing::read_http_request(fd);
    payengine::testing::drip(fd, "HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n" + std::string(20, 'x'),
                             std::chrono::seconds{1});
  }};
  webhook_receiver fine{0};
  auto slow = merchant("http://127.0.0.1:" + std::to_string(dripping.port()) + "/hook");
  auto other = merchant(fine.url());
  cancel_an_order(slow, "DR-1");
  for (int i = 0; i < 250 && dripping.connections() == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  ASSERT_EQ(dripping.connections(), 1);
  cancel_an_order(other, "OK-1");
  EXPECT_EQ(fine.wait_for(1, std::chrono::seconds{15}).size(), 1u) << "the worker stayed stuck";
  auto n = of_merchant(notifications_with_attempts_of(slow, 1), slow);
  ASSERT_FALSE(n.is_null());
  ASSERT_GE(n["history"].size(), 1u) << n.dump();
  const auto& first = n["history"][0];
  EXPECT_EQ(first["error"].get<std::string>().rfind("deadline_exceeded", 0), 0u) << n.dump();
  // Cut at the deadline (1.5 s), not when the endpoint ended (~40 s).
  EXPECT_LT(first["latency_ms"].get<int>(), 10'000) << n.dump();
  RecordProperty("drip_attempt_ms", first["latency_ms"].get<int>());
  EXPECT_NE(n["status"], "delivered"); // retried on the schedule, then dead
}

TEST_F(notify_test, webhook_answer_over_the_size_cap_is_a_failed_attempt) {
  start({"--webhook-response-max-bytes", "1024", "--notify-schedule-s", "3600"});
  payengine::testing::raw_http_server chatty{[](int fd) {
    payengine::testing::read_http_request(fd);
    payengine::testing::send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + std::string(5000, 'x'));
  }};
  webhook_receiver brief{0};
  auto big = merchant("http://127.0.0.1:" + std::to_string(chatty.port()) + "/hook");
  auto small = merchant(brief.url());
  cancel_an_order(big, "BIG-1");
  cancel_an_order(small, "SMALL-1");
  EXPECT_EQ(brief.wait_for(1).size(), 1u); // "ok" is under the cap
  auto list = notifications_with_attempts_of(big, 1);
  auto n = of_merchant(list, big);
  ASSERT_FALSE(n.is_null()) << list.dump();
  EXPECT_NE(n["status"], "delivered") << n.dump();
  ASSERT_GE(n["history"].size(), 1u) << n.dump();
  EXPECT_EQ(n["history"][0]["error"].get<std::string>().rfind("response_too_large", 0), 0u) << n.dump();
  EXPECT_GE(chatty.connections(), 1);
  EXPECT_EQ(notifications("delivered")["data"].size(), 1u);
}

} // namespace
} // namespace payengine
