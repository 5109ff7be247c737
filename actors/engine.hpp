#pragma once
// Wires the actors together: storage writers, registry shards, gateway,
// notifier, reconciler, expiry sweeper, inspector.

#include "config/config.hpp"
#include "messages/interfaces.hpp"

#include <caf/actor_system.hpp>

#include <memory>

namespace payengine {

struct gateway_settings;
class stream_hub;
class shard_map;

/// Spawns every actor of the engine. `alipay`: the gateway's settings when
/// the channel is configured; `hub`: where the inspector publishes (it
/// outlives restarts of the actors); `restart`: by the top supervisor in a
/// running process (actors/supervisor.cpp watches, restarts and stops them);
/// `cluster`: this node's shards (null: it owns every order).
engine_handles start_engine(caf::actor_system& sys, const engine_config& cfg,
                            const gateway_settings* alipay, std::shared_ptr<stream_hub> hub,
                            bool restart = false, std::shared_ptr<shard_map> cluster = {});

} // namespace payengine
