#pragma once
// The top supervisor: monitors every actor of the engine (registry shards,
// storage writers, gateway, notifier, reconciler, expiry sweeper,
// inspector). When one dies it restarts them all from storage (one for
// all: they hold each other's handles, and the database is the truth, the
// actors only a cache), and publishes the new set in the engine directory.
// More than `restarts_max` restarts within `restart_window_ms` and it gives
// up: the engine stays down and /readyz says so.

#include "actors/gateway.hpp"
#include "actors/stream_hub.hpp"
#include "config/config.hpp"
#include "messages/cluster.hpp"
#include "messages/interfaces.hpp"

#include <caf/stateful_actor.hpp>

#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

namespace payengine {

struct supervisor_settings {
  engine_config cfg;
  std::vector<gateway_settings> channels; // the configured channels' gateways
  std::shared_ptr<stream_hub> hub;
  std::shared_ptr<engine_directory> directory;
  uint32_t restarts_max = 5;
  uint32_t restart_window_ms = 60'000;
  std::shared_ptr<shard_map> cluster; // this node's shards (null: owns everything)
};

struct supervisor_state {
  static inline const char* name = "supervisor";
  supervisor_settings settings;
  std::unordered_map<caf::actor_addr, std::string> children; // the current generation
  std::deque<std::chrono::steady_clock::time_point> recent_restarts;
  bool stopping = false;
};

/// Supervises the actors already in `settings.directory`.
caf::behavior supervisor_impl(caf::stateful_actor<supervisor_state>* self,
                              supervisor_settings settings);

} // namespace payengine
