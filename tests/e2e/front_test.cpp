// The HTTP front door against a real payengine (http/server.cpp): idle and
// slow connections cost no thread and are cut at their deadlines, a
// connection over the cap is refused at once, a body without a length is
// never waited for, and past the admission limit requests are refused at
// once with nothing changed, while the operator routes still answer.
//
// Nothing here asserts a wall-clock gap: each check is "it answered" or "it
// was closed", with generous bounds that only catch a hang.
#include "tests/support/engine_process.hpp"
#include "tests/support/test_db.hpp"

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

namespace payengine {
namespace {

using json = nlohmann::json;
using testing::engine_process;
using testing::order_body;
using testing::test_database;

/// A raw TCP connection to the engine: the test controls every byte.
class raw_connection {
public:
  explicit raw_connection(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in at{};
    at.sin_family = AF_INET;
    at.sin_port = htons(static_cast<uint16_t>(port));
    at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&at), sizeof(at)) == 0;
  }
  ~raw_connection() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  raw_connection(const raw_connection&) = delete;
  raw_connection& operator=(const raw_connection&) = delete;

  bool connected() const { return connected_; }

  bool send(const std::string& bytes) {
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
  }

  /// Reads until the peer closes or `limit` passes; what came.
  std::string read_until_closed(std::chrono::milliseconds limit, bool* closed = nullptr) {
    std::string out;
    auto until = std::chrono::steady_clock::now() + limit;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      if (left.count() <= 0)
        break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
        break;
      char buf[4096];
      auto n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) {
        if (closed)
          *closed = true;
        return out;
      }
      out.append(buf, static_cast<std::size_t>(n));
    }
    if (closed)
      *closed = false;
    return out;
  }

  /// Reads one response whose body is delimited by Content-Length.
  std::string read_response(std::chrono::milliseconds limit) {
    std::string out;
    auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
      auto end = out.find("\r\n\r\n");
      if (end != std::string::npos) {
        auto at = out.find("Content-Length: ");
        std::size_t length = at == std::string::npos ? 0 : std::stoul(out.substr(at + 16));
        if (out.size() >= end + 4 + length)
          return out;
      }
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0)
        continue;
      char buf[4096];
      auto n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0)
        return out;
      out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
  }

private:
  int fd_ = -1;
  bool connected_ = false;
};

int status_of(const std::string& response) {
  return response.rfind("HTTP/1.1 ", 0) == 0 ? std::stoi(response.substr(9, 3)) : 0;
}

json body_of(const std::string& response) {
  auto end = response.find("\r\n\r\n");
  return end == std::string::npos ? json{} : json::parse(response.substr(end + 4), nullptr, false);
}

std::string healthz_request() {
  return "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
}

TEST(front, idle_and_slow_connections_do_not_keep_a_fresh_request_waiting) {
  PE_REQUIRE_DATABASE();
  test_database db{"front_idle"};
  // More idle and slow connections than handler threads: with a thread per
  // connection the fresh request below would wait for one of them to end.
  engine_process engine{db.url(), {{"PAYENGINE_HTTP_THREADS", "64"},
                                   {"PAYENGINE_HTTP_INFLIGHT_MAX", "16"},
                                   {"PAYENGINE_LONG_POLLS_MAX", "8"},
                                   {"PAYENGINE_KEEP_ALIVE_TIMEOUT_S", "60"},
                                   {"PAYENGINE_REQUEST_READ_TIMEOUT_MS", "60000"}}};
  engine.start();
  std::vector<std::unique_ptr<raw_connection>> idle, slow;
  for (int i = 0; i < 300; ++i)
    idle.push_back(std::make_unique<raw_connection>(engine.port()));
  for (int i = 0; i < 100; ++i) {
    slow.push_back(std::make_unique<raw_connection>(engine.port()));
    ASSERT_TRUE(slow.back()->send("GET /hea")) << i; // a header that never ends
  }
  for (const auto& c : idle)
    ASSERT_TRUE(c->connected());
  const auto key = engine.create_merchant()["api_key"].get<std::string>();
  auto created = engine.request("POST", "/v1/orders", key, order_body("M-fresh").dump());
  EXPECT_EQ(created.status, 201) << created.raw;
  raw_connection fresh{engine.port()};
  ASSERT_TRUE(fresh.send(healthz_request()));
  EXPECT_EQ(status_of(fresh.read_response(std::chrono::seconds{10})), 200);
  // Every idle connection is still open and served when it finally speaks.
  ASSERT_TRUE(idle.front()->send(healthz_request()));
  EXPECT_EQ(status_of(idle.front()->read_response(std::chrono::seconds{10})), 200);
  auto metrics = engine.request("GET", "/metrics", engine.admin_token());
  EXPECT_NE(metrics.raw.find("payengine_http_connections "), std::string::npos) << metrics.raw.substr(0, 300);
}

