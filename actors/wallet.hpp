#pragma once
// The wallet actor: one per live wallet, the only writer of its ledger
// account on this node.
//
// What an operation does to the wallet is decided by the pure core
// (domain/wallet_decisions.hpp). Operations that arrive while a write is in
// flight wait in the actor's queue; the next write decides them all, in
// order, against the balance the earlier ones leave, and commits them in
// one transaction: a hot wallet costs one round trip per batch where a
// row lock would cost one per payment. Each operation is answered only
// after its batch has committed.
//
// The account row carries an optimistic version, so a second writer (the
// same wallet live on another node, or a successor spawned while this one
// finished its last write) is detected, not trusted: the write is refused,
// the actor reloads and decides again. Transfer ids are derived from what
// caused them: an id found in storage means "done before", never twice.

#include "domain/wallet_decisions.hpp"
#include "messages/interfaces.hpp"

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace payengine {

/// Shared by a node's wallet actors and their registry (for /metrics).
struct wallet_counters {
  std::atomic<uint64_t> activations{0};
  std::atomic<uint64_t> ops{0};
  std::atomic<uint64_t> writes{0};
  std::atomic<uint64_t> max_batch{0};
  std::atomic<uint64_t> conflicts{0};
  std::atomic<uint64_t> refused{0};
  std::atomic<uint64_t> expired_voids{0};
  std::atomic<int64_t> queued{0};
};

struct wallet_settings {
  uint32_t idle_ms = 60'000;
  uint32_t storage_timeout_ms = 5'000;
  uint32_t batch_max = 256;
  /// Operations a wallet queues beyond which it refuses new ones (overloaded).
  uint32_t queue_max = 4'096;
};

struct wallet_context {
  storage_writer_actor writer;
  wallet_registry_actor registry;
  wallet_settings settings;
  std::shared_ptr<wallet_counters> counters;
  /// Keeps the deadlines of its storage requests (null: CAF's own timeouts).
  std::shared_ptr<request_timer> timer;
};

struct wallet_state {
  static inline const char* name = "wallet";

  enum class phase : uint8_t { loading, live, missing };

  struct queued_op {
    wallet_op op;
    /// Empty: the actor's own operation (a reservation's timeout).
    std::optional<caf::typed_response_promise<wallet_reply>> promise;
  };

  std::string id;
  wallet_context ctx;
  phase current = phase::loading;
  domain::wallet_book book; // as committed
  std::deque<queued_op> queue;
  bool busy = false;     // a write or a load is in flight
  bool stopping = false; // the registry forgot this actor: quit once drained
  uint32_t reloads = 0;  // consecutive conflicts
  std::set<std::string> looked_up; // reservations asked of storage for this batch
  timestamp_us timer_at = 0;
  std::chrono::steady_clock::time_point last_active;
};

using wallet_self = wallet_actor::stateful_pointer<wallet_state>;

wallet_actor::behavior_type wallet_impl(wallet_self self, std::string id, wallet_context ctx);

} // namespace payengine
