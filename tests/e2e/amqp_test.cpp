// Events on RabbitMQ (API.md v1.1) against a real broker (scripts/test.sh
// starts it), a real PostgreSQL, paysim and payengine as child processes:
// every merchant event arrives once confirmed, with the webhook's id and
// body, in order per order; a broker stopped for 10 s delays only the
// events; kill -9 while publishing loses none; fulfillment updates from the
// queue apply through the order actors; poison lands in the dead queue with
// its reason.
#include "tests/support/amqp_test_client.hpp"
#include "tests/support/engine_process.hpp"
#include "tests/support/paysim_for_tests.hpp"
#include "tests/support/test_db.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

namespace payengine {
namespace {

using json = nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::amqp_message;
using testing::amqp_test_client;
using testing::engine_process;
using testing::order_body;
using testing::test_database;

constexpr const char* exchange = "payengine.events";
constexpr const char* updates_queue = "payengine.fulfillment";
constexpr const char* dead_queue = "payengine.fulfillment.dead";

/// The merchant's webhook endpoint: every body by its webhook-id.
class hook_recorder {
public:
  hook_recorder() {
    svr_.Post("/hook", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock{mtx_};
      bodies_[req.get_header_value("webhook-id")] = req.body;
      cv_.notify_all();
      res.status = 200;
    });
    port_ = svr_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { svr_.listen_after_bind(); });
    while (!svr_.is_running())
      std::this_thread::yield();
  }
  ~hook_recorder() {
    svr_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hook"; }
  /// Waits (bounded) for `n` distinct webhooks.
  std::map<std::string, std::string> wait_for(size_t n) {
    std::unique_lock lock{mtx_};
    cv_.wait_for(lock, seconds{30}, [&] { return bodies_.size() >= n; });
    return bodies_;
  }

private:
  httplib::Server svr_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mtx_;
  std::condition_variable cv_;
  std::map<std::string, std::string> bodies_;
};

std::vector<std::string> split(const std::string& csv) {
  std::vector<std::string> out;
  std::stringstream in{csv};
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty())
      out.push_back(item);
  return out;
}

class amqp_test : public ::testing::Test {
protected:
  void SetUp() override {
    PE_REQUIRE_DATABASE();
    PE_REQUIRE_BROKER();
    sim_ = testing::start_paysim();
    db_ = std::make_unique<test_database>("amqp");
    broker_ = std::make_unique<amqp_test_client>(testing::test_amqp_url());
    ASSERT_TRUE(broker_->ok());
    // The engine declares them too; the test binds its queue first.
    broker_->declare_exchange(exchange);
    for (auto* q : {updates_queue, dead_queue}) {
      broker_->declare_queue(q);
      broker_->purge(q); // a failed earlier run may have left some
    }
    engine_ = std::make_unique<engine_process>(
      db_->url(), std::map<std::string, std::string>{
                    {"PAYENGINE_AMQP_URL", testing::test_amqp_url()},
                    {"PAYENGINE_ALIPAY_GATEWAY_URL", sim_->url() + "/gateway.do"},
                    {"PAYENGINE_TIME_SCALE", "100"}});
    engine_->set_args({"--notifier-poll-ms", "50", "--amqp-requeue-delay-ms", "200",
                       "--amqp-reconnect-max-ms", "1000"});
    engine_->start();
    auto m = engine_->request("POST", "/admin/merchants", engine_->admin_token(),
                              json{{"name", "shop"}, {"notify_url", hooks_.url()}}.dump());
    ASSERT_EQ(m.status, 201) << m.raw;
    merchant_ = m.body["id"].get<std::string>();
    key_ = m.body["api_key"].get<std::string>();
    // Every event of this test's merchant, and only those.
    queue_ = "test.events." + merchant_;
    broker_->declare_queue(queue_);
    broker_->bind(queue_, exchange, merchant_ + ".#");
  }

  void TearDown() override {
    if (broker_ && broker_->ok() && !queue_.empty())
      broker_->delete_queue(queue_);
  }

