// docs/openapi.yaml against the engine: the document passes Redocly's
// linter, and the answers of a real payengine (with paysim as its channel)
// to every operation it can be driven through conform to it, checked by an
// independent validator (tests/node/validate_responses.mjs, Ajv).
#include "channels/alipay.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/engine_process.hpp"
#include "tests/support/paysim_for_tests.hpp"
#include "tests/support/test_db.hpp"

#include <gtest/gtest.h>

#include <sys/wait.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <mutex>
#include <thread>

#ifndef PAYENGINE_SOURCE_DIR
#error "PAYENGINE_SOURCE_DIR must point at the repository (docs/openapi.yaml)"
#endif
#ifndef PAYENGINE_TEST_OUTPUT_DIR
#error "PAYENGINE_TEST_OUTPUT_DIR must name a folder for the recorded exchanges"
#endif

namespace payengine {
namespace {

using json = nlohmann::json;
using testing::engine_process;
using testing::http_result;
using testing::order_body;
using testing::test_database;

const std::string openapi_path = std::string{PAYENGINE_SOURCE_DIR} + "/docs/openapi.yaml";

/// tests/node with its packages installed, or empty (scripts/test.sh sets it).
std::string node_checks() {
  const char* dir = std::getenv("PAYENGINE_NODE_CHECKS");
  return dir ? dir : "";
}

std::string quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s)
    out += c == '\'' ? std::string{"'\\''"} : std::string(1, c);
  return out + "'";
}

struct command_result {
  int exit_code = -1;
  std::string output;
};

/// Runs `cmd` through the shell; its stdout (and stderr too when asked).
command_result run(const std::string& cmd, bool with_stderr = true) {
  auto r = testing::run_command(cmd + (with_stderr ? " 2>&1" : " 2>/dev/null"));
  return {WIFEXITED(r.status) ? WEXITSTATUS(r.status) : -1, std::move(r.output)};
}

/// The validator's verdict on `exchanges`, written to `file` first.
command_result validate(const json& exchanges, const std::string& file) {
  std::ofstream{file} << exchanges.dump(1);
  return run("node " + quoted(node_checks() + "/validate_responses.mjs") + " " + quoted(openapi_path)
             + " " + quoted(file));
}

std::string header(const httplib::Headers& h, const std::string& name) {
  auto i = h.find(name);
  return i == h.end() ? "" : i->second;
}

/// Every request and its answer, in the validator's input format.
class exchange_log {
public:
  void add(const std::string& method, const std::string& path_template, const std::string& path,
           int status, const httplib::Headers& headers, const std::string& body) {
    json h = json::object();
    for (const auto& [k, v] : headers)
      h[k] = v;
    items_.push_back({{"method", method}, {"path_template", path_template}, {"path", path},
                      {"status", status}, {"content_type", header(headers, "Content-Type")},
                      {"headers", std::move(h)}, {"body", body}});
  }
  const json& items() const { return items_; }

  /// The first recorded exchange of `method` `path_template` with `status`.
  json find(const std::string& method, const std::string& path_template, int status) const {
    for (const auto& x : items_)
      if (x["method"] == method && x["path_template"] == path_template && x["status"] == status)
        return x;
    return nullptr;
  }

private:
  json items_ = json::array();
};

/// A merchant's webhook endpoint that accepts everything.
class webhook_sink {
public:
  webhook_sink() {
    svr_.Post("/hook", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("ok", "text/plain");
    });
    port_ = svr_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { svr_.listen_after_bind(); });
    // stop() before the loop runs would be lost, and join() would hang.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{5};
    while (!svr_.is_running() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::yield();
  }
  ~webhook_sink() {
    svr_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hook"; }

private:
  httplib::Server svr_;
  std::thread thread_;
  int port_ = 0;
};

