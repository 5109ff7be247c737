// Merchant rate limits (API.md v1.1 "Overload") over real HTTP against a
// real payengine process: a burst beyond the bucket gets 429s that created
// nothing, another merchant is untouched, PATCH changes the limit at once,
// and a bad PATCH changes nothing. No wall-clock gaps are asserted: the
// bound on admissions grows with the time the burst actually took.
#include "tests/support/engine_process.hpp"
#include "tests/support/test_db.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <thread>

namespace payengine {
namespace {

using json = nlohmann::json;
using testing::engine_process;
using testing::http_result;
using testing::order_body;
using testing::test_database;

class rate_limit_test : public ::testing::Test {
protected:
  void SetUp() override {
    PE_REQUIRE_DATABASE();
    db_ = std::make_unique<test_database>("rate_limit");
    // A default burst without a default rate: new merchants stay unlimited.
    engine_ = std::make_unique<engine_process>(db_->url(), node_env());
    engine_->start();
  }

  static std::map<std::string, std::string> node_env() {
    return {{"PAYENGINE_MERCHANT_BURST", "7"}, {"PAYENGINE_MERCHANT_CACHE_TTL_MS", "300"}};
  }

  http_result admin(const std::string& method, const std::string& path, const std::string& body) {
    return engine_->request(method, path, engine_->admin_token(), body);
  }

  json create_merchant(const json& body) {
    auto r = admin("POST", "/admin/merchants", body.dump());
    EXPECT_EQ(r.status, 201) << r.raw;
    return r.body;
  }

  /// `n` POST /v1/orders at once (one thread and connection each).
  std::vector<http_result> creates_at_once(const std::string& key, const std::string& prefix, int n) {
    std::vector<http_result> out(n);
    std::vector<std::thread> threads;
    std::atomic<int> ready{0};
    for (int i = 0; i < n; ++i)
      threads.emplace_back([&, i] {
        ready++;
        while (ready.load() < n) // all threads up before the first request
          std::this_thread::yield();
        out[i] = engine_->request("POST", "/v1/orders", key,
                                  order_body(prefix + std::to_string(i)).dump());
      });
    for (auto& t : threads)
      t.join();
    return out;
  }

  std::string orders_of(const json& merchant) {
    return db_->scalar("SELECT count(*) FROM orders WHERE merchant_id = '"
                       + merchant["id"].get<std::string>() + "'");
  }
  std::string rate_row(const json& merchant) {
    return db_->scalar("SELECT rate_per_s || '/' || burst || '/' || name FROM merchants WHERE id = '"
                       + merchant["id"].get<std::string>() + "'");
  }

  static int count_status(const std::vector<http_result>& rs, int status) {
    return static_cast<int>(std::count_if(rs.begin(), rs.end(),
                                          [&](const http_result& r) { return r.status == status; }));
  }

  static void expect_rate_limited(const http_result& r) {
    EXPECT_EQ(r.body["error"]["type"], "rate_limit_error") << r.raw;
    EXPECT_EQ(r.body["error"]["code"], "rate_limited") << r.raw;
    EXPECT_TRUE(r.body["error"]["message"].is_string());
    auto retry = r.headers.find("Retry-After");
    ASSERT_NE(retry, r.headers.end());
    EXPECT_GE(std::stoi(retry->second), 1);
    EXPECT_LE(std::stoi(retry->second), 1); // rate 1/s: a token is at most a second away
    EXPECT_EQ(r.headers.count("Retry-After"), 1u);
    auto unchanged = r.headers.find("Payengine-Nothing-Changed");
    ASSERT_NE(unchanged, r.headers.end());
    EXPECT_EQ(unchanged->second, "true");
  }