  testing::http_result call(const std::string& method, const std::string& path,
                            const json& body = json::object()) {
    return engine_->request(method, path, key_, method == "GET" ? "" : body.dump());
  }

  /// Long-polls until `pred(order)` holds (bounded).
  json wait_until(const std::string& id, const std::function<bool(const json&)>& pred) {
    auto o = call("GET", "/v1/orders/" + id).body;
    for (int i = 0; i < 40 && o.is_object() && !pred(o); ++i)
      o = call("GET", "/v1/orders/" + id + "?wait_for_change=5&version="
                        + std::to_string(o.value("version", 0))).body;
    return o;
  }

  /// Created, paid at the channel, and paid here; every answer is counted in
  /// `failures` unless it is the expected one.
  std::string paid_order(const std::string& no, std::atomic<int>* failures = nullptr) {
    auto fail = [&](const testing::http_result& r) {
      if (failures)
        ++*failures;
      ADD_FAILURE() << no << ": " << r.status << " " << r.raw;
      return std::string{};
    };
    auto created = call("POST", "/v1/orders", order_body(no));
    if (created.status != 201)
      return fail(created);
    auto id = created.body["id"].get<std::string>();
    auto paying = call("POST", "/v1/orders/" + id + "/pay");
    if (paying.status != 202)
      return fail(paying);
    auto awaiting = wait_until(id, [](const json& o) { return o["status"] == "awaiting_payment"; });
    auto qr = awaiting["payment"]["qr_code"].get<std::string>();
    httplib::Client c{"127.0.0.1", sim_->port()};
    auto r = c.Post(qr.substr(qr.find('/', std::string{"http://"}.size())).c_str(),
                    json{{"result", "success"}}.dump(), "application/json");
    EXPECT_TRUE(r && r->status == 200);
    auto paid = wait_until(id, [](const json& o) { return o["status"] == "paid"; });
    if (paid["status"] != "paid") {
      testing::http_result last;
      last.raw = paid.dump();
      return fail(last);
    }
    return id;
  }

  /// The merchant events in the database, in creation order.
  std::vector<std::string> stored_event_ids(const std::string& where = "true") {
    return split(db_->scalar("SELECT coalesce(string_agg(id, ',' ORDER BY seq), '') FROM merchant_events WHERE " + where));
  }

  /// Each stored event's order.
  std::map<std::string, std::string> order_of_events() {
    std::map<std::string, std::string> out;
    for (const auto& pair : split(db_->scalar("SELECT coalesce(string_agg(id || ':' || order_id, ','), '') FROM merchant_events"))) {
      auto colon = pair.find(':');
      out[pair.substr(0, colon)] = pair.substr(colon + 1);
    }
    return out;
  }

  /// Takes messages from the test's queue until every id in `ids` came
  /// (bounded by `limit`); returns all that came.
  std::vector<amqp_message> take_until_all(amqp_test_client& client, const std::vector<std::string>& ids,
                                           seconds limit = seconds{30}) {
    std::set<std::string> missing(ids.begin(), ids.end());
    std::vector<amqp_message> all;
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!missing.empty() && std::chrono::steady_clock::now() < deadline) {
      for (auto& m : client.take(queue_, missing.size(), milliseconds{500})) {
        missing.erase(m.message_id);
        all.push_back(std::move(m));
      }
    }
    EXPECT_TRUE(missing.empty()) << missing.size() << " of " << ids.size() << " events never arrived, e.g. "
                                 << (missing.empty() ? "" : *missing.begin()) << "\n" << engine_->log();
    return all;
  }

  /// One sample of /metrics (-1 if absent).
  double metric(const std::string& series) {
    auto text = engine_->request("GET", "/metrics", engine_->admin_token()).raw;
    std::stringstream in{text};
    for (std::string line; std::getline(in, line);)
      if (line.rfind(series + " ", 0) == 0)
        return std::stod(line.substr(series.size() + 1));
    return -1;
  }

  /// /metrics until `series` reads `want` (bounded); its last value.
  double metric_reaches(const std::string& series, double want) {
    double v = metric(series);
    for (int i = 0; i < 100 && v != want; ++i) {
      std::this_thread::sleep_for(milliseconds{50});
      v = metric(series);
    }
    return v;
  }

  void publish_update(const json& body, const std::string& message_id) {
    broker_->publish("", updates_queue, body.dump(), message_id);
  }

  hook_recorder hooks_;
  std::unique_ptr<test::paysim_process> sim_;
  std::unique_ptr<test_database> db_;
  std::unique_ptr<amqp_test_client> broker_;
  std::unique_ptr<engine_process> engine_;
  std::string merchant_;
  std::string key_;
  std::string queue_;
};

