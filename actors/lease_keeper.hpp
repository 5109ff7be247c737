#pragma once
// The lease keeper: this node's membership and shard leases in PostgreSQL
// (API.md "Several nodes"). Not an actor: a thread of its own with its own
// connection, so that a busy scheduler never delays a renewal.
//
// Every lease_ttl/3 it, in one transaction (every lease row locked, in
// shard order): beats this node's heartbeat, renews the shards it holds
// under their epochs, hands over the ones shard_owners (rendezvous
// hashing with a bound on load) gives to another live node (stopped here
// before the release commits), and takes free or expired shards that
// shard_owners gives to it (a new epoch each). Each owned shard carries a
// deadline on the monotonic clock: the renewal's start + TTL - margin,
// before the lease can expire in the database for the others; past it the
// shard is lost locally, whatever the keeper is doing (shard_map::epoch),
// and its order actors are stopped.

#include "messages/cluster.hpp"
#include "messages/interfaces.hpp"
#include "storage/database.hpp"

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace payengine {

struct lease_keeper_settings {
  std::string database_url;
  storage::session_limits limits;
  uint32_t ttl_ms = 3'000;
};

class lease_keeper {
public:
  lease_keeper(lease_keeper_settings settings, std::shared_ptr<shard_map> map,
               std::shared_ptr<engine_directory> directory);
  ~lease_keeper();
  lease_keeper(const lease_keeper&) = delete;
  lease_keeper& operator=(const lease_keeper&) = delete;

  /// The stored shard count (this one's, on the first start). Throws on a
  /// database error.
  static uint32_t init(const std::string& database_url, uint32_t wanted);

  /// One round now; false if the database failed.
  bool round();
  /// Rounds until this node holds what shard_owners gives it (or
  /// `max_ms` passed); for the start, before the HTTP API opens.
  void settle(uint32_t max_ms);
  void start();
  /// Stops the rounds, stops every shard here, releases them and leaves
  /// (a graceful handoff).
  void stop_and_release();
  /// Whether another live node was seen in the last round (one that can
  /// take this node's shards over).
  bool has_peers() const;

private:
  void run();
  void lost(const std::vector<uint32_t>& shards);
  bool ensure_connected();
  /// shard_owners for these live nodes, computed again only when they
  /// change: at 4,096 shards and 64 nodes it takes about 30 ms, inside the
  /// round's transaction that holds every lease row.
  const std::vector<std::string>& owners_for(std::vector<std::string> live);

  lease_keeper_settings settings_;
  std::shared_ptr<shard_map> map_;
  std::shared_ptr<engine_directory> directory_;
  std::unique_ptr<pqxx::connection> conn_;
  bool settled_ = false; // the last round held every shard meant for this node
  std::vector<std::string> owners_live_; // sorted; what owners_ was computed for
  std::vector<std::string> owners_;
  std::mutex mtx_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool released_ = false;
  std::thread thread_;
};

} // namespace payengine
