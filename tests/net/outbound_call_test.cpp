// One bounded outbound call: the address connected to is a checked one,
// the deadline is total, the answer is capped.
#include "net/outbound_call.hpp"
#include "tests/support/raw_http_server.hpp"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace payengine::net {
namespace {

using namespace std::chrono_literals;
using testing::raw_http_server;
using clock_type = std::chrono::steady_clock;

address_policy loopback_allowed() {
  return std::get<address_policy>(address_policy::parse("127.0.0.0/8"));
}

/// Answers every request with 200 and `body`; remembers the last Host header.
struct answering_server {
  explicit answering_server(std::string body = "ok")
    : server([this, body](int fd) {
        auto req = testing::read_http_request(fd);
        auto at = req.find("Host: ");
        {
          std::lock_guard lock{mtx};
          host = req.substr(at + 6, req.find("\r\n", at) - at - 6);
        }
        testing::send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size())
                                + "\r\nConnection: close\r\n\r\n" + body);
      }) {}

  std::string last_host() {
    std::lock_guard lock{mtx};
    return host;
  }

  std::mutex mtx;
  std::string host;
  raw_http_server server;
};

call_request post_to(const std::string& url) {
  call_request r;
  r.url = url;
  r.body = "{}";
  return r;
}

TEST(outbound_call, loopback_is_not_connected_to_without_the_allow_list) {
  answering_server s;
  outbound_caller caller{address_policy{}, call_limits{}};
  for (auto host : {"127.0.0.1", "localhost", "127.1", "[::ffff:127.0.0.1]"}) {
    auto r = caller.call(post_to("http://" + std::string{host} + ":" + std::to_string(s.server.port()) + "/hook"));
    EXPECT_EQ(r.failure, call_failure::address_forbidden) << host << ": " << r.error;
    EXPECT_EQ(r.error.rfind("address_forbidden: ", 0), 0u) << r.error;
    EXPECT_EQ(r.status, 0);
  }
  EXPECT_EQ(s.server.connections(), 0);
}

TEST(outbound_call, a_hostname_goes_to_its_checked_address_with_its_own_host_header) {
  answering_server s;
  outbound_caller caller{loopback_allowed(), call_limits{}};
  auto port = std::to_string(s.server.port());
  auto r = caller.call(post_to("http://localhost:" + port + "/hook"));
  ASSERT_TRUE(r.answered()) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok");
  EXPECT_EQ(r.peer, "127.0.0.1"); // ::1 is not in the allow list: skipped
  EXPECT_EQ(s.last_host(), "localhost:" + port);
}

TEST(outbound_call, a_dripping_answer_is_cut_at_the_total_deadline) {
  // One byte every 300 ms, of the headers or of the body: each read
  // succeeds long before any per-read timeout.
  const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
  raw_http_server slow_head{[&head](int fd) {
    testing::read_http_request(fd);
    testing::drip(fd, head + std::string(100, 'x'), 300ms);
  }};
  raw_http_server slow_body{[&head](int fd) {
    testing::read_http_request(fd);
    testing::send_all(fd, head);
    testing::drip(fd, std::string(100, 'x'), 300ms);
  }};
  call_limits limits;
  limits.deadline_ms = 800;
  limits.keep_alive = true; // the cut connection is not reused
  outbound_caller caller{loopback_allowed(), limits};
  for (int port : {slow_head.port(), slow_body.port()}) {
    auto started = clock_type::now();
    auto r = caller.call(post_to("http://127.0.0.1:" + std::to_string(port) + "/"));
    auto took = clock_type::now() - started;
    EXPECT_EQ(r.failure, call_failure::deadline_exceeded) << r.error;
    EXPECT_LT(took, 3s) << "cut long after the deadline";
    EXPECT_GE(took, 700ms);
  }
  // The caller is ready for the next call.
  answering_server s;
  EXPECT_TRUE(caller.call(post_to("http://127.0.0.1:" + std::to_string(s.server.port()) + "/")).answered());
}

