#pragma once
// An order registry shard: maps order ids (hash(id) % shards) to live order
// actors. It activates an order from storage on its first message,
// monitors it, restarts it from storage when it crashes (up to a limit),
// passivates idle ones and evicts the least recently used beyond its share
// of live_orders_max.

#include "actors/order.hpp"
#include "messages/cluster.hpp"
#include "messages/interfaces.hpp"

#include <caf/actor_addr.hpp>

#include <algorithm>
#include <chrono>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace payengine {

struct registry_settings {
  uint32_t index = 0;
  uint32_t count = 1; // registry shards in this engine (index < count)
  uint32_t live_max = 50'000;
  uint32_t restarts_max = 5; // restarts of one order within the window
  uint32_t restart_window_ms = 600'000;
  order_settings order;
  wallet_registry_actor wallets; // pays from balance, credits top-ups
  /// This node's shards (several nodes); null: it owns every order.
  std::shared_ptr<const shard_map> cluster;
  /// Committed orders kept for reads (actors/read_cache.hpp); null: none.
  std::shared_ptr<order_read_cache> reads;
  /// Deadlines of the order actors' requests (null: CAF's own timeouts).
  std::shared_ptr<request_timer> timer;
  /// The idle sweep asks at most this many order actors per tick; while
  /// more are due, it looks again after idle_sweep_pace_ms (see
  /// plan_idle_sweep).
  uint32_t idle_sweep_batch = 32;
  uint32_t idle_sweep_pace_ms = 10;
};

/// How often a shard looks for idle order actors when none is waiting to
/// be asked: a quarter of the idle time, so an actor is asked between 1 and
/// 1.25 idle times after it was last routed to, plus, behind a burst of
/// others due, a batch's pace per idle_sweep_batch of them ahead of it.
inline std::chrono::milliseconds idle_sweep_interval(const registry_settings& s) {
  return std::chrono::milliseconds{std::max<uint32_t>(10, s.order.idle_ms / 4)};
}

/// One tick of a shard's idle sweep, decided without CAF.
struct idle_sweep_plan {
  /// How many of the least recently routed order actors to ask now
  /// whether they may passivate.
  size_t ask = 0;
  /// When to look again: idle_sweep_pace_ms while more are due, else a
  /// quarter of the idle time.
  std::chrono::milliseconds next{0};
};

/// Walks the LRU from its front (least recently routed first) while
/// `is_due(*it)` (idle for the idle time) and stops at the first that is
/// not. At most `idle_sweep_batch` are asked per tick. Orders created in
/// one burst go idle in one burst; asked all at once, tens of thousands of
/// them stood in the scheduler's queue ahead of live requests, which then
/// waited hundreds of milliseconds (docs/benchmarks.md, "Passivations
/// spread over time").
template <class It, class IsDue>
idle_sweep_plan plan_idle_sweep(It first, It last, IsDue is_due, const registry_settings& s) {
  const size_t batch = std::max<uint32_t>(1, s.idle_sweep_batch);
  idle_sweep_plan plan;
  for (; first != last && is_due(*first); ++first) {
    if (plan.ask == batch) { // one more is due beyond the batch
      plan.next = std::chrono::milliseconds{std::max<uint32_t>(1, s.idle_sweep_pace_ms)};
      return plan;
    }
    plan.ask++;
  }
  plan.next = idle_sweep_interval(s);
  return plan;
}

/// An order actor's crashes, as its shard counts them.
struct restart_record {
  uint32_t count = 0;  // since the engine started (shown to operators)
  uint32_t recent = 0; // within the restart window (what the limit counts)
  std::chrono::steady_clock::time_point last_at;
  std::string last_reason;
};

/// Counts a crash at `now`; true if the actor may be restarted at once
/// (at most `max` within `window`; crashes older than the window are
/// forgotten). Beyond it the order is only activated again on demand.
bool note_crash(restart_record& rec, std::chrono::steady_clock::time_point now,
                std::chrono::milliseconds window, uint32_t max);

struct order_registry_state {
  static inline const char* name = "order_registry";

  struct entry {
    order_actor handle;
    bool passivating = false;
    /// Messages that arrived while the actor was passivating; replayed to
    /// its successor once the old one is gone.
    std::vector<std::function<void(const order_actor&)>> held;
    std::list<const std::string*>::iterator lru_pos;
    /// When it was last routed to, or last asked whether it is idle.
    std::chrono::steady_clock::time_point last_routed;
  };

  registry_settings settings;
  storage_writer_actor writer;
  std::shared_ptr<const channel_set> channels; // the configured channels' gateways
  inspector_actor inspector;
  /// What every order actor of the shard is given (made at the first spawn).
  std::shared_ptr<const order_context> order_ctx;
  // An order's id is held once, as its key in `live`: `lru` and
  // `ids_by_actor` point at that key (a node's key does not move).
  std::unordered_map<std::string, entry> live;
  std::unordered_map<caf::actor_id, const std::string*> ids_by_actor;
  /// Least recently routed first; passivating ones are not in it. The idle
  /// sweep walks it from the front (see on_idle_sweep).
  std::list<const std::string*> lru;
  std::unordered_map<std::string, restart_record> restarts; // bounded, see remember_restart
  shard_info counters;
};

using order_registry_self = order_registry_actor::stateful_pointer<order_registry_state>;

order_registry_actor::behavior_type
order_registry_impl(order_registry_self self, registry_settings settings,
                    storage_writer_actor writer, std::shared_ptr<const channel_set> channels,
                    inspector_actor inspector);

} // namespace payengine
