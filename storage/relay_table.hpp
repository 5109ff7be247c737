#pragma once
// The relay's view of merchant_events (migration 010): the committed events
// the broker has not confirmed yet, and marking them published. The relay
// owns one connection of its own (it is a detached actor, apart from the
// storage writers, so that a slow broker never holds a writer); every pqxx
// exception ends here as an error value.

#include "messages/order.hpp"
#include "storage/database.hpp"

#include <optional>
#include <string>
#include <vector>

namespace payengine::storage {

/// One committed merchant event, with the body its webhook carries.
struct outbox_event {
  std::string id; // evt_...: the message_id
  int64_t seq = 0;
  std::string merchant_id;
  std::string order_id;
  std::string type;
  timestamp_us created_at = 0;
  std::string body; // the event object, byte for byte the webhook's body
};

struct relay_lag {
  uint64_t unpublished = 0;        // counted up to a cap
  timestamp_us oldest_created_at = 0; // 0: none
};

class relay_store {
public:
  relay_store(std::string database_url, session_limits limits);
  ~relay_store();
  relay_store(const relay_store&) = delete;
  relay_store& operator=(const relay_store&) = delete;

  /// Unpublished events with seq > `after_seq`, in seq order; nothing (see
  /// error()) when the database failed.
  std::optional<std::vector<outbox_event>> unpublished(int64_t after_seq, uint32_t limit);
  /// Marks the events published now; false when the database failed.
  bool mark_published(const std::vector<std::string>& event_ids);
  /// The backlog (counted up to `count_max`) and its oldest event.
  std::optional<relay_lag> lag(uint64_t count_max);

  bool connected() const { return conn_ != nullptr; }
  const std::string& error() const { return error_; }

private:
  bool ensure_connected();
  void failed(const std::exception& e);

  std::string url_;
  session_limits limits_;
  std::unique_ptr<pqxx::connection> conn_;
  std::string error_;
};

} // namespace payengine::storage