TEST(openapi, the_document_passes_the_linter_without_warnings) {
  if (node_checks().empty())
    GTEST_SKIP() << "PAYENGINE_NODE_CHECKS not set (scripts/test.sh sets it)";
  auto lint = "REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_NOTIFICATIONS=true node "
              + quoted(node_checks() + "/node_modules/@redocly/cli/bin/cli.js") + " lint --config "
              + quoted(node_checks() + "/redocly.yaml") + " " + quoted(openapi_path);
  auto r = run(lint + " --format=json", false);
  auto report = json::parse(r.output, nullptr, false);
  bool clean = r.exit_code == 0 && report.is_object() && report["totals"]["errors"] == 0
               && report["totals"]["warnings"] == 0;
  EXPECT_TRUE(clean) << run(lint).output;
}

/// Hand-written exchanges: one that conforms, then one wrong thing each.
TEST(openapi, the_validator_refuses_what_the_document_does_not_allow) {
  if (node_checks().empty())
    GTEST_SKIP() << "PAYENGINE_NODE_CHECKS not set (scripts/test.sh sets it)";
  json order = {{"id", "ord_1a2B3c"}, {"object", "order"}, {"merchant_order_no", "M-1"},
                {"amount", 8888}, {"currency", "CNY"}, {"subject", "s"}, {"channel", "alipay"},
                {"status", "created"}, {"amount_refunded", 0}, {"customer_phone", nullptr},
                {"notify_url", nullptr}, {"metadata", json::object()},
                {"payment", {{"attempt", 0}, {"channel_trade_no", nullptr}, {"qr_code", nullptr},
                             {"paid_at", nullptr}, {"failure_reason", nullptr}}},
                {"fulfillment", {{"stage", "none"}}}, {"created_at", "2026-11-22T10:00:00.000Z"},
                {"updated_at", "2026-11-22T10:00:00.000Z"}, {"expires_at", "2026-11-22T10:15:00.000Z"},
                {"version", 1}};
  auto get_order = [](int status, const json& body, std::string content_type = "application/json; charset=utf-8") {
    return json{{"method", "GET"}, {"path_template", "/v1/orders/{id}"}, {"path", "/v1/orders/ord_1a2B3c"},
                {"status", status}, {"content_type", std::move(content_type)}, {"body", body.dump()}};
  };
  auto file = std::string{PAYENGINE_TEST_OUTPUT_DIR} + "/openapi_negative.json";
  auto good = validate(json::array({get_order(200, order)}), file);
  ASSERT_EQ(good.exit_code, 0) << good.output;

  auto amount_as_text = order;
  amount_as_text["amount"] = "88.88";
  auto unknown_member = order;
  unknown_member["amount_yuan"] = 88.88;
  auto no_version = order;
  no_version.erase("version");
  auto rate_limited = get_order(429, {{"error", {{"type", "rate_limit_error"}, {"code", "overloaded"},
                                                 {"message", "m"}}}});
  rate_limited["headers"] = {{"Content-Type", "application/json"}}; // no Retry-After
  struct bad_case {
    std::string name;
    json exchange;
    std::string says; // part of the validator's complaint
  };
  std::vector<bad_case> cases = {
    {"a body of the wrong type", get_order(200, amount_as_text), "/amount"},
    {"an undocumented member", get_order(200, unknown_member), "amount_yuan"},
    {"a required member missing", get_order(200, no_version), "version"},
    {"an error of the wrong type for its status",
     get_order(404, {{"error", {{"type", "api_error"}, {"code", "x"}, {"message", "m"}}}}), "/error/type"},
    {"an undocumented status", get_order(418, order), "status 418 is not documented"},
    {"an undocumented content type", get_order(200, order, "text/html"), "content type"},
    {"a missing required header", rate_limited, "Retry-After"},
    {"an operation not in the document",
     {{"method", "DELETE"}, {"path_template", "/v1/orders/{id}"}, {"status", 200},
      {"content_type", "application/json"}, {"body", order.dump()}},
     "is not in the document"},
    {"a path that does not fit its template",
     {{"method", "GET"}, {"path_template", "/v1/orders/{id}"}, {"path", "/v1/orders/ord_1/cancel"},
      {"status", 200}, {"content_type", "application/json"}, {"body", order.dump()}},
     "does not fit"},
  };
  // All in one run: the good exchange first, then each bad one.
  json exchanges = json::array({get_order(200, order)});
  for (const auto& c : cases)
    exchanges.push_back(c.exchange);
  auto r = validate(exchanges, file);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_EQ(r.output.find("FAIL [0]"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("1 conform, " + std::to_string(cases.size()) + " do not"), std::string::npos) << r.output;
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(cases[i].name);
    auto begin = r.output.find("FAIL [" + std::to_string(i + 1) + "]");
    ASSERT_NE(begin, std::string::npos) << r.output;
    auto end = r.output.find("FAIL [", begin + 1);
    auto complaint = r.output.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
    EXPECT_NE(complaint.find(cases[i].says), std::string::npos) << complaint;
  }
}