TEST(front, a_header_sent_a_byte_at_a_time_is_cut_at_the_read_deadline) {
  PE_REQUIRE_DATABASE();
  test_database db{"front_slow"};
  engine_process engine{db.url(), {{"PAYENGINE_REQUEST_READ_TIMEOUT_MS", "300"},
                                   {"PAYENGINE_KEEP_ALIVE_TIMEOUT_S", "60"}}};
  engine.start();
  raw_connection slow{engine.port()};
  const std::string header = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: "
                             + std::string(400, 'a') + "\r\n\r\n";
  // Each byte would reset a per-read timeout; the deadline is for the whole
  // request, so the server closes long before the header could end.
  bool closed = false;
  for (std::size_t i = 0; i < header.size() && !closed; ++i) {
    if (!slow.send(header.substr(i, 1)))
      closed = true;
    else
      slow.read_until_closed(std::chrono::milliseconds{50}, &closed);
  }
  EXPECT_TRUE(closed) << "a 400-byte header at 20 bytes/s was still being read after 20 s";
  auto metrics = engine.request("GET", "/metrics", engine.admin_token());
  EXPECT_NE(metrics.raw.find("payengine_http_read_timeouts_total "), std::string::npos);
  EXPECT_EQ(metrics.raw.find("payengine_http_read_timeouts_total 0\n"), std::string::npos);
}

TEST(front, an_idle_keep_alive_connection_is_closed_after_its_timeout) {
  PE_REQUIRE_DATABASE();
  test_database db{"front_keepalive"};
  engine_process engine{db.url(), {{"PAYENGINE_KEEP_ALIVE_TIMEOUT_S", "1"}}};
  engine.start();
  raw_connection c{engine.port()};
  ASSERT_TRUE(c.send(healthz_request()));
  ASSERT_EQ(status_of(c.read_response(std::chrono::seconds{10})), 200);
  bool closed = false;
  c.read_until_closed(std::chrono::seconds{30}, &closed);
  EXPECT_TRUE(closed);
}

TEST(front, a_connection_over_the_cap_is_refused_at_once_and_later_ones_are_served) {
  PE_REQUIRE_DATABASE();
  test_database db{"front_cap"};
  engine_process engine{db.url(), {{"PAYENGINE_HTTP_CONNECTIONS_MAX", "16"},
                                   {"PAYENGINE_KEEP_ALIVE_TIMEOUT_S", "60"}}};
  engine.start();
  std::vector<std::unique_ptr<raw_connection>> held;
  // engine.start() polled /healthz on a keep-alive connection that may still
  // be open: fill up to the cap, then one more must be refused.
  std::string refused;
  for (int i = 0; i < 17 && refused.empty(); ++i) {
    held.push_back(std::make_unique<raw_connection>(engine.port()));
    ASSERT_TRUE(held.back()->send(healthz_request()));
    auto answer = held.back()->read_response(std::chrono::seconds{10});
    if (status_of(answer) == 503)
      refused = answer;
    else
      ASSERT_EQ(status_of(answer), 200) << i << answer;
  }
  ASSERT_FALSE(refused.empty()) << "17 connections were all served with a cap of 16";
  EXPECT_EQ(body_of(refused)["error"]["code"], "too_many_connections") << refused;
  EXPECT_NE(refused.find("Retry-After: "), std::string::npos);
  held.clear(); // the server sees them close
  bool served = false;
  for (int i = 0; i < 100 && !served; ++i) {
    raw_connection again{engine.port()};
    again.send(healthz_request());
    served = status_of(again.read_response(std::chrono::seconds{10})) == 200;
    if (!served)
      std::this_thread::sleep_for(std::chrono::milliseconds{50});
  }
  EXPECT_TRUE(served);
}

TEST(front, a_body_without_a_length_is_not_waited_for) {
  PE_REQUIRE_DATABASE();
  test_database db{"front_nolength"};
  engine_process engine{db.url(), {{"PAYENGINE_REQUEST_READ_TIMEOUT_MS", "60000"}}};
  engine.start();
  for (const char* method : {"PUT", "PATCH", "POST"}) {
    raw_connection c{engine.port()};
    ASSERT_TRUE(c.send(std::string{method} + " /v1/orders HTTP/1.1\r\nHost: x\r\n\r\n"));
    auto answer = c.read_response(std::chrono::seconds{10});
    int status = status_of(answer);
    EXPECT_TRUE(status == 401 || status == 405) << method << ": " << answer;
  }
  // Malformed bytes get a JSON 400 and the connection closes.
  raw_connection bad{engine.port()};
  ASSERT_TRUE(bad.send("NOT HTTP AT ALL\r\n\r\n"));
  bool closed = false;
  auto answer = bad.read_until_closed(std::chrono::seconds{10}, &closed);
  EXPECT_EQ(status_of(answer), 400) << answer;
  EXPECT_EQ(body_of(answer)["error"]["code"], "malformed_http");
  EXPECT_TRUE(closed);
}

