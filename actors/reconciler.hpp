#pragma once
// The reconciler: finds orders waiting on a channel (paying,
// awaiting_payment) for longer than a threshold, and orders with refunds
// still pending, and has their actors ask the channel for the truth. Its
// first sweep at start-up takes every unfinished order, whatever its age:
// a lost callback never leaves a paid order unpaid.

#include "messages/cluster.hpp"
#include "messages/interfaces.hpp"

#include <memory>

#include <string>
#include <vector>

namespace payengine {

struct reconciler_settings {
  uint32_t interval_ms = 30'000;  // between sweeps (already time-scaled)
  uint32_t stale_after_ms = 60'000; // how long an order may wait before a query (scaled)
  uint32_t batch_max = 500;
  uint32_t request_timeout_ms = 10'000;
  /// Several nodes: only orders of shards this node owns (null: all).
  std::shared_ptr<const shard_map> cluster;
};

struct reconciler_state {
  static inline const char* name = "reconciler";
  reconciler_settings settings;
  storage_writer_actor writer;
  std::vector<order_registry_actor> shards;
  bool first_sweep = true;
  std::string cursor; // last id of the previous page; empty: start over
  uint64_t sweeps = 0;
  uint64_t reconciled = 0;
};

using reconciler_self = reconciler_actor::stateful_pointer<reconciler_state>;

reconciler_actor::behavior_type reconciler_impl(reconciler_self self, reconciler_settings settings,
                                                storage_writer_actor writer,
                                                std::vector<order_registry_actor> shards);

} // namespace payengine