class openapi_test : public ::testing::Test {
protected:
  void SetUp() override {
    PE_REQUIRE_DATABASE();
    if (node_checks().empty())
      GTEST_SKIP() << "PAYENGINE_NODE_CHECKS not set (scripts/test.sh sets it)";
    hook_ = std::make_unique<webhook_sink>();
    sim_ = testing::start_paysim();
    db_ = std::make_unique<test_database>("openapi");
    engine_ = std::make_unique<engine_process>(
      db_->url(), std::map<std::string, std::string>{
                    {"PAYENGINE_ALIPAY_GATEWAY_URL", sim_->url() + "/gateway.do"},
                    {"PAYENGINE_SMS_URL", sim_->url() + "/sms/send"},
                    {"PAYENGINE_TIME_SCALE", "100"}});
    engine_->set_args({"--notifier-poll-ms", "50"});
    engine_->start();
  }

  /// One request, its status checked and the exchange recorded.
  http_result call(int expected, const std::string& method, const std::string& path_template,
                   const std::string& path, const std::string& bearer, const std::string& body = {},
                   httplib::Headers headers = {}, const std::string& content_type = "application/json") {
    auto r = engine_->request(method, path, bearer, body, std::move(headers), content_type);
    EXPECT_EQ(r.status, expected) << method << " " << path << ": " << r.raw.substr(0, 2000);
    if (r.status != 0)
      log_.add(method, path_template, path, r.status, r.headers, r.raw);
    return r;
  }
  http_result merchant(int expected, const std::string& method, const std::string& path_template,
                       const std::string& path, const json& body = nullptr, httplib::Headers headers = {}) {
    return call(expected, method, path_template, path, key_, body.is_null() ? "" : body.dump(),
                std::move(headers));
  }
  http_result admin(int expected, const std::string& method, const std::string& path_template,
                    const std::string& path, const json& body = nullptr) {
    return call(expected, method, path_template, path, engine_->admin_token(),
                body.is_null() ? "" : body.dump());
  }

  /// Long-polls the order until `pred` holds (bounded).
  json wait_until(const std::string& id, const std::function<bool(const json&)>& pred) {
    auto o = merchant(200, "GET", "/v1/orders/{id}", "/v1/orders/" + id).body;
    for (int i = 0; i < 40 && o.is_object() && !pred(o); ++i)
      o = merchant(200, "GET", "/v1/orders/{id}",
                   "/v1/orders/" + id + "?wait_for_change=5&version=" + std::to_string(o["version"].get<int64_t>()))
            .body;
    return o;
  }

  /// The customer scans the order's QR code and pays at paysim.
  void customer_pays(const json& order) {
    auto qr = order["payment"]["qr_code"].get<std::string>();
    auto path = qr.substr(qr.find('/', std::string{"http://"}.size()));
    httplib::Client c{"127.0.0.1", sim_->port()};
    auto r = c.Post(path.c_str(), R"({"result": "success"})", "application/json");
    ASSERT_TRUE(r && r->status == 200);
  }

