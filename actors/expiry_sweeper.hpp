#pragma once
// Drives the expiry timer of orders whose actors are not live (passivated,
// evicted, or not yet re-activated after a restart): every interval it asks
// storage which orders expire before the next sweep and sends each an
// expire_order through its registry shard. A live order actor then either
// expires at once or arms its own precise timer.

#include "messages/cluster.hpp"
#include "messages/interfaces.hpp"

#include <memory>

#include <vector>

namespace payengine {

struct sweeper_settings {
  uint32_t interval_ms = 1'000;
  uint32_t batch_max = 2'000;
  uint32_t request_timeout_ms = 10'000;
  /// Several nodes: only orders of shards this node owns (null: all).
  std::shared_ptr<const shard_map> cluster;
};

struct expiry_sweeper_state {
  static inline const char* name = "expiry_sweeper";
  sweeper_settings settings;
  storage_writer_actor writer;
  std::vector<order_registry_actor> shards;
  uint64_t sweeps = 0;
  uint64_t sent = 0;
};

using expiry_sweeper_self = expiry_sweeper_actor::stateful_pointer<expiry_sweeper_state>;

expiry_sweeper_actor::behavior_type
expiry_sweeper_impl(expiry_sweeper_self self, sweeper_settings settings,
                    storage_writer_actor writer, std::vector<order_registry_actor> shards);

} // namespace payengine
