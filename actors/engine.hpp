#pragma once
// Wires the actors together: storage writers, registry shards, the expiry
// sweeper. main.cpp starts it after migrations and stops it on SIGTERM.

#include "config/config.hpp"
#include "messages/interfaces.hpp"

#include <caf/actor_system.hpp>

namespace payengine {

struct gateway_settings;

/// `alipay`: the gateway's settings when the channel is configured.
engine_handles start_engine(caf::actor_system& sys, const engine_config& cfg,
                            const gateway_settings* alipay);

/// Stops every actor of the engine; order actors die with their shards.
void stop_engine(caf::actor_system& sys, engine_handles& handles);

} // namespace payengine