// One watchdog thread serves every caller: calls running at once are each
// cut at their own deadline (never before it), and a caller whose calls
// answer goes on untouched meanwhile.
TEST(outbound_call, callers_at_once_are_each_cut_at_their_own_deadline) {
  raw_http_server dripping{[](int fd) {
    testing::read_http_request(fd);
    testing::drip(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + std::string(100, 'x'), 200ms);
  }};
  answering_server s;
  auto cut_after = [&](uint32_t deadline_ms, clock_type::duration& took, call_failure& failure) {
    call_limits limits;
    limits.deadline_ms = deadline_ms;
    outbound_caller caller{loopback_allowed(), limits};
    auto started = clock_type::now();
    failure = caller.call(post_to("http://127.0.0.1:" + std::to_string(dripping.port()) + "/")).failure;
    took = clock_type::now() - started;
  };
  clock_type::duration short_took{}, long_took{};
  call_failure short_failure{}, long_failure{};
  std::thread short_call{[&] { cut_after(500, short_took, short_failure); }};
  std::thread long_call{[&] { cut_after(1'500, long_took, long_failure); }};
  outbound_caller quick{loopback_allowed(), call_limits{}};
  int answered = 0;
  for (int i = 0; i < 20; ++i)
    answered += quick.call(post_to("http://127.0.0.1:" + std::to_string(s.server.port()) + "/")).answered();
  short_call.join();
  long_call.join();
  EXPECT_EQ(answered, 20);
  EXPECT_EQ(short_failure, call_failure::deadline_exceeded);
  EXPECT_EQ(long_failure, call_failure::deadline_exceeded);
  EXPECT_GE(short_took, 500ms);
  EXPECT_GE(long_took, 1'500ms);
  EXPECT_LT(short_took, 3s) << "cut long after the deadline";
  EXPECT_LT(long_took, 4s) << "cut long after the deadline";
}

TEST(outbound_call, a_body_over_the_cap_fails_whether_declared_or_streamed) {
  const std::string big(10'000, 'x');
  raw_http_server declared{[&big](int fd) {
    testing::read_http_request(fd);
    testing::send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 10000\r\n\r\n" + big);
  }};
  raw_http_server streamed{[&big](int fd) { // no length: until the connection closes
    testing::read_http_request(fd);
    testing::send_all(fd, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + big);
    ::shutdown(fd, SHUT_WR);
  }};
  call_limits limits;
  limits.response_max_bytes = 4'096;
  outbound_caller caller{loopback_allowed(), limits};
  for (int port : {declared.port(), streamed.port()}) {
    auto r = caller.call(post_to("http://127.0.0.1:" + std::to_string(port) + "/"));
    EXPECT_EQ(r.failure, call_failure::response_too_large) << r.error;
  }
  limits.response_max_bytes = 10'000; // exactly at the cap: fine
  outbound_caller roomy{loopback_allowed(), limits};
  auto r = roomy.call(post_to("http://127.0.0.1:" + std::to_string(declared.port()) + "/"));
  ASSERT_TRUE(r.answered()) << r.error;
  EXPECT_EQ(r.body.size(), 10'000u);
}

TEST(outbound_call, endless_headers_are_cut_by_the_byte_budget_not_the_deadline) {
  std::atomic<size_t> sent{0};
  raw_http_server flooding{[&sent](int fd) {
    testing::read_http_request(fd);
    testing::send_all(fd, "HTTP/1.1 200 OK\r\n");
    std::string lines;
    for (int i = 0; i < 64; ++i)
      lines += "X-Filler: " + std::string(1'000, 'a') + "\r\n";
    for (int i = 0; i < 2'000 && ::send(fd, lines.data(), lines.size(), MSG_NOSIGNAL) > 0; ++i)
      sent += lines.size();
  }};
  call_limits limits;
  limits.response_max_bytes = 4'096;
  limits.deadline_ms = 10'000;
  outbound_caller caller{loopback_allowed(), limits};
  auto started = clock_type::now();
  auto r = caller.call(post_to("http://127.0.0.1:" + std::to_string(flooding.port()) + "/"));
  auto took = clock_type::now() - started;
  EXPECT_EQ(r.failure, call_failure::response_too_large) << r.error;
  EXPECT_LT(took, 5s);
  RecordProperty("header_flood_bytes_sent", static_cast<int>(sent.load()));
  RecordProperty("header_flood_ms", static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
}

TEST(outbound_call, unusable_targets_are_failures_not_exceptions) {
  outbound_caller caller{loopback_allowed(), call_limits{}};
  for (auto url : {"", "ftp://x/", "http://", "http://h:99999/", "http://h:abc/"})
    EXPECT_EQ(caller.call(post_to(url)).failure, call_failure::invalid_target) << url;
  auto unknown = caller.call(post_to("http://no-such-host.invalid/")).failure;
  EXPECT_TRUE(unknown == call_failure::dns_failed || unknown == call_failure::deadline_exceeded);
  // Nothing listens on port 9 of loopback: refused, a transport failure.
  EXPECT_EQ(caller.call(post_to("http://127.0.0.1:9/")).failure, call_failure::transport);
}

TEST(outbound_call, a_kept_alive_connection_is_reused_for_the_same_origin) {
  raw_http_server keeping{[](int fd) { // answers on the same connection until it closes
    while (!testing::read_http_request(fd).empty())
      testing::send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nfine");
  }};
  {
    call_limits limits;
    limits.keep_alive = true;
    outbound_caller caller{loopback_allowed(), limits};
    for (int i = 0; i < 3; ++i) {
      auto r = caller.call(post_to("http://127.0.0.1:" + std::to_string(keeping.port()) + "/x"));
      EXPECT_EQ(r.status, 200) << r.error;
      EXPECT_EQ(r.body, "fine");
    }
  }
  EXPECT_EQ(keeping.connections(), 1);
}

// A server that closes a kept-alive connection while it is idle (its own
// keep-alive timeout): the next call goes on a new connection and answers,
// never a failed call on the dead one.
TEST(outbound_call, a_kept_alive_connection_the_server_closed_is_replaced) {
  std::atomic<int> closed{0};
  raw_http_server closing{[&closed](int fd) { // one answer per connection, then it closes
    if (!testing::read_http_request(fd).empty())
      testing::send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nfine");
    ::shutdown(fd, SHUT_RDWR);
    closed++;
  }};
  call_limits limits;
  limits.keep_alive = true;
  outbound_caller caller{loopback_allowed(), limits};
  for (int i = 0; i < 3; ++i) {
    auto r = caller.call(post_to("http://127.0.0.1:" + std::to_string(closing.port()) + "/x"));
    EXPECT_EQ(r.status, 200) << i << ": " << r.error;
    for (int j = 0; j < 2'000 && closed.load() <= i; ++j) // closed while idle
      std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(closing.connections(), 3);
}

} // namespace
} // namespace payengine::net
