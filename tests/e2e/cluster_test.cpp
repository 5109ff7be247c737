// Several nodes on one database (API.md "Several nodes"): real payengine
// processes sharing a throwaway PostgreSQL. Time is driven by short lease
// TTLs; every wait polls with a deadline.
#include "tests/support/engine_process.hpp"
#include "tests/support/test_db.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <csignal>
#include <mutex>
#include <set>
#include <thread>

namespace payengine {
namespace {

using json = nlohmann::json;
using testing::engine_process;
using testing::order_body;
using testing::test_database;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr const char* ttl_ms = "900";

class cluster : public ::testing::Test {
protected:
  void SetUp() override {
    PE_REQUIRE_DATABASE();
    db_ = std::make_unique<test_database>("cluster");
  }

  engine_process& add_node(const std::string& id) {
    nodes_.push_back(std::make_unique<engine_process>(
      db_->url(), std::map<std::string, std::string>{{"PAYENGINE_NODE_ID", id},
                                                     {"PAYENGINE_LEASE_TTL_MS", ttl_ms},
                                                     {"PAYENGINE_REQUEST_TIMEOUT_MS", "5000"}}));
    nodes_.back()->start();
    return *nodes_.back();
  }

  json cluster_view(const engine_process& n) const {
    return n.request("GET", "/admin/cluster", n.admin_token()).body;
  }