  /// Polls the admin API (unrecorded) until a notification is `status`.
  std::string a_notification(const std::string& status) {
    for (int i = 0; i < 200; ++i) {
      auto r = engine_->request("GET", "/admin/notifications?status=" + status, engine_->admin_token());
      if (r.body.is_object() && !r.body["data"].empty())
        return r.body["data"][0]["id"].get<std::string>();
      std::this_thread::sleep_for(std::chrono::milliseconds{25});
    }
    return {};
  }

  void exercise_operations_and_merchants();
  void exercise_merchant_limits(const std::string& id);
  void exercise_orders();
  std::string exercise_payment();
  void exercise_refunds_and_fulfillment(const std::string& paid);
  void exercise_events_and_callbacks();
  void exercise_admin(const std::string& paid);
  void exercise_stream();

  std::unique_ptr<webhook_sink> hook_; // outlives the engine that sends to it
  std::unique_ptr<test::paysim_process> sim_;
  std::unique_ptr<test_database> db_;
  std::unique_ptr<engine_process> engine_;
  exchange_log log_;
  std::string key_;
  std::string other_key_;
  std::string order_id_;
};

void openapi_test::exercise_operations_and_merchants() {
  call(200, "GET", "/healthz", "/healthz", "");
  call(200, "GET", "/readyz", "/readyz", "");
  auto m = admin(201, "POST", "/admin/merchants", "/admin/merchants", {{"name", "Shop A"}, {"notify_url", hook_->url()}});
  key_ = m.body.value("api_key", "");
  other_key_ = admin(201, "POST", "/admin/merchants", "/admin/merchants", {{"name", "Shop B"}}).body.value("api_key", "");
  admin(400, "POST", "/admin/merchants", "/admin/merchants", json::object());
  admin(400, "POST", "/admin/merchants", "/admin/merchants", {{"name", "x"}, {"api_key", "mine"}});
  call(401, "POST", "/admin/merchants", "/admin/merchants", key_, R"({"name": "x"})");
  call(415, "POST", "/admin/merchants", "/admin/merchants", engine_->admin_token(), "name=x", {},
       "application/x-www-form-urlencoded");
  exercise_merchant_limits(m.body.value("id", ""));
  auto metrics = admin(200, "GET", "/metrics", "/metrics");
  EXPECT_EQ(header(metrics.headers, "Content-Type").rfind("text/plain; version=0.0.4", 0), 0u);
  call(401, "GET", "/metrics", "/metrics", key_);
}

/// PATCH /admin/merchants/{id} and a merchant's 429 (API.md v1.1 "Overload").
void openapi_test::exercise_merchant_limits(const std::string& id) {
  const std::string tmpl = "/admin/merchants/{id}";
  admin(200, "PATCH", tmpl, "/admin/merchants/" + id, {{"rate_per_s", 0}, {"burst", 0}});
  admin(400, "PATCH", tmpl, "/admin/merchants/" + id, json::object());
  admin(400, "PATCH", tmpl, "/admin/merchants/" + id, {{"rate_per_s", -1}});
  admin(404, "PATCH", tmpl, "/admin/merchants/mch_nobody", {{"burst", 1}});
  call(401, "PATCH", tmpl, "/admin/merchants/" + id, key_, R"({"burst": 1})");
  auto limited = admin(201, "POST", "/admin/merchants", "/admin/merchants",
                       {{"name", "Shop C"}, {"rate_per_s", 1}, {"burst", 1}});
  auto limited_key = limited.body.value("api_key", "");
  bool refused = false;
  for (int i = 0; i < 5 && !refused; ++i) { // the second within a second is refused
    auto r = engine_->request("GET", "/v1/orders", limited_key);
    refused = r.status == 429;
    log_.add("GET", "/v1/orders", "/v1/orders", r.status, r.headers, r.raw);
  }
  EXPECT_TRUE(refused);
}