TEST_F(amqp_test, every_event_arrives_with_the_webhooks_id_and_body) {
  auto paid = paid_order("M-amqp-1");
  ASSERT_FALSE(paid.empty());
  auto other = call("POST", "/v1/orders", order_body("M-amqp-2")).body["id"].get<std::string>();
  ASSERT_EQ(call("POST", "/v1/orders/" + other + "/cancel").status, 200);
  ASSERT_EQ(call("POST", "/v1/orders/" + paid + "/fulfillment", {{"stage", "delivered"}}).status, 200);
  auto ids = stored_event_ids();
  ASSERT_EQ(ids.size(), 3u) << "order.paid, order.cancelled, order.completed";
  auto messages = take_until_all(*broker_, ids);
  auto webhooks = hooks_.wait_for(ids.size());
  ASSERT_EQ(webhooks.size(), ids.size());
  std::set<std::string> types;
  for (const auto& m : messages) {
    ASSERT_TRUE(webhooks.count(m.message_id)) << "no webhook has the id " << m.message_id;
    EXPECT_EQ(m.body, webhooks[m.message_id]) << "the body differs from the webhook's";
    auto event = json::parse(m.body);
    EXPECT_EQ(event["id"], m.message_id);
    EXPECT_EQ(m.type, event["type"]);
    EXPECT_EQ(m.exchange, exchange);
    EXPECT_EQ(m.routing_key, merchant_ + "." + m.type);
    EXPECT_EQ(m.delivery_mode, 2) << "persistent";
    types.insert(m.type);
  }
  EXPECT_EQ(types, (std::set<std::string>{"order.paid", "order.cancelled", "order.completed"}));
  // Published means confirmed and recorded.
  for (int i = 0; i < 100 && db_->scalar("SELECT count(*) FROM merchant_events WHERE published_at IS NULL") != "0"; ++i)
    std::this_thread::sleep_for(milliseconds{20});
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM merchant_events WHERE published_at IS NULL"), "0");
  auto actors = engine_->request("GET", "/admin/actors", engine_->admin_token()).body;
  EXPECT_EQ(actors["event_relay"]["connected"], true) << actors.dump();
  EXPECT_GE(actors["event_relay"]["published"].get<int>(), 3);
  EXPECT_EQ(actors["fulfillment_consumer"]["connected"], true);
}

TEST_F(amqp_test, the_events_of_each_order_arrive_in_their_order) {
  // Eight orders, each paid then refunded in full: order.paid, then
  // refund.succeeded and order.refunded (one transaction), interleaved.
  constexpr int orders = 8;
  std::vector<std::thread> threads;
  std::vector<std::string> ids(orders);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = t; i < orders; i += 4) {
        ids[i] = paid_order("M-seq-" + std::to_string(i));
        if (!ids[i].empty()) {
          EXPECT_EQ(call("POST", "/v1/orders/" + ids[i] + "/refunds", {{"amount", 8888}}).status, 202);
        }
      }
    });
  for (auto& t : threads)
    t.join();
  for (const auto& id : ids)
    wait_until(id, [](const json& o) { return o["status"] == "refunded"; });
  auto stored = stored_event_ids();
  ASSERT_EQ(stored.size(), size_t{orders * 3});
  auto messages = take_until_all(*broker_, stored);
  auto order_of = order_of_events();
  std::map<std::string, std::vector<std::string>> arrived; // by order, first arrivals only
  std::set<std::string> seen;
  for (const auto& m : messages)
    if (seen.insert(m.message_id).second)
      arrived[order_of[m.message_id]].push_back(m.message_id);
  for (const auto& id : ids) {
    auto expected = stored_event_ids("order_id = '" + id + "'");
    EXPECT_EQ(arrived[id], expected) << "events of " << id << " out of their order";
  }
}