  std::unique_ptr<test_database> db_;
  std::unique_ptr<engine_process> engine_;
};

TEST_F(rate_limit_test, a_burst_beyond_the_bucket_is_refused_and_creates_nothing) {
  auto limited = create_merchant({{"name", "Limited"}, {"rate_per_s", 1}, {"burst", 5}});
  EXPECT_EQ(limited["rate_per_s"], 1);
  EXPECT_EQ(limited["burst"], 5);
  auto free = create_merchant({{"name", "Unlimited"}});
  EXPECT_EQ(free["rate_per_s"], 0); // the engine's default
  EXPECT_EQ(free["burst"], 7);      // PAYENGINE_MERCHANT_BURST

  std::vector<http_result> limited_rs, free_rs;
  auto started = std::chrono::steady_clock::now();
  std::thread other{[&] { free_rs = creates_at_once(free["api_key"], "F-", 20); }};
  limited_rs = creates_at_once(limited["api_key"], "L-", 20);
  auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  other.join();

  // The bucket held 5; at 1/s, at most one more per second the burst took.
  int admitted = count_status(limited_rs, 201);
  EXPECT_GE(admitted, 5);
  EXPECT_LE(admitted, 5 + static_cast<int>(std::ceil(elapsed)) + 1) << "elapsed " << elapsed << " s";
  EXPECT_EQ(count_status(limited_rs, 429), 20 - admitted);
  for (const auto& r : limited_rs)
    if (r.status == 429)
      expect_rate_limited(r);
  EXPECT_EQ(orders_of(limited), std::to_string(admitted));
  EXPECT_EQ(count_status(free_rs, 201), 20);
  EXPECT_EQ(orders_of(free), "20");

  auto metrics = admin("GET", "/metrics", "");
  EXPECT_NE(metrics.raw.find("payengine_http_shed_total{reason=\"merchant_rate\"} "
                             + std::to_string(20 - admitted) + "\n"),
            std::string::npos) << metrics.raw.substr(0, 600);
}

TEST_F(rate_limit_test, patch_raises_the_limit_at_once) {
  auto m = create_merchant({{"name", "Growing"}, {"rate_per_s", 1}, {"burst", 2}});
  auto started = std::chrono::steady_clock::now();
  auto first = creates_at_once(m["api_key"], "A-", 10);
  auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_LE(count_status(first, 201), 2 + static_cast<int>(std::ceil(elapsed)) + 1);
  EXPECT_EQ(count_status(first, 429), 10 - count_status(first, 201));

  auto patched = admin("PATCH", "/admin/merchants/" + m["id"].get<std::string>(),
                       json{{"rate_per_s", 1000}, {"burst", 1000}}.dump());
  ASSERT_EQ(patched.status, 200) << patched.raw;
  EXPECT_EQ(patched.body["id"], m["id"]);
  EXPECT_EQ(patched.body["object"], "merchant");
  EXPECT_EQ(patched.body["rate_per_s"], 1000);
  EXPECT_EQ(patched.body["burst"], 1000);
  EXPECT_EQ(patched.body["name"], "Growing");
  EXPECT_FALSE(patched.body.contains("api_key"));
  EXPECT_EQ(rate_row(m), "1000/1000/Growing");

  auto after = creates_at_once(m["api_key"], "B-", 20);
  EXPECT_EQ(count_status(after, 201), 20);

  // Back to unlimited, and a new name and notify_url with the same checks as POST.
  auto renamed = admin("PATCH", "/admin/merchants/" + m["id"].get<std::string>(),
                       json{{"rate_per_s", 0}, {"name", "Renamed"},
                            {"notify_url", "https://example.com/hook"}}.dump());
  ASSERT_EQ(renamed.status, 200) << renamed.raw;
  EXPECT_EQ(renamed.body["notify_url"], "https://example.com/hook");
  EXPECT_EQ(rate_row(m), "0/1000/Renamed");
  EXPECT_EQ(count_status(creates_at_once(m["api_key"], "C-", 20), 201), 20);
}

TEST_F(rate_limit_test, a_bad_patch_answers_400_and_changes_nothing) {
  auto m = create_merchant({{"name", "Steady"}, {"rate_per_s", 3}, {"burst", 4}});
  auto path = "/admin/merchants/" + m["id"].get<std::string>();
  struct probe {
    std::string body;
    std::string param; // "" = no param
  };
  const probe probes[] = {
    {R"({"rate_per_s": -1})", "rate_per_s"},
    {R"({"burst": 1000001})", "burst"},
    {R"({"rate_per_s": "5"})", "rate_per_s"},
    {R"({"rate_per_s": 2.5})", "rate_per_s"},
    {R"({"rate_per_s": 7, "burst": -1})", "burst"}, // nothing of it applies
    {R"({"name": ""})", "name"},
    {R"({"notify_url": "ftp://x"})", "notify_url"},
    {R"({"rate_per_s": 7, "api_key": "sk_x"})", "api_key"},
    {R"({})", ""},
    {R"([1])", ""},
    {R"(not json)", ""},
  };
  for (const auto& p : probes) {
    auto r = admin("PATCH", path, p.body);
    EXPECT_EQ(r.status, 400) << p.body << " -> " << r.raw;
    EXPECT_EQ(r.body["error"]["type"], "invalid_request_error") << r.raw;
    if (!p.param.empty()) {
      EXPECT_EQ(r.body["error"]["param"], p.param) << r.raw;
    }
  }
  EXPECT_EQ(rate_row(m), "3/4/Steady");

  EXPECT_EQ(admin("PATCH", "/admin/merchants/mch_nobody", R"({"burst": 1})").status, 404);
  EXPECT_EQ(engine_->request("PATCH", path, m["api_key"], R"({"burst": 1})").status, 401);
  EXPECT_EQ(rate_row(m), "3/4/Steady");

  // POST refuses the same values.
  auto bad = admin("POST", "/admin/merchants", R"({"name": "X", "rate_per_s": 1000001})");
  EXPECT_EQ(bad.status, 400) << bad.raw;
  EXPECT_EQ(bad.body["error"]["param"], "rate_per_s");

  // Other methods on the new path answer 405 naming PATCH.
  auto get = admin("GET", path, "");
  EXPECT_EQ(get.status, 405);
  auto allow = get.headers.find("Allow");
  ASSERT_NE(allow, get.headers.end());
  EXPECT_EQ(allow->second, "PATCH");
}

/// Several nodes: a PATCH served by one node reaches another once that
/// node's cached merchant expires (merchant_cache_ttl_ms, 300 ms here).
TEST_F(rate_limit_test, a_patch_on_one_node_reaches_another_within_the_cache_ttl) {
  engine_process other{db_->url(), node_env()};
  other.start();
  auto m = create_merchant({{"name", "Two nodes"}, {"rate_per_s", 1}, {"burst", 1}});
  auto key = m["api_key"].get<std::string>();
  auto lists_at_once = [&](int n) { // GET /v1/orders on the other node; how many got 200
    std::vector<std::thread> threads;
    std::atomic<int> ok{0};
    for (int i = 0; i < n; ++i)
      threads.emplace_back([&] { ok += other.request("GET", "/v1/orders", key).status == 200; });
    for (auto& t : threads)
      t.join();
    return ok.load();
  };
  EXPECT_LE(lists_at_once(5), 2); // cached there with 1/s, burst 1 (+1 if a second passed)

  auto patched = admin("PATCH", "/admin/merchants/" + m["id"].get<std::string>(),
                       json{{"rate_per_s", 1000}, {"burst", 1000}}.dump());
  ASSERT_EQ(patched.status, 200) << patched.raw;
  // Polls with a deadline: all 5 at once pass only under the new limit.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{10};
  int ok = 0;
  while (ok < 5 && std::chrono::steady_clock::now() < deadline) {
    ok = lists_at_once(5);
    if (ok < 5)
      std::this_thread::sleep_for(std::chrono::milliseconds{50});
  }
  EXPECT_EQ(ok, 5);
}

} // namespace
} // namespace payengine