void openapi_test::exercise_orders() {
  auto body = order_body("M-1");
  body["customer_phone"] = "+8613800000000";
  body["metadata"] = {{"plan", "annual"}};
  body["expires_in"] = 3600;
  httplib::Headers key{{"Idempotency-Key", "create-M-1"}};
  auto created = merchant(201, "POST", "/v1/orders", "/v1/orders", body, key);
  order_id_ = created.body.value("id", "");
  auto replayed = merchant(201, "POST", "/v1/orders", "/v1/orders", body, key);
  EXPECT_EQ(header(replayed.headers, "Idempotent-Replayed"), "true");
  merchant(422, "POST", "/v1/orders", "/v1/orders", order_body("M-1", 1), key);
  merchant(400, "POST", "/v1/orders", "/v1/orders", order_body("M-2"), {{"Idempotency-Key", std::string(256, 'k')}});
  auto duplicate = merchant(409, "POST", "/v1/orders", "/v1/orders", order_body("M-1"));
  EXPECT_EQ(duplicate.body["error"]["id"], order_id_);
  auto bad = order_body("M-3");
  bad["amount"] = 88.88;
  merchant(400, "POST", "/v1/orders", "/v1/orders", bad);
  call(400, "POST", "/v1/orders", "/v1/orders", key_, "{\"amount\": ");
  call(401, "POST", "/v1/orders", "/v1/orders", "", order_body("M-3").dump());
  call(415, "POST", "/v1/orders", "/v1/orders", key_, order_body("M-3").dump(), {}, "text/plain");
  auto huge = order_body("M-3");
  huge["subject"] = std::string(70 * 1024, 'x');
  merchant(413, "POST", "/v1/orders", "/v1/orders", huge);

  merchant(200, "GET", "/v1/orders/{id}", "/v1/orders/" + order_id_);
  merchant(404, "GET", "/v1/orders/{id}", "/v1/orders/ord_doesnotexist");
  call(404, "GET", "/v1/orders/{id}", "/v1/orders/" + order_id_, other_key_);
  merchant(400, "GET", "/v1/orders/{id}", "/v1/orders/" + order_id_ + "?wait_for_change=99");
  call(401, "GET", "/v1/orders/{id}", "/v1/orders/" + order_id_, "sk_wrong");

  auto second = merchant(201, "POST", "/v1/orders", "/v1/orders", order_body("M-2")).body.value("id", "");
  merchant(200, "GET", "/v1/orders", "/v1/orders");
  merchant(200, "GET", "/v1/orders", "/v1/orders?status=created&limit=1");
  merchant(200, "GET", "/v1/orders", "/v1/orders?starting_after=" + second);
  merchant(400, "GET", "/v1/orders", "/v1/orders?limit=1000");
  merchant(400, "GET", "/v1/orders", "/v1/orders?colour=red");

  merchant(200, "POST", "/v1/orders/{id}/cancel", "/v1/orders/" + second + "/cancel");
  merchant(409, "POST", "/v1/orders/{id}/cancel", "/v1/orders/" + second + "/cancel");
  merchant(404, "POST", "/v1/orders/{id}/cancel", "/v1/orders/ord_doesnotexist/cancel");
  merchant(409, "POST", "/v1/orders/{id}/pay", "/v1/orders/" + second + "/pay");
  merchant(200, "GET", "/v1/orders/{id}/events", "/v1/orders/" + second + "/events");
  merchant(404, "GET", "/v1/orders/{id}/events", "/v1/orders/ord_doesnotexist/events");
}

