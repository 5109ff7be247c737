// The storage writers' limits against a real payengine and PostgreSQL: a
// statement stuck on a row lock ends at the session's statement_timeout as
// 503 storage_unavailable with nothing applied (not as an unknown outcome
// at the caller's deadline), and a writer whose queue is full refuses at
// once with 503 overloaded and Retry-After, while everything it accepted
// is stored. Locks are held by the test on its own connection.
#include "tests/support/engine_process.hpp"
#include "tests/support/test_db.hpp"

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include <chrono>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace payengine {
namespace {

using json = nlohmann::json;
using testing::engine_process;
using testing::order_body;
using testing::test_database;

/// Waits (bounded) until some session of the test's database waits on a lock.
bool someone_waits_on_a_lock(const test_database& db) {
  for (int i = 0; i < 1'000; ++i) {
    if (db.scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                  " AND wait_event_type = 'Lock'") != "0")
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
  return false;
}

std::string code_of(const testing::http_result& r) {
  return r.body.is_object() && r.body.contains("error") ? r.body["error"].value("code", "") : "";
}

bool has_retry_after(const testing::http_result& r) {
  return r.headers.find("Retry-After") != r.headers.end();
}

TEST(storage_limits, a_statement_stuck_on_a_lock_ends_at_the_statement_timeout_and_changes_nothing) {
  PE_REQUIRE_DATABASE();
  test_database db{"stmt_timeout"};
  engine_process engine{db.url()};
  // connect 2 s + 2 x 0.5 s fits storage_timeout_ms 5 s: the writer's error
  // comes before the order actor's deadline (which would answer "timeout").
  engine.set_args({"--storage-writers", "1", "--db-statement-timeout-ms", "500"});
  engine.start();
  const auto key = engine.create_merchant()["api_key"].get<std::string>();
  auto created = engine.request("POST", "/v1/orders", key, order_body("M-locked").dump());
  ASSERT_EQ(created.status, 201) << created.raw;
  const auto id = created.body["id"].get<std::string>();

  pqxx::connection holder{db.url()};
  pqxx::work lock{holder};
  lock.exec_params("SELECT id FROM orders WHERE id = $1 FOR UPDATE", id);

  const auto cancelled = engine.request("POST", "/v1/orders/" + id + "/cancel", key, "{}");
  EXPECT_EQ(cancelled.status, 503) << cancelled.raw;
  EXPECT_EQ(code_of(cancelled), "storage_unavailable") << cancelled.raw;
  EXPECT_TRUE(has_retry_after(cancelled));
  // Nothing applied: the row and its events are as before (read past the lock).
  EXPECT_EQ(db.scalar("SELECT version FROM orders WHERE id = '" + id + "'"), "1");
  EXPECT_EQ(db.scalar("SELECT count(*) FROM order_events WHERE order_id = '" + id + "'"), "1");
  lock.abort();

  // The order actor kept its committed state: the retry goes through once.
  const auto again = engine.request("POST", "/v1/orders/" + id + "/cancel", key, "{}");
  EXPECT_EQ(again.status, 200) << again.raw;
  EXPECT_EQ(again.body["status"], "cancelled");
  EXPECT_EQ(again.body["version"], 2);
  EXPECT_EQ(db.scalar("SELECT version FROM orders WHERE id = '" + id + "'"), "2");
  EXPECT_EQ(engine.terminate(), 0);
}

TEST(storage_limits, a_full_writer_queue_refuses_at_once_and_everything_accepted_is_stored) {
  PE_REQUIRE_DATABASE();
  test_database db{"queue_bound"};
  engine_process engine{db.url()};
  // One writer, at most 4 requests waiting. connect 2 s + 2 x 2 s fits 7 s.
  engine.set_args({"--storage-writers", "1", "--storage-queue-max", "4",
                   "--db-statement-timeout-ms", "2000", "--storage-timeout-ms", "7000"});
  engine.start();
  const auto blocked_merchant = engine.create_merchant("Blocked");
  const auto blocked_key = blocked_merchant["api_key"].get<std::string>();
  const auto key = engine.create_merchant("Flooding")["api_key"].get<std::string>();
  // Both keys known to the HTTP layer (authentication then needs no writer).
  ASSERT_EQ(engine.request("POST", "/v1/orders", blocked_key, order_body("B-0").dump()).status, 201);
  ASSERT_EQ(engine.request("POST", "/v1/orders", key, order_body("F-warm").dump()).status, 201);

  // The writer gets stuck: a new order of the blocked merchant waits for the
  // merchant row (its foreign key check) that the test holds.
  pqxx::connection holder{db.url()};
  pqxx::work lock{holder};
  lock.exec_params("SELECT id FROM merchants WHERE id = $1 FOR UPDATE",
                   blocked_merchant["id"].get<std::string>());
  testing::http_result stuck;
  std::thread stuck_client([&] {
    stuck = engine.request("POST", "/v1/orders", blocked_key, order_body("B-1").dump());
  });
  ASSERT_TRUE(someone_waits_on_a_lock(db));

  // The flood queues up behind it; when the stuck statement times out, the
  // writer refuses what finds 4 others waiting and commits the rest.
  constexpr int clients = 16;
  constexpr int per_client = 3;
  std::mutex mtx;
  std::vector<testing::http_result> answers;
  std::vector<std::string> numbers;
  std::vector<std::thread> threads;
  for (int t = 0; t < clients; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < per_client; ++i) {
        const auto no = "F-" + std::to_string(t) + "-" + std::to_string(i);
        auto r = engine.request("POST", "/v1/orders", key, order_body(no).dump());
        std::lock_guard guard{mtx};
        answers.push_back(std::move(r));
        numbers.push_back(no);
      }
    });
  for (auto& t : threads)
    t.join();
  stuck_client.join();
  lock.abort();

  EXPECT_EQ(stuck.status, 503) << stuck.raw;
  EXPECT_EQ(code_of(stuck), "storage_unavailable") << stuck.raw;
  int refused = 0;
  std::set<std::string> stored_numbers;
  for (size_t i = 0; i < answers.size(); ++i) {
    const auto& r = answers[i];
    if (r.status == 201) {
      const auto id = r.body["id"].get<std::string>();
      EXPECT_EQ(db.scalar("SELECT merchant_order_no FROM orders WHERE id = '" + id + "'"),
                numbers[i]);
      stored_numbers.insert(numbers[i]);
      continue;
    }
    EXPECT_EQ(r.status, 503) << r.raw;
    EXPECT_EQ(code_of(r), "overloaded") << r.raw;
    EXPECT_TRUE(has_retry_after(r)) << r.raw;
    ++refused;
  }
  EXPECT_GT(refused, 0);
  // Every 201 is stored, and nothing else: refused creates left no row.
  EXPECT_EQ(db.scalar("SELECT count(*) FROM orders WHERE merchant_order_no LIKE 'F-%-%'"),
            std::to_string(stored_numbers.size()));
  EXPECT_EQ(db.scalar("SELECT count(*) FROM orders WHERE merchant_order_no = 'B-1'"), "0");
  // A refused request is a genuine "retry": the same create now succeeds.
  for (size_t i = 0; i < answers.size(); ++i)
    if (answers[i].status == 503) {
      const auto r = engine.request("POST", "/v1/orders", key, order_body(numbers[i]).dump());
      EXPECT_EQ(r.status, 201) << r.raw;
      break;
    }
  EXPECT_EQ(engine.terminate(), 0);
}

} // namespace
} // namespace payengine
