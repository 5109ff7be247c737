// The gateway actor against the real paysim binary over HTTP: a real
// actor_system (sharing scheduler), requests through scoped actors with
// finite timeouts, faults injected through paysim's /sim/faults. Time is
// driven by time_scale (a 1 s back-off step takes 1 ms here), never slept.
// The gateway's pure parts (breaker, bucket, latency window) are walked as
// tables in gateway_limits_test.cpp.
#include <gtest/gtest.h>
#include <httplib.h>

#include <caf/all.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <future>
#include <thread>

#include <nlohmann/json.hpp>

#include "actors/gateway.hpp"
#include "channels/alipay.hpp"
#include "messages/timestamps.hpp"
#include "tests/channels/test_keys.hpp"
#include "tests/sim/paysim_process.hpp"
#include "tests/support/raw_http_server.hpp"

namespace payengine {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using steady = std::chrono::steady_clock;

constexpr const char* app_id = "2021000000000001";
constexpr double gateway_time_scale = 1000;  // back-off steps of 1 ms

// --- keys and files ---------------------------------------------------------------

// Per process: ctest runs each test in its own process, each with its own keys.
std::string write_temp(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "gateway_test_" + std::to_string(getpid()) + "_" + name;
  std::ofstream(path) << text;
  return path;
}

struct key_files {
  std::string sim_private = write_temp("sim.pem", test::channel_pems().private_pem);
  std::string sim_public = write_temp("sim.pub", test::channel_pems().public_pem);
  std::string app_private = write_temp("app.pem", test::app_pems().private_pem);
  std::string app_public = write_temp("app.pub", test::app_pems().public_pem);
  ~key_files() {
    for (const auto* path : {&sim_private, &sim_public, &app_private, &app_public}) std::remove(path->c_str());
  }
};

const key_files& files() {
  static const key_files f;
  return f;
}

TEST(gateway_settings_from, loads_the_keys_or_says_what_is_wrong) {
  engine_config cfg;
  cfg.alipay_gateway_url = "http://127.0.0.1:9/gateway.do";
  cfg.alipay_app_id = app_id;
  cfg.alipay_private_key_file = files().app_private;
  cfg.alipay_public_key_file = "/nonexistent/alipay.pub";
  cfg.public_url = "http://127.0.0.1:8080/";
  cfg.time_scale = 10;
  auto bad = gateway_settings_from(cfg);
  ASSERT_TRUE(std::holds_alternative<std::string>(bad));
  EXPECT_NE(std::get<std::string>(bad).find("PAYENGINE_ALIPAY_PUBLIC_KEY_FILE"), std::string::npos);
  cfg.alipay_public_key_file = files().sim_public;
  auto good = gateway_settings_from(cfg);
  ASSERT_TRUE(std::holds_alternative<gateway_settings>(good)) << std::get<std::string>(good);
  const auto& s = std::get<gateway_settings>(good);
  EXPECT_TRUE(s.app_key && s.channel_key);
  EXPECT_EQ(s.notify_url, "http://127.0.0.1:8080/v1/callbacks/alipay");
  EXPECT_EQ(s.scaled_ms(s.breaker_open_ms), 1'000u);
  cfg.alipay_gateway_url = "ftp://example.com/gateway.do";
  EXPECT_TRUE(std::holds_alternative<std::string>(gateway_settings_from(cfg)));
}

// Polls `check` until it holds or `deadline` passes.
template <class Check>
bool eventually(Check check, std::chrono::milliseconds deadline = 10s) {
  const auto until = steady::now() + deadline;
  while (!check()) {
    if (steady::now() > until) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

int64_t elapsed_ms(steady::time_point since) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - since).count();
}

std::vector<std::string> sim_args(const std::string& listen) {
  return {"--listen",          listen, "--private-key-file", files().sim_private, "--app-public-key-file",
          files().app_public, "--time-scale", "10000"};
}

caf::actor_system_config& configure(caf::actor_system_config& cfg) {
  cfg.add_message_types<caf::id_block::payengine>();
  cfg.set("scheduler.policy", caf::atom("sharing"));
  return cfg;
}

// --- the actor against paysim -----------------------------------------------------

class gateway_e2e : public ::testing::Test {
 protected:
  gateway_e2e() : sim_(sim_args("127.0.0.1:0"), {}), http_("127.0.0.1", sim_.port()), sys_(configure(cfg_)) {
    http_.set_read_timeout(10s);
  }

  ~gateway_e2e() override {
    for (auto& g : gateways_) caf::anon_send_exit(g, caf::exit_reason::user_shutdown);
  }

  gateway_settings settings() const {
    gateway_settings s;
    s.gateway_url = sim_.url() + "/gateway.do";
    s.app_id = app_id;
    s.app_key = test::app_private();
    s.channel_key = test::channel_public();
    s.workers = 4;
    s.time_scale = gateway_time_scale;
    s.outbound_policy = std::get<net::address_policy>(net::address_policy::parse("127.0.0.0/8"));
    return s;
  }

  gateway_actor spawn(gateway_settings s) {
    gateway_actor g = sys_.spawn(gateway_impl, std::move(s));
    gateways_.push_back(g);
    return g;
  }

  template <class Request>
  channel_reply ask(const gateway_actor& g, Request x) {
    caf::scoped_actor self{sys_};
    channel_reply out;
    out.reason = "no reply";
    self->request(g, 20s, std::move(x))
      .receive([&](channel_reply& r) { out = std::move(r); },
               [&](caf::error& err) { out.reason = caf::to_string(err); });
    return out;
  }

  gateway_info info(const gateway_actor& g) {
    caf::scoped_actor self{sys_};
    gateway_info out;
    self->request(g, 5s, info_atom_v)
      .receive([&](gateway_info& i) { out = std::move(i); },
               [&](caf::error& err) { ADD_FAILURE() << caf::to_string(err); });
    return out;
  }

  void set_faults(const json& faults) {
    auto res = http_.Post("/sim/faults", faults.dump(), "application/json");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
  }

  // The customer scans and answers on the simulator's page.
  void pay(const std::string& qr_code, const std::string& result = "success") {
    const auto path = qr_code.substr(qr_code.find("/qr/"));
    auto res = http_.Post(path, json{{"result", result}}.dump(), "application/json");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
  }

  static open_trade trade(const std::string& out_trade_no, int64_t amount) {
    open_trade x;
    x.order_id = "ord_" + out_trade_no;
    x.out_trade_no = out_trade_no;
    x.amount = amount;
    x.currency = "CNY";
    x.subject = "Annual plan";
    x.expires_at = now_us() + 900'000'000;
    return x;
  }

  static refund_trade refund(const std::string& out_trade_no, const std::string& id, int64_t amount) {
    return {out_trade_no, id, amount, "CNY", "customer asked"};
  }

  // An open trade, paid by the customer.
  void open_and_pay(const gateway_actor& g, const std::string& out_trade_no, int64_t amount) {
    const auto opened = ask(g, trade(out_trade_no, amount));
    ASSERT_EQ(opened.outcome, channel_outcome::ok) << opened.reason;
    pay(opened.qr_code);
  }

  test::paysim_process sim_;
  httplib::Client http_;
  // A second simulator for a test that needs one; it outlives the actor
  // system so that the workers' keep-alive connections close first.
  std::unique_ptr<test::paysim_process> spare_;
  caf::actor_system_config cfg_;
  caf::actor_system sys_;
  std::vector<gateway_actor> gateways_;
};

TEST_F(gateway_e2e, opens_a_trade_and_the_same_out_trade_no_returns_the_same_qr_code) {
  auto g = spawn(settings());
  const auto first = ask(g, trade("T-open", 8888));
  ASSERT_EQ(first.outcome, channel_outcome::ok) << first.reason;
  EXPECT_NE(first.qr_code.find("/qr/"), std::string::npos);
  EXPECT_EQ(first.attempts, 1u);
  const auto again = ask(g, trade("T-open", 8888));
  ASSERT_EQ(again.outcome, channel_outcome::ok) << again.reason;
  EXPECT_EQ(again.qr_code, first.qr_code);
  const auto changed = ask(g, trade("T-open", 100));  // another amount: the channel refuses
  EXPECT_EQ(changed.outcome, channel_outcome::rejected);
  EXPECT_EQ(changed.reason, channels::alipay::sub_codes::context_inconsistent);
  const auto i = info(g);
  EXPECT_EQ(i.channel, "alipay");
  EXPECT_EQ(i.circuit, "closed");
  EXPECT_EQ(i.calls, 3u);
  EXPECT_EQ(i.failures, 0u);
  EXPECT_EQ(i.in_flight, 0u);
  EXPECT_GE(i.p99_latency_ms, i.p50_latency_ms);
}

TEST_F(gateway_e2e, refuses_what_the_channel_cannot_take_without_calling_it) {
  auto g = spawn(settings());
  auto usd = trade("T-usd", 100);
  usd.currency = "USD";
  const auto r = ask(g, usd);
  EXPECT_EQ(r.outcome, channel_outcome::rejected);
  EXPECT_EQ(r.reason, "unsupported_currency");
  EXPECT_EQ(r.attempts, 0u);
  const auto no_subject = ask(g, [] {
    auto x = trade("T-nosubject", 100);
    x.subject.clear();
    return x;
  }());
  EXPECT_EQ(no_subject.outcome, channel_outcome::rejected);
  EXPECT_EQ(info(g).calls, 0u);
}

TEST_F(gateway_e2e, queries_before_and_after_the_customer_pays) {
  auto g = spawn(settings());
  const auto unknown = ask(g, query_trade{"T-never", "CNY"});
  ASSERT_EQ(unknown.outcome, channel_outcome::ok) << unknown.reason;
  EXPECT_EQ(unknown.state, trade_state::unknown);
  const auto opened = ask(g, trade("T-pay", 8888));
  ASSERT_EQ(opened.outcome, channel_outcome::ok) << opened.reason;
  const auto waiting = ask(g, query_trade{"T-pay", "CNY"});
  ASSERT_EQ(waiting.outcome, channel_outcome::ok) << waiting.reason;
  EXPECT_EQ(waiting.state, trade_state::waiting);
  EXPECT_EQ(waiting.amount, 8888);
  EXPECT_FALSE(waiting.channel_trade_no.empty());
  EXPECT_EQ(waiting.paid_at, 0);
  pay(opened.qr_code);
  const auto paid = ask(g, query_trade{"T-pay", "CNY"});
  ASSERT_EQ(paid.outcome, channel_outcome::ok) << paid.reason;
  EXPECT_EQ(paid.state, trade_state::succeeded);
  EXPECT_EQ(paid.amount, 8888);
  EXPECT_EQ(paid.channel_trade_no, waiting.channel_trade_no);
  EXPECT_NEAR(static_cast<double>(paid.paid_at), static_cast<double>(now_us()), 60e6);  // Beijing time read as UTC
}

TEST_F(gateway_e2e, closes_an_open_trade_but_not_a_paid_one) {
  auto g = spawn(settings());
  ASSERT_EQ(ask(g, trade("T-close", 500)).outcome, channel_outcome::ok);
  const auto closed = ask(g, close_trade{"T-close"});
  ASSERT_EQ(closed.outcome, channel_outcome::ok) << closed.reason;
  EXPECT_EQ(closed.state, trade_state::closed);
  EXPECT_EQ(ask(g, query_trade{"T-close", "CNY"}).state, trade_state::closed);
  const auto missing = ask(g, close_trade{"T-missing"});
  EXPECT_EQ(missing.outcome, channel_outcome::ok);
  EXPECT_EQ(missing.state, trade_state::unknown);
  open_and_pay(g, "T-paid", 500);
  const auto paid = ask(g, close_trade{"T-paid"});
  EXPECT_EQ(paid.outcome, channel_outcome::rejected);
  EXPECT_EQ(paid.reason, channels::alipay::sub_codes::trade_status_error);
}

TEST_F(gateway_e2e, refunds_in_parts_and_refuses_more_than_was_paid) {
  auto g = spawn(settings());
  open_and_pay(g, "T-refund", 1000);
  const auto first = ask(g, refund("T-refund", "rfd_1", 300));
  ASSERT_EQ(first.outcome, channel_outcome::ok) << first.reason;
  EXPECT_EQ(first.amount, 300);
  EXPECT_FALSE(first.channel_trade_no.empty());
  const auto replay = ask(g, refund("T-refund", "rfd_1", 300));  // the same refund id pays nothing twice
  ASSERT_EQ(replay.outcome, channel_outcome::ok) << replay.reason;
  EXPECT_EQ(replay.amount, 300);
  const auto too_much = ask(g, refund("T-refund", "rfd_2", 800));
  EXPECT_EQ(too_much.outcome, channel_outcome::rejected);
  EXPECT_FALSE(too_much.reason.empty());
  EXPECT_EQ(too_much.attempts, 1u);  // a business refusal is never retried
  const auto rest = ask(g, refund("T-refund", "rfd_3", 700));
  ASSERT_EQ(rest.outcome, channel_outcome::ok) << rest.reason;
  EXPECT_EQ(rest.amount, 1000);  // total refunded on the trade
}

TEST_F(gateway_e2e, retries_through_a_flaky_channel) {
  auto s = settings();
  s.breaker_failures_max = 1'000;  // this test is about retries alone
  auto g = spawn(std::move(s));
  ASSERT_EQ(ask(g, trade("T-flaky", 8888)).outcome, channel_outcome::ok);
  set_faults({{"error_rate", 0.5}});
  int ok = 0;
  int retried = 0;
  constexpr int calls = 20;
  for (int i = 0; i < calls; ++i) {
    const auto r = ask(g, query_trade{"T-flaky", "CNY"});
    if (r.outcome == channel_outcome::ok) {
      ++ok;
      EXPECT_EQ(r.amount, 8888);
      retried += r.attempts > 1 ? 1 : 0;
    } else {  // 0.5^5: all five tries failed
      EXPECT_EQ(r.outcome, channel_outcome::unavailable) << r.reason;
      EXPECT_EQ(r.attempts, 5u);
    }
    EXPECT_LE(r.attempts, 5u);
  }
  EXPECT_GE(ok, calls - 5);
  EXPECT_GT(retried, 0);
  // A precreate through the same faults: resent with the same out_trade_no.
  const auto opened = ask(g, trade("T-flaky-2", 100));
  if (opened.outcome == channel_outcome::ok) {
    set_faults(json::object());
    EXPECT_EQ(ask(g, trade("T-flaky-2", 100)).qr_code, opened.qr_code);
  }
}

TEST_F(gateway_e2e, a_held_answer_times_out_and_is_retried) {
  auto s = settings();
  s.read_timeout_ms = 150;
  s.attempts_max = 2;
  auto g = spawn(std::move(s));
  set_faults({{"timeout_rate", 1.0}, {"timeout_ms", 2'000}});
  const auto started = steady::now();
  const auto r = ask(g, query_trade{"T-slow", "CNY"});
  EXPECT_EQ(r.outcome, channel_outcome::unavailable);
  EXPECT_EQ(r.attempts, 2u);
  EXPECT_NE(r.reason.find("transport"), std::string::npos) << r.reason;
  EXPECT_LT(elapsed_ms(started), 1'500);
  set_faults(json::object());
  EXPECT_EQ(ask(g, query_trade{"T-slow", "CNY"}).outcome, channel_outcome::ok);
}

TEST_F(gateway_e2e, a_failing_channel_opens_the_breaker_and_one_probe_closes_it) {
  auto s = settings();
  s.breaker_failures_max = 5;
  s.breaker_open_ms = 300'000;  // 300 ms at this time scale
  auto g = spawn(std::move(s));
  ASSERT_EQ(ask(g, trade("T-breaker", 100)).outcome, channel_outcome::ok);
  set_faults({{"error_rate", 1.0}});
  const auto failed = ask(g, query_trade{"T-breaker", "CNY"});
  EXPECT_EQ(failed.outcome, channel_outcome::unavailable);
  EXPECT_EQ(failed.attempts, 5u);
  EXPECT_EQ(info(g).circuit, "open");
  const auto started = steady::now();
  const auto fast = ask(g, query_trade{"T-breaker", "CNY"});
  EXPECT_LT(elapsed_ms(started), 50);
  EXPECT_EQ(fast.outcome, channel_outcome::circuit_open);
  EXPECT_GT(fast.retry_after_ms, 0u);
  EXPECT_EQ(fast.attempts, 0u);
  EXPECT_GE(info(g).rejected_fast, 1u);
  // The channel recovers but answers slowly: the probe stays in flight long
  // enough to see that nobody else gets through meanwhile.
  set_faults({{"latency_ms", 300}});
  ASSERT_TRUE(eventually([&] { return info(g).circuit == "half_open"; }));
  auto probe = std::async(std::launch::async, [&] { return ask(g, query_trade{"T-breaker", "CNY"}); });
  ASSERT_TRUE(eventually([&] { return info(g).in_flight == 1; }));
  EXPECT_EQ(ask(g, query_trade{"T-breaker", "CNY"}).outcome, channel_outcome::circuit_open);
  const auto probed = probe.get();
  EXPECT_EQ(probed.outcome, channel_outcome::ok) << probed.reason;
  const auto i = info(g);
  EXPECT_EQ(i.circuit, "closed");
  EXPECT_EQ(i.consecutive_failures, 0u);
  set_faults(json::object());
  EXPECT_EQ(ask(g, query_trade{"T-breaker", "CNY"}).outcome, channel_outcome::ok);
}

TEST_F(gateway_e2e, a_dead_channel_fails_fast_until_it_is_back) {
  auto dead = std::make_unique<test::paysim_process>(sim_args("127.0.0.1:0"), std::vector<std::string>{});
  const int port = dead->port();
  auto s = settings();
  s.gateway_url = dead->url() + "/gateway.do";
  s.breaker_open_ms = 300'000;  // 300 ms at this time scale
  ASSERT_EQ(dead->stop(), 0);   // killed: connections are refused
  dead.reset();
  auto g = spawn(std::move(s));
  const auto failed = ask(g, query_trade{"T-dead", "CNY"});
  EXPECT_EQ(failed.outcome, channel_outcome::unavailable);
  EXPECT_NE(failed.reason.find("transport"), std::string::npos) << failed.reason;
  EXPECT_EQ(failed.attempts, 5u);
  const auto started = steady::now();
  EXPECT_EQ(ask(g, query_trade{"T-dead", "CNY"}).outcome, channel_outcome::circuit_open);
  EXPECT_LT(elapsed_ms(started), 50);
  spare_ = std::make_unique<test::paysim_process>(sim_args("127.0.0.1:" + std::to_string(port)),
                                                  std::vector<std::string>{});
  ASSERT_TRUE(eventually([&] { return ask(g, query_trade{"T-dead", "CNY"}).outcome == channel_outcome::ok; }));
  EXPECT_EQ(info(g).circuit, "closed");
}

TEST_F(gateway_e2e, a_channel_on_a_forbidden_address_fails_at_once_without_retries) {
  auto s = settings();
  s.outbound_policy = net::address_policy{}; // loopback not allowed
  auto g = spawn(std::move(s));
  const auto r = ask(g, query_trade{"T-forbidden", "CNY"});
  EXPECT_EQ(r.outcome, channel_outcome::unavailable);
  EXPECT_NE(r.reason.find("address_forbidden"), std::string::npos) << r.reason;
  EXPECT_EQ(r.attempts, 1u) << "retried a refusal that cannot change";
}

TEST_F(gateway_e2e, a_dripping_channel_is_cut_at_the_call_deadline) {
  payengine::testing::raw_http_server dripping{[](int fd) {
    payengine::testing::read_http_request(fd);
    payengine::testing::drip(fd, "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n" + std::string(50, '{'),
                             200ms);
  }};
  auto s = settings();
  s.gateway_url = "http://127.0.0.1:" + std::to_string(dripping.port()) + "/gateway.do";
  s.call_deadline_ms = 600;
  s.attempts_max = 1;
  auto g = spawn(std::move(s));
  const auto started = steady::now();
  const auto r = ask(g, query_trade{"T-drip", "CNY"});
  EXPECT_EQ(r.outcome, channel_outcome::unavailable);
  EXPECT_NE(r.reason.find("deadline_exceeded"), std::string::npos) << r.reason;
  EXPECT_LT(elapsed_ms(started), 3'000);
}

TEST_F(gateway_e2e, an_empty_bucket_answers_rate_limited_without_calling_the_channel) {
  auto s = settings();
  s.rate_per_s = 1;
  s.burst = 2;
  auto g = spawn(std::move(s));
  EXPECT_EQ(ask(g, query_trade{"T-rate-1", "CNY"}).outcome, channel_outcome::ok);
  EXPECT_EQ(ask(g, query_trade{"T-rate-2", "CNY"}).outcome, channel_outcome::ok);
  const auto limited = ask(g, query_trade{"T-rate-3", "CNY"});
  EXPECT_EQ(limited.outcome, channel_outcome::rate_limited);
  EXPECT_GT(limited.retry_after_ms, 0u);
  EXPECT_LE(limited.retry_after_ms, 1'000u);
  EXPECT_EQ(limited.attempts, 0u);
  const auto i = info(g);
  EXPECT_EQ(i.calls, 2u);
  EXPECT_EQ(i.rejected_fast, 1u);
  EXPECT_LT(i.tokens, 1.0);
}

TEST_F(gateway_e2e, a_response_that_does_not_verify_is_never_ok) {
  auto s = settings();
  s.channel_key = test::app_public();  // not the channel's
  auto g = spawn(std::move(s));
  const auto opened = ask(g, trade("T-forged", 100));
  EXPECT_EQ(opened.outcome, channel_outcome::unavailable);
  EXPECT_NE(opened.reason.find("bad_signature"), std::string::npos) << opened.reason;
  EXPECT_EQ(opened.attempts, 1u);
  EXPECT_TRUE(opened.qr_code.empty());
  const auto queried = ask(g, query_trade{"T-forged", "CNY"});
  EXPECT_NE(queried.outcome, channel_outcome::ok);
  EXPECT_EQ(info(g).failures, 2u);
}

TEST_F(gateway_e2e, a_gateway_without_keys_stops_at_once) {
  auto s = settings();
  s.app_key.reset();
  auto g = spawn(std::move(s));
  const auto r = ask(g, query_trade{"T-nokeys", "CNY"});
  EXPECT_EQ(r.outcome, channel_outcome::unavailable);
  EXPECT_NE(r.reason, "no reply");  // an error came back, not a reply
}

}  // namespace
}  // namespace payengine