std::string openapi_test::exercise_payment() {
  auto& id = order_id_;
  merchant(409, "POST", "/v1/orders/{id}/refunds", "/v1/orders/" + id + "/refunds", {{"amount", 100}});
  merchant(409, "POST", "/v1/orders/{id}/fulfillment", "/v1/orders/" + id + "/fulfillment", {{"stage", "produced"}});
  merchant(202, "POST", "/v1/orders/{id}/pay", "/v1/orders/" + id + "/pay");
  merchant(404, "POST", "/v1/orders/{id}/pay", "/v1/orders/ord_doesnotexist/pay");
  auto awaiting = wait_until(id, [](const json& o) { return o["status"] == "awaiting_payment"; });
  EXPECT_EQ(awaiting["status"], "awaiting_payment") << awaiting.dump();
  if (awaiting["status"] != "awaiting_payment")
    return id;
  merchant(202, "POST", "/v1/orders/{id}/pay", "/v1/orders/" + id + "/pay", json::object());
  customer_pays(awaiting);
  auto paid = wait_until(id, [](const json& o) { return o["status"] == "paid"; });
  EXPECT_EQ(paid["status"], "paid") << paid.dump();
  return id;
}

void openapi_test::exercise_refunds_and_fulfillment(const std::string& id) {
  auto refunds = "/v1/orders/" + id + "/refunds";
  merchant(202, "POST", "/v1/orders/{id}/refunds", refunds, {{"amount", 100}, {"reason", "broken lid"}},
           {{"Idempotency-Key", "refund-1"}});
  merchant(409, "POST", "/v1/orders/{id}/refunds", refunds, {{"amount", 8888}});
  merchant(400, "POST", "/v1/orders/{id}/refunds", refunds, {{"amount", "100"}});
  merchant(400, "POST", "/v1/orders/{id}/refunds", refunds, {{"amount", 1}, {"why", "?"}});
  merchant(404, "POST", "/v1/orders/{id}/refunds", "/v1/orders/ord_doesnotexist/refunds", {{"amount", 1}});
  wait_until(id, [](const json& o) { return o["amount_refunded"] == 100; });
  merchant(200, "GET", "/v1/orders/{id}/refunds", refunds);
  merchant(404, "GET", "/v1/orders/{id}/refunds", "/v1/orders/ord_doesnotexist/refunds");

  auto fulfillment = "/v1/orders/" + id + "/fulfillment";
  merchant(200, "POST", "/v1/orders/{id}/fulfillment", fulfillment, {{"stage", "produced"}, {"detail", "batch 7"}});
  merchant(409, "POST", "/v1/orders/{id}/fulfillment", fulfillment, {{"stage", "produced"}});
  merchant(400, "POST", "/v1/orders/{id}/fulfillment", fulfillment, {{"stage", "bogus"}});
  merchant(404, "POST", "/v1/orders/{id}/fulfillment", "/v1/orders/ord_doesnotexist/fulfillment", {{"stage", "shipped"}});
  auto done = merchant(200, "POST", "/v1/orders/{id}/fulfillment", fulfillment, {{"stage", "delivered"}});
  EXPECT_EQ(done.body["status"], "completed");
  merchant(200, "GET", "/v1/orders/{id}/events", "/v1/orders/" + id + "/events");
}