  /// Polls until every shard is owned by one of `owners` (each owning
  /// some); fails the test at the deadline.
  void wait_for_owners(const engine_process& via, const std::set<std::string>& owners,
                       milliseconds within = milliseconds{15'000}) {
    auto deadline = steady_clock::now() + within;
    json last;
    while (steady_clock::now() < deadline) {
      last = cluster_view(via);
      std::map<std::string, int> count;
      bool all = last.contains("shards") && !last["shards"].empty();
      for (const auto& s : last.value("shards", json::array())) {
        if (s["owner"].is_null() || !owners.count(s["owner"].get<std::string>()))
          all = false;
        else
          count[s["owner"].get<std::string>()]++;
      }
      if (all && count.size() == owners.size())
        return;
      std::this_thread::sleep_for(milliseconds{50});
    }
    FAIL() << "shards not owned by the expected nodes in time: " << last.dump();
  }

  testing::http_result create(const engine_process& n, const std::string& key,
                              const std::string& no) const {
    return n.request("POST", "/v1/orders", key, order_body(no).dump());
  }

  std::unique_ptr<test_database> db_;
  std::vector<std::unique_ptr<engine_process>> nodes_;
};

TEST_F(cluster, three_nodes_share_the_shards_and_any_node_serves_any_order) {
  auto& a = add_node("node-a");
  auto& b = add_node("node-b");
  auto& c = add_node("node-c");
  for (auto* n : {&a, &b, &c}) // every node has seen every handoff
    wait_for_owners(*n, {"node-a", "node-b", "node-c"});
  auto key = a.create_merchant()["api_key"].get<std::string>();
  std::vector<engine_process*> all{&a, &b, &c};
  std::vector<std::pair<std::string, std::string>> orders; // id, node that created it
  for (int i = 0; i < 30; ++i) {
    auto& n = *all[i % 3];
    auto r = create(n, key, "M-" + std::to_string(i));
    ASSERT_EQ(r.status, 201) << r.raw;
    ASSERT_TRUE(r.headers.count("X-Payengine-Node"));
    orders.emplace_back(r.body["id"].get<std::string>(), r.headers.find("X-Payengine-Node")->second);
  }
  for (const auto& [id, owner] : orders)
    for (auto* n : all) {
      auto r = n->request("GET", "/v1/orders/" + id, key);
      ASSERT_EQ(r.status, 200) << r.raw;
      EXPECT_EQ(r.body["id"], id);
      // Served by the owner (created where it arrived), after one hop at most.
      EXPECT_EQ(r.headers.find("X-Payengine-Node")->second, owner);
    }
  auto m = a.request("GET", "/metrics", a.admin_token());
  EXPECT_NE(m.raw.find("payengine_cluster_forwards_total"), std::string::npos);
  EXPECT_EQ(db_->scalar("SELECT count(DISTINCT owner) FROM shard_leases"), "3");
}

TEST_F(cluster, kill_9_under_create_load_loses_no_acknowledged_create) {
  auto& a = add_node("node-a");
  auto& b = add_node("node-b");
  auto& c = add_node("node-c");
  wait_for_owners(a, {"node-a", "node-b", "node-c"});
  auto key = a.create_merchant()["api_key"].get<std::string>();
  std::vector<engine_process*> all{&a, &b, &c};
  std::mutex mtx;
  std::vector<std::string> acknowledged;
  std::atomic<int> server_errors{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  for (int t = 0; t < 6; ++t)
    clients.emplace_back([&, t] {
      auto client = all[t % 3]->client();
      for (int i = 0; !stop; ++i) {
        auto body = order_body("K-" + std::to_string(t) + "-" + std::to_string(i));
        auto r = client->Post("/v1/orders", {{"Authorization", "Bearer " + key}}, body.dump(),
                              "application/json");
        if (!r) {
          if (t % 3 == 2)
            return; // node-c is gone
          continue;
        }
        if (r->status >= 500 && r->status != 503)
          server_errors++;
        if (r->status == 201) {
          std::lock_guard lock{mtx};
          acknowledged.push_back(json::parse(r->body)["id"].get<std::string>());
        }
      }
    });
  auto acknowledged_count = [&] {
    std::lock_guard lock{mtx};
    return acknowledged.size();
  };
  for (int i = 0; i < 5000 && acknowledged_count() < 300; ++i)
    std::this_thread::sleep_for(milliseconds{2});
  auto killed_at = steady_clock::now();
  c.kill_hard();
  // The dead node's shards are served by the others (failover).
  wait_for_owners(a, {"node-a", "node-b"});
  auto failover_ms = std::chrono::duration_cast<milliseconds>(steady_clock::now() - killed_at).count();
  RecordProperty("failover_ms", std::to_string(failover_ms));
  std::printf("failover after kill -9 (TTL %s ms): %lld ms\n", ttl_ms, static_cast<long long>(failover_ms));
  wait_for_owners(b, {"node-a", "node-b"});
  for (int i = 0; i < 200; ++i) // a little more load on the survivors
    std::this_thread::sleep_for(milliseconds{2});
  stop = true;
  for (auto& t : clients)
    t.join();
  EXPECT_EQ(server_errors.load(), 0);
  ASSERT_GE(acknowledged.size(), 100u);
  // Every acknowledged create is there, readable through either survivor.
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM orders WHERE id = ANY('{" + [&] {
              std::string s;
              for (auto& id : acknowledged)
                s += (s.empty() ? "" : ",") + id;
              return s;
            }() + "}')"),
            std::to_string(acknowledged.size()));
  for (size_t i = 0; i < acknowledged.size(); i += 7) {
    auto r = all[i % 2]->request("GET", "/v1/orders/" + acknowledged[i], key);
    EXPECT_EQ(r.status, 200) << r.raw;
  }
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM (SELECT order_id FROM order_events e"
                        " GROUP BY order_id HAVING max(seq) <> count(*)) x"), "0");
}

TEST_F(cluster, a_stopped_node_commits_nothing_under_a_stale_epoch) {
  auto& a = add_node("node-a");
  auto& b = add_node("node-b");
  wait_for_owners(a, {"node-a", "node-b"});
  auto key = a.create_merchant()["api_key"].get<std::string>();
  std::vector<std::string> on_b;
  for (int i = 0; i < 10; ++i) {
    auto r = create(b, key, "S-" + std::to_string(i));
    ASSERT_EQ(r.status, 201) << r.raw;
    on_b.push_back(r.body["id"].get<std::string>());
  }
  // node-b keeps them for reads (actors/read_cache.hpp): the second read
  // of each is answered from there.
  for (const auto& id : on_b)
    for (int k = 0; k < 2; ++k)
      ASSERT_EQ(b.request("GET", "/v1/orders/" + id, key).status, 200);
  auto b_front = b.request("GET", "/admin/actors", b.admin_token()).body["http_front"];
  EXPECT_EQ(b_front["read_cache"]["hits"], on_b.size()) << b_front.dump();
  ASSERT_EQ(::kill(b.pid(), SIGSTOP), 0);
  // Requests reach node-b while it is stopped: they run after SIGCONT,
  // when its leases are gone.
  std::vector<testing::http_result> late(on_b.size() / 2);
  std::vector<std::thread> senders;
  for (size_t i = 0; i < late.size(); ++i)
    senders.emplace_back([&, i] {
      late[i] = b.request("POST", "/v1/orders/" + on_b[i] + "/cancel", key, "{}");
    });
  wait_for_owners(a, {"node-a"});
  // The new owner writes node-b's orders under new epochs.
  for (size_t i = 0; i < on_b.size(); ++i) {
    auto r = a.request("POST", "/v1/orders/" + on_b[i] + "/cancel", key, "{}");
    EXPECT_EQ(r.status, 200) << r.raw;
  }
  ASSERT_EQ(::kill(b.pid(), SIGCONT), 0);
  for (auto& t : senders)
    t.join();
  for (const auto& r : late) // refused, or forwarded to the new owner: never a stale commit
    EXPECT_TRUE(r.status == 503 || r.status == 409 || r.status == 0) << r.status << " " << r.raw;
  // Epochs never go back within an order, and nothing was committed with
  // an epoch older than the lease the order's shard had when it was written.
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM (SELECT epoch < lag(epoch) OVER (PARTITION BY order_id ORDER BY seq) AS back"
                        " FROM order_events) x WHERE back"), "0");
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM order_events WHERE epoch = 0"), "0");
  for (const auto& id : on_b) {
    EXPECT_EQ(db_->scalar("SELECT version FROM orders WHERE id = '" + id + "'"), "2");
    EXPECT_EQ(db_->scalar("SELECT count(*) FROM order_events WHERE order_id = '" + id + "'"), "2");
  }
  // node-b rejoins: it gets its share back.
  wait_for_owners(a, {"node-a", "node-b"});
  // What node-b kept for reads before it stopped is never answered again:
  // every read shows node-a's writes.
  for (const auto& id : on_b) {
    auto r = b.request("GET", "/v1/orders/" + id, key);
    EXPECT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["version"], 2) << r.raw;
    EXPECT_EQ(r.body["status"], "cancelled") << r.raw;
  }
}

