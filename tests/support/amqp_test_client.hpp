#pragma once
// The throwaway RabbitMQ of scripts/test.sh, and a small AMQP client for the
// tests written straight on rabbitmq-c (not on the engine's broker/ code, so
// that a bug there cannot hide itself in the tests).

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace payengine::testing {

/// PAYENGINE_TEST_AMQP_URL (amqp://guest:guest@127.0.0.1:PORT/), or empty.
std::string test_amqp_url();

/// Runs the broker's rabbitmqctl (PAYENGINE_TEST_RABBITMQCTL) with `args`,
/// e.g. "stop_app"; true if it exited 0.
bool rabbitmqctl(const std::string& args);

struct amqp_message {
  std::string queue;
  std::string exchange;
  std::string routing_key;
  std::string body;
  std::string message_id;
  std::string type;
  int delivery_mode = 0; // 2: persistent
  std::map<std::string, std::string> headers; // string values only
  bool redelivered = false;
  std::chrono::system_clock::time_point received_at;
};

class amqp_test_client {
public:
  /// Connects (the test fails if it cannot).
  explicit amqp_test_client(const std::string& url);
  ~amqp_test_client();
  amqp_test_client(const amqp_test_client&) = delete;
  amqp_test_client& operator=(const amqp_test_client&) = delete;

  bool ok() const { return conn_ != nullptr; }

  /// Durable topic exchange / durable queue (as the engine declares them).
  void declare_exchange(const std::string& name);
  void declare_queue(const std::string& name);
  void bind(const std::string& queue, const std::string& exchange, const std::string& key);
  void purge(const std::string& queue);
  void delete_queue(const std::string& queue);

  /// A persistent message with publisher confirms: returns after the confirm.
  void publish(const std::string& exchange, const std::string& routing_key, const std::string& body,
               const std::string& message_id = {});

  /// Consumes `queue` (acknowledged on receipt) until `n` messages came or
  /// `limit` passed; returns what came. Messages of other consumed queues
  /// that arrive meanwhile are kept for their own take().
  std::vector<amqp_message> take(const std::string& queue, size_t n, std::chrono::milliseconds limit);

  /// How many messages are ready in `queue` now (passive declare).
  uint32_t ready(const std::string& queue);

private:
  void check(const char* what);
  void* conn_ = nullptr; // amqp_connection_state_t
  std::map<std::string, std::string> consumers_; // consumer tag -> queue
  std::map<std::string, std::vector<amqp_message>> buffered_; // by queue
  uint64_t published_ = 0;
};

} // namespace payengine::testing

/// Skips the current test when no broker is configured.
#define PE_REQUIRE_BROKER()                                                     \
  do {                                                                          \
    if (::payengine::testing::test_amqp_url().empty())                          \
      GTEST_SKIP() << "PAYENGINE_TEST_AMQP_URL is not set (run scripts/test.sh)"; \
  } while (false)