TEST_F(amqp_test, a_broker_stopped_for_10_s_delays_the_events_never_the_api) {
  ASSERT_FALSE(paid_order("M-down-0").empty());
  auto before = stored_event_ids();
  take_until_all(*broker_, before); // the relay is connected and idle
  broker_.reset(); // its connection dies with the broker
  ASSERT_TRUE(testing::rabbitmqctl("stop_app"));
  auto stopped_at = std::chrono::steady_clock::now();
  std::atomic<int> failures{0};
  std::vector<std::string> paid(30);
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t)
    threads.emplace_back([&, t] {
      for (int i = t; i < 30; i += 3)
        paid[i] = paid_order("M-down-" + std::to_string(i + 1), &failures);
    });
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(failures.load(), 0) << "every API answer as usual while the broker is down";
  // The lag shows while the broker is down (the backlog is counted each second).
  double backlog = 0;
  for (int i = 0; i < 50 && backlog < 30; ++i) {
    backlog = metric("payengine_events_unpublished");
    if (backlog < 30)
      std::this_thread::sleep_for(milliseconds{100});
  }
  EXPECT_GE(backlog, 30);
  EXPECT_EQ(metric("payengine_amqp_connected{actor=\"event_relay\"}"), 0);
  auto relay = engine_->request("GET", "/admin/actors", engine_->admin_token()).body["event_relay"];
  EXPECT_EQ(relay["connected"], false);
  EXPECT_GE(relay["unpublished"].get<int>(), 30);
  EXPECT_FALSE(relay["last_error"].get<std::string>().empty());
  std::this_thread::sleep_until(stopped_at + seconds{10});
  ASSERT_TRUE(testing::rabbitmqctl("start_app"));
  broker_ = std::make_unique<amqp_test_client>(testing::test_amqp_url());
  ASSERT_TRUE(broker_->ok());
  auto during = stored_event_ids("id <> '" + before.front() + "'");
  ASSERT_EQ(during.size(), 30u);
  auto messages = take_until_all(*broker_, during, seconds{60});
  auto order_of = order_of_events();
  std::set<std::string> orders;
  for (const auto& m : messages)
    orders.insert(order_of[m.message_id]);
  for (const auto& id : paid)
    EXPECT_TRUE(orders.count(id)) << id << "'s order.paid never arrived";
  EXPECT_EQ(metric_reaches("payengine_events_unpublished", 0), 0) << "the lag is gone";
  EXPECT_GE(metric("payengine_amqp_reconnects_total{actor=\"event_relay\"}"), 1);
}

TEST_F(amqp_test, kill_9_while_publishing_loses_no_event) {
  // Four clients create and cancel orders (one order.cancelled each); the
  // engine is killed once events are arriving and half the cancels are in.
  std::atomic<int> cancelled{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100 && !stop; ++i) {
        auto created = call("POST", "/v1/orders", order_body("M-kill-" + std::to_string(t) + "-" + std::to_string(i)));
        if (created.status != 201)
          return; // the engine is gone
        if (call("POST", "/v1/orders/" + created.body["id"].get<std::string>() + "/cancel").status == 200)
          ++cancelled;
      }
    });
  auto first = broker_->take(queue_, 1, seconds{20});
  ASSERT_EQ(first.size(), 1u) << "no event was published";
  for (int i = 0; i < 500 && cancelled < 150; ++i)
    std::this_thread::sleep_for(milliseconds{10});
  engine_->kill_hard();
  stop = true;
  for (auto& t : threads)
    t.join();
  auto before_restart = db_->scalar("SELECT count(*) FROM merchant_events WHERE published_at IS NULL");
  RecordProperty("unpublished_at_kill", before_restart);
  engine_->start();
  auto stored = stored_event_ids();
  ASSERT_GE(stored.size(), size_t(cancelled.load()));
  std::vector<std::string> still;
  for (const auto& id : stored)
    if (id != first.front().message_id)
      still.push_back(id);
  auto messages = take_until_all(*broker_, still, seconds{60});
  RecordProperty("events", static_cast<int>(stored.size()));
  RecordProperty("messages", static_cast<int>(messages.size()));
}