/// Waits (bounded) until some session of the test's database waits on a lock.
bool sessions_wait_on_a_lock(const test_database& db, int at_least) {
  for (int i = 0; i < 1'000; ++i) {
    if (std::stoi(db.scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                            " AND wait_event_type = 'Lock'")) >= at_least)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
  return false;
}

TEST(front, past_the_admission_limit_requests_are_refused_at_once_and_change_nothing) {
  PE_REQUIRE_DATABASE();
  test_database db{"front_shed"};
  engine_process engine{db.url(), {{"PAYENGINE_HTTP_INFLIGHT_MIN", "4"},
                                   {"PAYENGINE_HTTP_INFLIGHT_MAX", "4"},
                                   {"PAYENGINE_REQUEST_TIMEOUT_MS", "30000"},
                                   {"PAYENGINE_STORAGE_TIMEOUT_MS", "30000"}}};
  // A long lease: the writer waits on the lock while holding the lease row,
  // and a lapsed lease would fence the held writes (a different test).
  engine.set_args({"--storage-writers", "1", "--db-statement-timeout-ms", "10000",
                   "--lease-ttl-ms", "60000"});
  engine.start();
  const auto key = engine.create_merchant()["api_key"].get<std::string>();
  auto warm = engine.request("POST", "/v1/orders", key, order_body("M-warm").dump());
  ASSERT_EQ(warm.status, 201);
  const auto warm_id = warm.body["id"].get<std::string>();

  // Three creates hang on a lock the test holds: they fill new work's
  // share of the limit (4 less a quarter kept for work in progress).
  pqxx::connection holder{db.url()};
  pqxx::work lock{holder};
  lock.exec("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE");
  std::vector<std::future<testing::http_result>> held;
  for (int i = 0; i < 3; ++i)
    held.push_back(std::async(std::launch::async, [&engine, &key, i] {
      return engine.request("POST", "/v1/orders", key, order_body("M-held-" + std::to_string(i)).dump());
    }));
  ASSERT_TRUE(sessions_wait_on_a_lock(db, 1));
  // Wait until all three are admitted (new work's share is full). A scrape
  // waits up to 2 s for the blocked writer's figures.
  bool full = false;
  for (int i = 0; i < 20 && !full; ++i) {
    auto m = engine.request("GET", "/metrics", engine.admin_token());
    full = m.raw.find("payengine_http_inflight 3\n") != std::string::npos;
    if (!full)
      std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
  ASSERT_TRUE(full);

  int refused = 0;
  for (int i = 0; i < 10; ++i) {
    auto r = engine.request("POST", "/v1/orders", key, order_body("M-shed-" + std::to_string(i)).dump());
    ASSERT_EQ(r.status, 503) << r.raw;
    EXPECT_EQ(r.body["error"]["code"], "overloaded");
    EXPECT_NE(r.headers.find("Retry-After"), r.headers.end());
    auto unchanged = r.headers.find("Payengine-Nothing-Changed");
    ASSERT_NE(unchanged, r.headers.end()) << r.raw;
    EXPECT_EQ(unchanged->second, "true");
    refused++;
  }
  // The reserve: work on an existing order and a channel's notification
  // still get in (the notification is refused by its signature, not shed).
  // At this size both classes have the whole bound; the unit tests
  // (admission_test) tell a notification's room from a read's.
  auto read = engine.request("GET", "/v1/orders/" + warm_id, key);
  EXPECT_EQ(read.status, 200) << read.raw;
  auto notified = engine.request("POST", "/v1/callbacks/alipay", "", "sign=nope", {},
                                 "application/x-www-form-urlencoded");
  EXPECT_NE(notified.status, 503) << notified.raw;
  EXPECT_EQ(notified.raw.find("overloaded"), std::string::npos) << notified.raw;
  // The operator routes are never shed.
  EXPECT_EQ(engine.request("GET", "/healthz", "").status, 200);
  EXPECT_EQ(engine.request("GET", "/admin/actors", engine.admin_token()).status, 200);

  lock.abort();
  for (auto& f : held) {
    auto r = f.get();
    EXPECT_EQ(r.status, 201) << r.raw;
  }
  EXPECT_EQ(db.scalar("SELECT count(*) FROM orders"), "4"); // warm + the three held; none shed
  auto metrics = engine.request("GET", "/metrics", engine.admin_token());
  EXPECT_NE(metrics.raw.find("payengine_http_shed_total{reason=\"overload\"} " + std::to_string(refused)),
            std::string::npos);
  // The operator sees the same in the actor tree (and the console).
  auto front = engine.request("GET", "/admin/actors", engine.admin_token()).body["http_front"];
  EXPECT_EQ(front["shed"]["overload"], refused) << front.dump();
  EXPECT_EQ(front["limit"], 4);
  EXPECT_EQ(front["limit_max"], 4);
  EXPECT_EQ(front["room"]["new_work"], 3) << front.dump();
  EXPECT_EQ(front["room"]["normal"], 4);
  EXPECT_EQ(front["room"]["critical"], 4);
}

} // namespace
} // namespace payengine
