#pragma once
// The order actor: one per live order, the only writer of its row.
//
// What a command, a channel answer or a timer does to the order is decided
// by the pure core (domain/order_decisions.hpp). This actor persists each
// decision through a storage writer (new row version + event, outbox,
// trade and refund rows, one transaction), and only after the commit
// applies it in memory, answers and runs its effects (channel calls).
// While a write is in flight the actor awaits it, so commands to one order
// are strictly serialized by its mailbox.

#include "domain/order_decisions.hpp"
#include "messages/interfaces.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace payengine {

struct order_settings {
  uint32_t idle_ms = 60'000;
  uint32_t storage_timeout_ms = 5'000;
  /// Deadline of one gateway call (the gateway retries within it).
  uint32_t channel_timeout_ms = 60'000;
  /// First back-off before channel work owed is retried (doubles, capped at 32x).
  uint32_t channel_retry_ms = 2'000;
  /// A balance payment's reservation is voided by its wallet after this
  /// unless the order posted it (the order actor died in between).
  uint32_t reservation_timeout_ms = 60'000;
};

/// What an order actor needs to know of the rest of the engine.
struct order_context {
  storage_writer_actor writer;
  order_registry_actor registry;
  /// The configured channels: their gateways, notify URLs and health
  /// (shared by every order of the engine generation; null: none).
  std::shared_ptr<const channel_set> channels;
  order_settings settings;
  inspector_actor inspector; // hears every committed transition
  uint32_t shard = 0;        // the registry shard's index (for the inspector)
  wallet_registry_actor wallets; // the wallets balance payments and top-ups move
  /// Where reads find committed orders without a message (null: nowhere).
  std::shared_ptr<order_read_cache> reads;
  /// Keeps the deadlines of its requests (null: CAF's own timeouts).
  std::shared_ptr<request_timer> timer;
};

struct order_state {
  static inline const char* name = "order";

  enum class phase : uint8_t {
    fresh,   // spawned to create a new order; nothing stored yet
    live,    // `order` mirrors the committed row
    missing, // storage has no such order: every command answers not_found
  };

  struct watcher {
    uint64_t id;
    int64_t after_version;
    std::string merchant_id;
    caf::typed_response_promise<order_reply> promise;
  };

  /// The order's id, held once: in the book (set at spawn, before the
  /// order is created or loaded).
  const std::string& id() const { return book_->order.id; }
  /// Shared by every order actor of the shard (one pointer, not 80 bytes
  /// per actor).
  std::shared_ptr<const order_context> ctx;
  phase current = phase::fresh;
  /// The committed row, the refunds it owes and those settled: what the
  /// core decides on. Valid while the actor handles a message: between
  /// messages an actor that owes nothing hibernates (order_actor_impl).
  domain::order_book& book() { return *book_; }
  const domain::order_book& book() const { return *book_; }
  std::unique_ptr<domain::order_book> book_ = std::make_unique<domain::order_book>();
  /// While hibernating: the committed row, serialized (about 200 bytes
  /// instead of about 900 for the book and its strings); book_ is null.
  std::vector<char> hibernated;
  std::vector<watcher> watchers;
  uint64_t next_watcher_id = 1;
  bool expiry_armed = false;
  std::chrono::steady_clock::time_point last_active;
  /// Channel work owed (a trade to open, refunds to execute) is retried on
  /// a timer with back-off; the reconciler and the next activation also
  /// drive it, from storage.
  bool retry_armed = false;
  uint32_t retry_round = 0;
  bool opening_trade = false;
  /// The attempt whose open got no answer (its trade may exist at the
  /// channel): a later "not sent" (breaker open, bucket empty) for it says
  /// nothing about that first send. 0: none. Memory only: after a restart
  /// the reconciler queries open attempts anyway.
  int32_t open_in_doubt = 0;
  uint32_t channel_calls = 0; // gateway requests whose replies are still due
  uint32_t wallet_calls = 0;  // wallet requests whose replies are still due
};

using order_self = order_actor::stateful_pointer<order_state>;

/// The order actor. Two things keep a live order small (issue 15: 2 KB
/// each, a million live orders in 2 GB):
/// - Every order actor runs the same behavior, built once (a behavior of
///   its 16 handlers is 688 bytes). Its handlers find the actor they run for with
///   order_detail::running(), which consume() sets for each message.
/// - Between messages, an actor with an empty mailbox that owes no refund
///   hibernates, as Erlang processes do: its book is serialized, and
///   consume() brings it back before the next message (a few
///   microseconds).
///
/// `load_from_storage`: activation of an existing order (its first act is
/// to read the row); otherwise the actor waits for its create_order.
class order_actor_impl : public order_actor::stateful_base<order_state> {
public:
  using super = order_actor::stateful_base<order_state>;

  order_actor_impl(caf::actor_config& cfg, std::string id,
                   std::shared_ptr<const order_context> ctx, bool load_from_storage);

  behavior_type make_behavior() override;

  using super::consume;
  caf::invoke_message_result consume(caf::mailbox_element& x) override;

private:
  /// Whether the actor may keep only the row's bytes until its next message.
  bool may_hibernate();
  void hibernate();
  /// Restores the book; false if the bytes do not read back (a bug).
  bool wake_up();

  bool load_;
};

} // namespace payengine