void openapi_test::exercise_events_and_callbacks() {
  auto all = merchant(200, "GET", "/v1/events", "/v1/events").body;
  ASSERT_TRUE(all.is_object() && !all["data"].empty()) << all.dump();
  merchant(200, "GET", "/v1/events", "/v1/events?limit=1");
  merchant(200, "GET", "/v1/events", "/v1/events?starting_after=" + all["data"][0]["id"].get<std::string>());
  merchant(400, "GET", "/v1/events", "/v1/events?limit=0");
  merchant(400, "GET", "/v1/events", "/v1/events?colour=red");
  call(401, "GET", "/v1/events", "/v1/events", "");

  call(400, "POST", "/v1/callbacks/alipay", "/v1/callbacks/alipay", "", "garbage=%%%&&&", {},
       "application/x-www-form-urlencoded");
  // Signed by the channel, for a trade that is not the engine's: acknowledged.
  channels::alipay::notification n;
  n.notify_id = "n-foreign";
  n.notify_type = "trade_status_sync";
  n.notify_time = "2026-11-22 10:00:00";
  n.app_id = testing::test_app_id;
  n.out_trade_no = "foreign-trade";
  n.trade_no = "2026FOREIGN";
  n.status = channels::alipay::trade_status::trade_success;
  n.total_amount = 100;
  auto key = channels::private_key::from_pem_file(testing::test_channel_keys().channel_private).value();
  auto ack = call(200, "POST", "/v1/callbacks/alipay", "/v1/callbacks/alipay", "",
                  channels::alipay::make_notification(n, key).value(), {}, "application/x-www-form-urlencoded");
  EXPECT_EQ(ack.raw, "success");
}

void openapi_test::exercise_admin(const std::string& id) {
  admin(200, "GET", "/admin/cluster", "/admin/cluster");
  call(401, "GET", "/admin/cluster", "/admin/cluster", key_);
  admin(200, "GET", "/admin/actors", "/admin/actors");
  admin(200, "GET", "/admin/actors", "/admin/actors?limit=5");
  admin(400, "GET", "/admin/actors", "/admin/actors?limit=0");
  call(401, "GET", "/admin/actors", "/admin/actors", key_);
  merchant(200, "GET", "/v1/orders/{id}", "/v1/orders/" + id); // the actor is live now
  admin(200, "GET", "/admin/actors/{id}", "/admin/actors/" + id);
  admin(200, "GET", "/admin/actors/{id}", "/admin/actors/ord_doesnotexist");
  admin(404, "GET", "/admin/actors/{id}", "/admin/actors/nonsense");
  admin(202, "POST", "/admin/actors/{id}/kill", "/admin/actors/" + id + "/kill", json::object());
  admin(404, "POST", "/admin/actors/{id}/kill", "/admin/actors/nonsense/kill");
  call(401, "POST", "/admin/actors/{id}/kill", "/admin/actors/" + id + "/kill", key_);
  admin(200, "GET", "/admin/orders/{id}", "/admin/orders/" + id);
  admin(404, "GET", "/admin/orders/{id}", "/admin/orders/ord_doesnotexist");
  call(401, "GET", "/admin/orders/{id}", "/admin/orders/" + id, "");

  auto delivered = a_notification("delivered");
  EXPECT_FALSE(delivered.empty()) << "no notification was delivered";
  admin(200, "GET", "/admin/notifications", "/admin/notifications");
  admin(200, "GET", "/admin/notifications", "/admin/notifications?status=delivered&limit=3");
  admin(400, "GET", "/admin/notifications", "/admin/notifications?status=bogus");
  call(401, "GET", "/admin/notifications", "/admin/notifications", key_);
  if (!delivered.empty())
    admin(202, "POST", "/admin/notifications/{id}/redeliver", "/admin/notifications/" + delivered + "/redeliver");
  admin(409, "POST", "/admin/notifications/{id}/redeliver", "/admin/notifications/ntf_nope/redeliver");
  admin(404, "POST", "/admin/notifications/{id}/redeliver", "/admin/notifications/nonsense/redeliver");
  call(401, "POST", "/admin/notifications/{id}/redeliver", "/admin/notifications/ntf_nope/redeliver", key_);

  // The console, once the engine serves it.
  auto console = engine_->request("GET", "/console", engine_->admin_token());
  if (console.status == 404 && console.raw.find("route_not_found") != std::string::npos) {
    RecordProperty("console", "not served");
  } else {
    log_.add("GET", "/console", "/console", console.status, console.headers, console.raw);
    EXPECT_EQ(console.status, 200) << console.raw.substr(0, 500);
    call(401, "GET", "/console", "/console", key_);
  }
}