TEST_F(amqp_test, fulfillment_from_the_queue_completes_an_order) {
  auto id = paid_order("M-ful-1");
  ASSERT_FALSE(id.empty());
  for (const char* stage : {"produced", "shipped", "delivered"})
    publish_update({{"order_id", id}, {"merchant_id", merchant_}, {"stage", stage}, {"detail", std::string{"via queue: "} + stage}},
                   std::string{"upd-"} + stage);
  auto done = wait_until(id, [](const json& o) { return o["status"] == "completed"; });
  EXPECT_EQ(done["status"], "completed") << done.dump();
  EXPECT_EQ(done["fulfillment"]["stage"], "delivered");
  auto events = call("GET", "/v1/orders/" + id + "/events").body["data"];
  std::vector<std::string> types;
  for (const auto& e : events)
    types.push_back(e["type"]);
  EXPECT_EQ(std::vector<std::string>(types.end() - 3, types.end()),
            (std::vector<std::string>{"fulfillment.produced", "fulfillment.shipped", "order.completed"}));
  // And the merchant event it caused went out on the exchange.
  take_until_all(*broker_, stored_event_ids("type = 'order.completed'"));
  EXPECT_EQ(broker_->ready(updates_queue), 0u);
  EXPECT_EQ(broker_->ready(dead_queue), 0u);
  EXPECT_EQ(metric_reaches("payengine_fulfillment_updates_total{outcome=\"applied\"}", 3), 3);
}

TEST_F(amqp_test, poison_lands_in_the_dead_queue_with_its_reason) {
  auto paid = paid_order("M-poison-1");
  ASSERT_FALSE(paid.empty());
  auto unpaid = call("POST", "/v1/orders", order_body("M-poison-2")).body["id"].get<std::string>();
  auto stranger = engine_->create_merchant("another shop")["id"].get<std::string>();
  ASSERT_EQ(call("POST", "/v1/orders/" + paid + "/fulfillment", {{"stage", "shipped"}}).status, 200);
  std::map<std::string, std::pair<std::string, std::string>> poison = { // message id -> body, reason
    {"p-json", {"{\"order_id\": \"ord_", "bad_json"}},
    {"p-unknown", {json{{"order_id", "ord_doesnotexist000000000000"}, {"merchant_id", merchant_}, {"stage", "produced"}}.dump(), "unknown_order"}},
    {"p-merchant", {json{{"order_id", paid}, {"merchant_id", stranger}, {"stage", "delivered"}}.dump(), "wrong_merchant"}},
    {"p-backwards", {json{{"order_id", paid}, {"merchant_id", merchant_}, {"stage", "produced"}}.dump(), "stage_backwards"}},
    {"p-unpaid", {json{{"order_id", unpaid}, {"merchant_id", merchant_}, {"stage", "produced"}}.dump(), "invalid_state"}},
    {"p-stage", {json{{"order_id", paid}, {"merchant_id", merchant_}, {"stage", "lost"}}.dump(), "invalid_stage"}},
  };
  for (const auto& [id, p] : poison)
    broker_->publish("", updates_queue, p.first, id);
  // The same stage again is a redelivery, not poison.
  publish_update({{"order_id", paid}, {"merchant_id", merchant_}, {"stage", "shipped"}}, "p-again");
  auto dead = broker_->take(dead_queue, poison.size(), seconds{20});
  ASSERT_EQ(dead.size(), poison.size()) << engine_->log();
  for (auto& m : dead) {
    ASSERT_TRUE(poison.count(m.message_id)) << m.message_id << " is not poison";
    EXPECT_EQ(m.headers["x-payengine-error"], poison[m.message_id].second) << m.message_id;
    EXPECT_FALSE(m.headers["x-payengine-error-message"].empty());
    EXPECT_EQ(m.body, poison[m.message_id].first) << "the original body";
    EXPECT_EQ(m.delivery_mode, 2);
  }
  EXPECT_EQ(metric_reaches("payengine_fulfillment_updates_total{outcome=\"duplicate\"}", 1), 1);
  EXPECT_EQ(metric_reaches("payengine_fulfillment_updates_total{outcome=\"dead_lettered\"}", double(poison.size())),
            double(poison.size()));
  EXPECT_EQ(broker_->ready(updates_queue), 0u) << "everything was acknowledged";
  EXPECT_EQ(call("GET", "/v1/orders/" + paid).body["fulfillment"]["stage"], "shipped");
  EXPECT_EQ(call("GET", "/v1/orders/" + unpaid).body["fulfillment"]["stage"], "none");
}

