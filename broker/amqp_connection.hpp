#pragma once
// One blocking AMQP 0-9-1 connection with one channel (rabbitmq-c), for the
// detached actors that publish merchant events and consume fulfillment
// updates. Every call is bounded: the TCP connect, the handshake and each
// RPC by their timeouts, each socket write by SO_SNDTIMEO, each wait by its
// argument. Nothing throws: a failure is a non-empty error string, after
// which the connection is broken and is to be dropped (rabbitmq-c does not
// reconnect; the owner opens a new one with back-off).

#include "broker/amqp_url.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace payengine::broker {

struct amqp_limits {
  uint32_t connect_timeout_ms = 1'000; // TCP connect
  uint32_t rpc_timeout_ms = 2'000;     // the handshake and each synchronous method
  uint32_t write_timeout_ms = 2'000;   // one socket write (a broker that stopped reading)
  uint16_t heartbeat_s = 10;           // served inside next(): call it at least this often
};

/// Properties of a published message; every one is persistent.
struct amqp_properties {
  std::string message_id;
  std::string type;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers; // string values
};

// --- what next() returns ------------------------------------------------------
struct amqp_idle {}; // nothing within the wait
/// A publisher confirm: `tag` (and, with `multiple`, every tag before it).
struct amqp_confirm {
  uint64_t tag = 0;
  bool multiple = false;
  bool ack = true; // false: nack, the broker did not take it
};
/// A consumed message, to be acknowledged (or rejected) by `tag`.
struct amqp_delivery {
  uint64_t tag = 0;
  bool redelivered = false;
  std::string body;
  std::string message_id;
};
/// The broker closed the channel or the connection, or the socket failed.
struct amqp_broken {
  std::string reason;
};
using amqp_event = std::variant<amqp_idle, amqp_confirm, amqp_delivery, amqp_broken>;

class amqp_connection {
public:
  /// Connects, logs in, opens channel 1 and runs `setup` on it (declares,
  /// confirm.select, consume: what it returns non-empty is the error).
  using setup_fn = std::function<std::string(amqp_connection&)>;
  static std::variant<std::unique_ptr<amqp_connection>, std::string>
  open(const amqp_endpoint& where, const amqp_limits& limits, const setup_fn& setup);
  ~amqp_connection();
  amqp_connection(const amqp_connection&) = delete;
  amqp_connection& operator=(const amqp_connection&) = delete;

  /// A durable exchange (e.g. "topic") / durable queue / binding.
  [[nodiscard]] std::string declare_exchange(const std::string& name, const std::string& type);
  [[nodiscard]] std::string declare_queue(const std::string& name);
  [[nodiscard]] std::string bind_queue(const std::string& queue, const std::string& exchange,
                                       const std::string& key);
  /// Publisher confirms on: the n-th publish from here on has confirm tag n.
  [[nodiscard]] std::string confirm_select();
  /// At most `prefetch` unacknowledged deliveries, then consume `queue`
  /// with manual acknowledgements.
  [[nodiscard]] std::string consume(const std::string& queue, uint16_t prefetch);

  /// Sends one persistent message (not mandatory: a message no queue is
  /// bound for is still confirmed). With confirms on, its tag is published().
  [[nodiscard]] std::string publish(const std::string& exchange, const std::string& routing_key,
                                    const std::string& body, const amqp_properties& props);
  uint64_t published() const { return published_; }

  [[nodiscard]] std::string ack(uint64_t delivery_tag);
  /// Gives a delivery back: to the queue (`requeue`) or dropped.
  [[nodiscard]] std::string reject(uint64_t delivery_tag, bool requeue);

  /// The next confirm or delivery, waiting at most `wait_ms` (0: only what
  /// has arrived). Heartbeats are answered here.
  amqp_event next(uint32_t wait_ms);

  bool broken() const { return !broken_reason_.empty(); }

private:
  explicit amqp_connection(void* state);
  std::string fail(std::string reason);
  std::string rpc_result(const char* what);
  amqp_event read_delivery(uint16_t channel, uint64_t tag, bool redelivered);

  void* conn_; // amqp_connection_state_t
  uint64_t published_ = 0;
  std::string broken_reason_;
  bool channel_open_ = false;
};

} // namespace payengine::broker