/// Reads GET /admin/stream until it holds a complete `transition` frame
/// (an order created meanwhile makes one) or 5 s have passed.
void openapi_test::exercise_stream() {
  std::mutex mtx;
  std::condition_variable cv;
  int status = 0;
  httplib::Headers headers;
  std::string text;
  bool answered = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{5};
  auto has_transition = [&text] {
    auto at = text.find("event: transition\n");
    return at != std::string::npos && text.find("\n\n", at) != std::string::npos;
  };
  std::thread reader([&] {
    auto c = engine_->client();
    c->set_read_timeout(std::chrono::seconds{5});
    c->Get(
      "/admin/stream", {{"Authorization", "Bearer " + engine_->admin_token()}, {"Accept", "text/event-stream"}},
      [&](const httplib::Response& res) {
        std::lock_guard lock{mtx};
        status = res.status;
        headers = res.headers;
        answered = true;
        cv.notify_all();
        return true;
      },
      [&](const char* data, size_t n) {
        std::lock_guard lock{mtx};
        text.append(data, n);
        return status != 200 || (!has_transition() && std::chrono::steady_clock::now() < deadline);
      });
    std::lock_guard lock{mtx};
    answered = true;
    cv.notify_all();
  });
  {
    std::unique_lock lock{mtx};
    cv.wait_until(lock, deadline, [&] { return answered; });
  }
  if (status == 200)
    engine_->request("POST", "/v1/orders", key_, order_body("M-stream").dump());
  reader.join();
  if (status == 404 && text.find("route_not_found") != std::string::npos) {
    RecordProperty("admin_stream", "not served");
    return;
  }
  ASSERT_EQ(status, 200) << text.substr(0, 500);
  EXPECT_TRUE(has_transition()) << "no transition frame within 5 s: " << text.substr(0, 2000);
  log_.add("GET", "/admin/stream", "/admin/stream", status, headers, text.substr(0, text.rfind("\n\n") + 2));
  call(401, "GET", "/admin/stream", "/admin/stream", key_);
}

TEST_F(openapi_test, real_answers_to_every_operation_conform_to_the_document) {
  auto started = std::chrono::steady_clock::now();
  exercise_operations_and_merchants();
  ASSERT_FALSE(key_.empty());
  exercise_orders();
  ASSERT_FALSE(order_id_.empty());
  auto paid = exercise_payment();
  exercise_refunds_and_fulfillment(paid);
  exercise_events_and_callbacks();
  exercise_admin(paid);
  exercise_stream();

  auto file = std::string{PAYENGINE_TEST_OUTPUT_DIR} + "/openapi_exchanges.json";
  auto verdict = validate(log_.items(), file);
  EXPECT_EQ(verdict.exit_code, 0) << verdict.output << "(exchanges in " << file << ")";
  RecordProperty("exchanges", static_cast<int>(log_.items().size()));
  RecordProperty("validator", verdict.output.substr(0, verdict.output.find('\n')));
  RecordProperty("seconds", static_cast<int>(std::chrono::duration_cast<std::chrono::seconds>(
                                                std::chrono::steady_clock::now() - started).count()));
  if (verdict.exit_code == 0)
    std::printf("%s", verdict.output.c_str());

  // The same validator refuses a real answer made wrong.
  auto created = log_.find("POST", "/v1/orders", 201);
  ASSERT_TRUE(created.is_object());
  auto order = json::parse(created["body"].get<std::string>());
  order["amount"] = std::to_string(order["amount"].get<int64_t>());
  created["body"] = order.dump();
  auto wrong = validate(json::array({created}), std::string{PAYENGINE_TEST_OUTPUT_DIR} + "/openapi_wrong.json");
  EXPECT_EQ(wrong.exit_code, 1) << wrong.output;
  EXPECT_NE(wrong.output.find("/amount"), std::string::npos) << wrong.output;
}

} // namespace
} // namespace payengine
