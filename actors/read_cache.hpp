#pragma once
// Committed orders as GET /v1/orders/{id} shows them, kept where the event
// loop can answer a read without a message to the order's actor.
//
// The cache has one writer per order, the order's live actor, and holds
// nothing it did not put there:
// - an actor answering a read offers its committed row (offer);
// - after each commit, and after loading, it replaces what is kept, if
//   anything is, before it answers the write (refresh), so a client that
//   got a 2xx for a write reads that write here;
// - when the actor stops, for any reason, its registry shard removes its
//   entry (forget). Entries carry the actor that made them: a successor's
//   entry stays. Until the successor's first commit refreshes it, an entry
//   left by its predecessor still shows the last committed row.
// With several nodes an entry also carries the shard's epoch at the time it
// was kept, and is answered only while this node still holds that shard
// under that epoch by its own clock: the same window in which its actors
// may write (API.md "Several nodes").
//
// Bounded: at most `capacity` entries, least recently read out first.
// Pure: no CAF, no I/O (tests/actors/read_cache_test.cpp).

#include "messages/order.hpp"

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace payengine {

class shard_map;

class order_read_cache {
public:
  using body = std::shared_ptr<const std::string>;

  /// `cluster`: this node's shards (null: it owns every order).
  order_read_cache(size_t capacity, std::shared_ptr<const shard_map> cluster);

  /// The live actor `owner` answered a read of its committed row `o`.
  void offer(const order_record& o, uint64_t owner);
  /// The live actor `owner` committed (or loaded) `o`: an entry of the
  /// order, if any, now shows it.
  void refresh(const order_record& o, uint64_t owner);
  /// The actor `owner` of `order_id` stopped: its entry goes.
  void forget(const std::string& order_id, uint64_t owner);

  /// The order's JSON for `merchant_id`; null when not kept, kept for
  /// another merchant, or its shard's epoch moved on.
  body find(const std::string& order_id, const std::string& merchant_id);

  struct stats {
    size_t entries = 0;
    size_t capacity = 0;
    uint64_t hits = 0;
    uint64_t misses = 0;
    uint64_t evictions = 0;
  };
  stats snapshot() const;

  /// The body kept for an order (what send_json would write for it).
  static std::string render(const order_record& o);

private:
  struct entry {
    std::string merchant_id;
    int64_t version = 0;
    uint64_t owner = 0; // the order actor's id
    uint64_t epoch = 0; // the shard's epoch when kept (0: no cluster)
    body json;
    std::list<const std::string*>::iterator lru_pos;
  };

  /// The epoch under which this node holds the order's shard now; 0 with
  /// several nodes and the shard not held (nothing may be kept or read).
  uint64_t epoch_of(const std::string& order_id) const;
  /// Puts `e` for `id` (the lock held); evicts beyond the capacity.
  void put_locked(const std::string& id, entry e);

  const size_t capacity_;
  const std::shared_ptr<const shard_map> cluster_;
  mutable std::mutex mtx_;
  std::unordered_map<std::string, entry> entries_;
  std::list<const std::string*> lru_; // most recently read first; keys of entries_
  stats counts_;
};

} // namespace payengine
