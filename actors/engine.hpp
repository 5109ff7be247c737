#pragma once
// Wires the actors together: storage writers, registry shards, gateway,
// notifier, reconciler, expiry sweeper, inspector.

#include "config/config.hpp"
#include "messages/interfaces.hpp"

#include <caf/actor_system.hpp>

#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace payengine {

struct gateway_settings;
class stream_hub;
class shard_map;

/// Spawns every actor of the engine. `channels`: the gateways' settings of
/// the configured channels (channel_settings_from); `hub`: where the inspector publishes (it
/// outlives restarts of the actors); `restart`: by the top supervisor in a
/// running process (actors/supervisor.cpp watches, restarts and stops them);
/// `cluster`: this node's shards (null: it owns every order).
engine_handles start_engine(caf::actor_system& sys, const engine_config& cfg,
                            const std::vector<gateway_settings>& channels,
                            std::shared_ptr<stream_hub> hub, bool restart = false,
                            std::shared_ptr<shard_map> cluster = {});

/// The gateways' settings of every configured channel (Alipay when
/// PAYENGINE_ALIPAY_GATEWAY_URL is set, WeChat Pay when
/// PAYENGINE_WECHAT_GATEWAY_URL is), or what is wrong.
std::variant<std::vector<gateway_settings>, std::string>
channel_settings_from(const engine_config& cfg);

} // namespace payengine