TEST_F(amqp_test, each_node_relays_the_events_of_its_own_shards) {
  engine_process b{db_->url(), {{"PAYENGINE_AMQP_URL", testing::test_amqp_url()},
                                {"PAYENGINE_NODE_ID", "node-b"}}};
  b.start();
  // Both own shards (the first node hands some over to the second).
  std::set<std::string> owners;
  for (int i = 0; i < 200 && owners.size() < 2; ++i) {
    owners.clear();
    const auto view = b.request("GET", "/admin/cluster", b.admin_token()); // named: read below
    for (const auto& shard : view.body["shards"])
      if (shard["owner"].is_string())
        owners.insert(shard["owner"].get<std::string>());
    if (owners.size() < 2)
      std::this_thread::sleep_for(milliseconds{50});
  }
  ASSERT_EQ(owners.size(), 2u);
  // A create lands in a shard of the node that takes it: orders on both.
  for (int i = 0; i < 40; ++i) {
    const engine_process& node = i % 2 ? b : *engine_;
    auto created = node.request("POST", "/v1/orders", key_, order_body("M-nodes-" + std::to_string(i)).dump());
    ASSERT_EQ(created.status, 201) << created.raw;
    auto id = created.body["id"].get<std::string>();
    ASSERT_EQ(node.request("POST", "/v1/orders/" + id + "/cancel", key_, "{}").status, 200);
  }
  auto stored = stored_event_ids();
  ASSERT_EQ(stored.size(), 40u);
  take_until_all(*broker_, stored);
  auto published = [](const engine_process& n) {
    return n.request("GET", "/admin/actors", n.admin_token()).body["event_relay"]["published"].get<int>();
  };
  int on_a = 0, on_b = 0;
  for (int i = 0; i < 100 && on_a + on_b < 40; ++i) {
    on_a = published(*engine_);
    on_b = published(b);
    if (on_a + on_b < 40)
      std::this_thread::sleep_for(milliseconds{50});
  }
  EXPECT_GT(on_a, 0) << "the first node relayed its own orders";
  EXPECT_GT(on_b, 0) << "the second node relayed its own orders";
  EXPECT_GE(on_a + on_b, 40);
  RecordProperty("published_by_a", on_a);
  RecordProperty("published_by_b", on_b);
}

TEST(amqp_off, without_a_broker_url_nothing_connects) {
  PE_REQUIRE_DATABASE();
  test_database db{"amqpoff"};
  engine_process engine{db.url()};
  engine.start();
  auto actors = engine.request("GET", "/admin/actors", engine.admin_token()).body;
  EXPECT_TRUE(actors["event_relay"].is_null());
  EXPECT_TRUE(actors["fulfillment_consumer"].is_null());
  for (const auto& child : actors["supervisor"]["children"])
    EXPECT_NE(child, "event_relay");
  auto metrics = engine.request("GET", "/metrics", engine.admin_token()).raw;
  EXPECT_EQ(metrics.find("payengine_events_unpublished"), std::string::npos);
}

} // namespace
} // namespace payengine