TEST_F(cluster, thirty_concurrent_writes_to_one_order_through_three_nodes_keep_one_writer) {
  auto& a = add_node("node-a");
  auto& b = add_node("node-b");
  auto& c = add_node("node-c");
  for (auto* n : {&a, &b, &c})
    wait_for_owners(*n, {"node-a", "node-b", "node-c"});
  auto key = a.create_merchant()["api_key"].get<std::string>();
  auto created = create(a, key, "ONE");
  ASSERT_EQ(created.status, 201);
  auto id = created.body["id"].get<std::string>();
  std::vector<engine_process*> all{&a, &b, &c};
  std::vector<testing::http_result> results(30);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < results.size(); ++i)
    threads.emplace_back([&, i] {
      auto& n = *all[i % 3];
      results[i] = i % 2 ? n.request("POST", "/v1/orders/" + id + "/cancel", key, "{}")
                         : n.request("GET", "/v1/orders/" + id, key);
    });
  for (auto& t : threads)
    t.join();
  int cancelled = 0;
  for (size_t i = 0; i < results.size(); ++i) {
    if (i % 2 == 0) {
      EXPECT_EQ(results[i].status, 200) << results[i].raw;
      continue;
    }
    if (results[i].status == 200)
      ++cancelled;
    else
      EXPECT_EQ(results[i].body["error"]["code"], "invalid_state") << results[i].raw;
  }
  EXPECT_EQ(cancelled, 1);
  auto version = db_->scalar("SELECT version FROM orders WHERE id = '" + id + "'");
  EXPECT_EQ(version, db_->scalar("SELECT count(*) FROM order_events WHERE order_id = '" + id + "'"));
  EXPECT_EQ(db_->scalar("SELECT bool_and(seq = rn) FROM (SELECT seq, row_number() OVER (ORDER BY seq) rn"
                        " FROM order_events WHERE order_id = '" + id + "') x"), "t");
}

TEST_F(cluster, a_killed_node_that_restarts_gets_its_share_back) {
  auto& a = add_node("node-a");
  auto& b = add_node("node-b");
  auto& c = add_node("node-c");
  wait_for_owners(a, {"node-a", "node-b", "node-c"});
  auto key = a.create_merchant()["api_key"].get<std::string>();
  auto r = create(c, key, "BACK");
  ASSERT_EQ(r.status, 201) << r.raw;
  auto id = r.body["id"].get<std::string>();
  c.kill_hard();
  wait_for_owners(a, {"node-a", "node-b"});
  c.start(); // same id (same listen port): takes its shards back under new epochs
  for (auto* n : {&a, &b, &c})
    wait_for_owners(*n, {"node-a", "node-b", "node-c"});
  auto again = b.request("POST", "/v1/orders/" + id + "/cancel", key, "{}");
  EXPECT_EQ(again.status, 200) << again.raw;
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM (SELECT epoch < lag(epoch) OVER (PARTITION BY order_id ORDER BY seq) AS back"
                        " FROM order_events) x WHERE back"), "0");
}

TEST_F(cluster, sigterm_hands_a_nodes_shards_over) {
  auto& a = add_node("node-a");
  auto& b = add_node("node-b");
  wait_for_owners(a, {"node-a", "node-b"});
  EXPECT_EQ(b.terminate(), 0);
  wait_for_owners(a, {"node-a"}, milliseconds{5'000});
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM cluster_nodes WHERE id = 'node-b'"), "0");
}

} // namespace
} // namespace payengine
