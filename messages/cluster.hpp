#pragma once
// Several nodes on one database (API.md "Several nodes"): which shard an
// order belongs to, which live node should own a shard, and what this node
// owns right now.
//
// The shard of an order is derived from its id alone (FNV-1a, the same hash
// as the registry's shard_index), so it never changes. Ownership is kept in
// PostgreSQL (storage/cluster_table.cpp) by the lease keeper
// (actors/lease_keeper.cpp); `shard_map` is this process's view of it,
// shared by the keeper (writes), the storage writers (fencing epochs), the
// registries (activation) and the HTTP threads (routing). An owned shard
// carries a deadline on this process's monotonic clock, before the lease
// can expire in the database: past it the shard counts as lost at once,
// whatever the keeper is doing.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace payengine {

/// The cluster shard of an order id: fnv1a64(id) % shards, forever.
uint32_t cluster_shard_of(std::string_view order_id, uint32_t shards);

/// The live node meant to own each of `shards` shards: rendezvous hashing
/// with a bound on load. Every (node, shard) pair has a weight,
/// hash(node, shard); heaviest pair first, a shard goes to the pair's node
/// unless it has an owner already or the node holds its even share (and
/// the share's one spare, while one is left). So each node owns
/// floor(shards / nodes) or one more (plain rendezvous, each shard to its
/// heaviest node, gave three nodes 16, 29 and 19 of 64). A node that
/// leaves moves its own shards and a few others (1.35 of 64 on average for
/// three nodes, over 200 random sets of names); a node
/// that comes back gets the same shards back. Every node computes the same
/// owners from the same nodes, listed in any order. Empty names when no
/// node is live.
std::vector<std::string> shard_owners(uint32_t shards, const std::vector<std::string>& live_nodes);

class shard_map {
public:
  using clock = std::chrono::steady_clock;

  /// Who owns a shard, as last read from the database (for routing).
  struct owner_info {
    std::string node;
    std::string url;
    uint64_t epoch = 0;
  };

  shard_map(std::string node_id, std::string internal_url, uint32_t shards);

  const std::string& node_id() const { return node_id_; }
  const std::string& internal_url() const { return internal_url_; }
  uint32_t shards() const { return shards_; }
  uint32_t shard_of(std::string_view order_id) const {
    return cluster_shard_of(order_id, shards_);
  }

  /// The epoch under which this node may write `shard` now; 0 when it does
  /// not own it (or its lease ran out by the local clock).
  uint64_t epoch(uint32_t shard) const;
  bool owns(uint32_t shard) const { return epoch(shard) != 0; }
  bool owns_order(std::string_view order_id) const { return owns(shard_of(order_id)); }

  /// Ownership of `shard` under `epoch` until `valid_until` (local clock).
  /// A grant under another epoch than the one in the slot queues the shard
  /// for take_revoked too (what ran under the old epoch stops).
  void grant(uint32_t shard, uint64_t epoch, clock::time_point valid_until);
  /// Ownership ends now; true if it was held. The shard is queued for
  /// take_revoked (its order actors are to be stopped).
  bool revoke(uint32_t shard);
  /// revoke(shard) if it is still held under `epoch` (a write found the
  /// database's epoch moved on).
  bool revoke_if(uint32_t shard, uint64_t epoch);
  /// Shards revoked since the last call.
  std::vector<uint32_t> take_revoked();
  /// Owned shards whose deadline has passed (they are revoked).
  std::vector<uint32_t> revoke_expired();
  /// (shard, epoch) of every shard held now.
  std::vector<std::pair<uint32_t, uint64_t>> held() const;
  size_t owned_count() const;

  void set_owners(std::vector<owner_info> owners);
  owner_info owner_of(uint32_t shard) const;

  /// For /metrics.
  struct counters {
    std::atomic<uint64_t> renewals{0};       // lease rounds that committed
    std::atomic<uint64_t> renew_failures{0}; // lease rounds that failed (database)
    std::atomic<uint64_t> losses{0};         // shards lost: not renewed in time, or taken
    std::atomic<uint64_t> takeovers{0};      // shards taken (each a new epoch)
    std::atomic<uint64_t> handoffs{0};       // shards released to another node
    std::atomic<uint64_t> fenced{0};         // writes refused by the epoch check
    std::atomic<uint64_t> forwards{0};       // requests forwarded to an owner
    std::atomic<uint64_t> forward_failures{0};
  };
  counters stats;

  /// The nodes and leases as the keeper last read them (GET /admin/cluster).
  struct node_view {
    std::string id;
    std::string url;
    int64_t heartbeat_at_us = 0;
    bool live = false;
  };
  struct lease_view {
    uint32_t shard = 0;
    std::string owner;
    uint64_t epoch = 0;
    int64_t expires_at_us = 0;
  };
  struct view {
    std::vector<node_view> nodes;
    std::vector<lease_view> leases;
  };
  void set_view(view v);
  view last_view() const;

private:
  struct slot {
    uint64_t epoch = 0;
    clock::time_point valid_until;
  };
  std::string node_id_;
  std::string internal_url_;
  uint32_t shards_;
  mutable std::mutex mtx_;
  std::vector<slot> slots_;
  std::vector<owner_info> owners_;
  std::vector<uint32_t> revoked_;
  view view_;
};

} // namespace payengine
