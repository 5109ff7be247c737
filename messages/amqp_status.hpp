#pragma once
// What the RabbitMQ relay and fulfillment consumer report (API.md "Events on
// RabbitMQ"): a snapshot each of them refreshes after every step, read by
// /metrics, /admin/actors and the console without asking the actors (they
// are detached and may be inside a bounded blocking call when asked).

#include "messages/order.hpp"

#include <cstdint>
#include <mutex>
#include <string>

namespace payengine {

struct relay_info {
  std::string broker;          // host:port/vhost, no credentials
  bool connected = false;
  uint64_t published = 0;      // confirmed by the broker and marked in PostgreSQL
  uint64_t nacked = 0;         // the broker refused: published again
  uint64_t reconnects = 0;     // connections opened after the first
  uint64_t confirm_timeouts = 0;
  uint32_t in_flight = 0;      // sent, not confirmed yet
  uint32_t awaiting_mark = 0;  // confirmed, not yet marked published (database)
  uint32_t in_flight_max = 0;
  uint64_t unpublished = 0;    // events not confirmed yet, every shard (database, capped)
  timestamp_us oldest_unpublished_at = 0; // the oldest of those; 0: none
  timestamp_us lag_checked_at = 0;        // when those two were read; 0: never
  std::string last_error;      // the last broker or database failure
  timestamp_us last_error_at = 0;
};

struct consumer_info {
  std::string queue;
  bool connected = false;
  uint32_t prefetch = 0;
  uint32_t unacked = 0;         // delivered, being applied or held
  uint64_t received = 0;
  uint64_t applied = 0;         // committed, then acknowledged
  uint64_t duplicates = 0;      // the order already had that stage: acknowledged
  uint64_t dead_lettered = 0;   // to payengine.fulfillment.dead
  uint64_t requeued = 0;        // given back after a delay (storage, another node's shard)
  uint64_t reconnects = 0;
  std::string last_error;
  timestamp_us last_error_at = 0;
};

/// Shared by the two actors (writers) and the HTTP threads (readers).
class amqp_status {
public:
  void set(const relay_info& r) {
    std::lock_guard<std::mutex> guard{mtx_};
    relay_ = r;
  }
  void set(const consumer_info& c) {
    std::lock_guard<std::mutex> guard{mtx_};
    consumer_ = c;
  }
  relay_info relay() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return relay_;
  }
  consumer_info consumer() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return consumer_;
  }

private:
  mutable std::mutex mtx_;
  relay_info relay_;
  consumer_info consumer_;
};

} // namespace payengine
