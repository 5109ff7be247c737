// payengine: start-up and shutdown. See README.md and ../shared/API.md.
//
//   1. configuration (file < PAYENGINE_* < flags), one clear line if bad
//   2. the database: connect and apply pending migrations
//   3. the actors (actors/engine.cpp) under the top supervisor
//      (actors/supervisor.cpp), and the HTTP API (http/server.cpp)
//   4. SIGTERM/SIGINT: stop accepting, finish in-flight requests, exit 0

#include "actors/engine.hpp"
#include "actors/gateway.hpp"
#include "actors/lease_keeper.hpp"
#include "actors/stream_hub.hpp"
#include "actors/supervisor.hpp"
#include "config/config.hpp"
#include "config/logging.hpp"
#include "http/server.hpp"
#include "messages/errors.hpp"
#include "messages/type_ids.hpp"
#include "storage/database.hpp"

#include <caf/all.hpp>

#include <csignal>
#include <optional>
#include <iostream>
#include <thread>

namespace {

using namespace payengine;

int fail(const std::string& line) {
  std::cerr << "payengine: " << line << std::endl;
  return 1;
}

/// Signals are blocked in every thread and taken synchronously by main.
sigset_t block_stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

std::string prepare_database(const engine_config& cfg) {
  try {
    auto conn = storage::connect_for_migrations(cfg.database_url);
    auto applied = storage::migrate(*conn);
    logging::info("storage.ready", {{"migrations_applied", applied}});
    return {};
  } catch (const std::exception& e) {
    std::string what = e.what();
    while (!what.empty() && (what.back() == '\n' || what.back() == ' '))
      what.pop_back();
    for (auto& c : what)
      if (c == '\n')
        c = ' ';
    return "database unreachable or not migratable: " + what;
  }
}

void configure_actors(caf::actor_system_config& sys_cfg, const engine_config& cfg) {
  sys_cfg.add_message_types<caf::id_block::payengine>();
  sys_cfg.add_error_category(engine_error_category,
                             [](uint8_t code, caf::atom_value, const caf::message& ctx) {
                               auto s = to_string(static_cast<engine_error>(code));
                               return ctx.empty() ? s : s + " " + caf::to_string(ctx);
                             });
  // Work sharing: low latency for thread -> actor round trips on few cores.
  sys_cfg.set("scheduler.policy", caf::atom("sharing"));
  auto threads = cfg.scheduler_threads ? cfg.scheduler_threads
                                       : std::max(2u, std::thread::hardware_concurrency());
  sys_cfg.set("scheduler.max-threads", static_cast<size_t>(threads));
}

} // namespace

int main(int argc, char** argv) {
  auto stop_signals = block_stop_signals();
  auto loaded = load_config(argc, argv);
  if (auto* err = std::get_if<config_error>(&loaded)) {
    (err->exit_code == 0 ? std::cout : std::cerr) << err->message
                                                   << (err->message.back() == '\n' ? "" : "\n");
    return err->exit_code;
  }
  auto cfg = std::get<engine_config>(std::move(loaded));
  logging::init(cfg.log_level);
  auto configured = channel_settings_from(cfg);
  if (auto* err = std::get_if<std::string>(&configured))
    return fail("configuration: " + *err);
  auto gateways = std::get<std::vector<gateway_settings>>(std::move(configured));
  http::callback_keys keys;
  for (const auto& gs : gateways)
    if (gs.channel == "alipay")
      keys.alipay = gs.channel_key;
  if (!cfg.wechat_gateway_url.empty()) {
    // Loaded and checked by channel_settings_from already.
    auto apiv3 = read_apiv3_key(cfg.wechat_apiv3_key_file);
    auto platform = payengine::channels::public_key::from_pem_file(cfg.wechat_platform_public_key_file);
    if (apiv3.index() != 0 || !platform)
      return fail("configuration: the WeChat Pay keys changed while starting");
    keys.wechat = http::wechat_callback_keys{std::move(platform).value(),
                                             cfg.wechat_platform_serial,
                                             std::get<0>(std::move(apiv3)), cfg.wechat_mch_id};
  }
  if (auto err = prepare_database(cfg); !err.empty())
    return fail(err);
  caf::actor_system_config sys_cfg;
  configure_actors(sys_cfg, cfg);
  caf::actor_system sys{sys_cfg};
  std::shared_ptr<shard_map> cluster;
  try {
    auto shards = lease_keeper::init(cfg.database_url, cfg.cluster_shards);
    cluster = std::make_shared<shard_map>(cfg.node_id, cfg.internal_url, shards);
  } catch (const std::exception& e) {
    return fail(std::string{"database unreachable: "} + e.what());
  }
  auto hub = std::make_shared<stream_hub>(cfg.stream_clients_max, cfg.stream_buffer_max);
  auto directory = std::make_shared<engine_directory>();
  directory->replace(std::make_shared<engine_handles>(
    start_engine(sys, cfg, gateways, hub, false, cluster)));
  supervisor_settings sup{cfg, gateways, hub, directory, cfg.engine_restarts_max, 60'000, cluster};
  auto supervisor = sys.spawn(supervisor_impl, std::move(sup));
  lease_keeper_settings ks;
  ks.database_url = cfg.database_url;
  ks.limits.connect_timeout_s = cfg.db_connect_timeout_s();
  ks.limits.statement_timeout_ms = cfg.db_statement_timeout_ms;
  ks.ttl_ms = cfg.lease_ttl_ms;
  lease_keeper keeper{ks, cluster, directory};
  auto stop_actors = [&] {
    hub->close(); // stream clients hold HTTP threads: let them go
    caf::anon_send_exit(supervisor, caf::exit_reason::user_shutdown);
  };
  int exit_code = 0;
  {
    http::api_server server{sys, directory, cfg, std::move(keys), cluster};
    std::string bind_error;
    if (!server.bind(bind_error)) {
      keeper.stop_and_release();
      stop_actors();
      return fail(bind_error);
    }
    // This node's share before the API opens (a node restarted in place
    // takes its own shards back at once; a joining one waits for the
    // owners' handoff). After the bind: one process per address and id.
    keeper.settle(2 * cfg.lease_ttl_ms);
    keeper.start();
    server.start();
    logging::info("engine.started", {{"listen", cfg.listen}, {"time_scale", cfg.time_scale},
                                     {"shards", cfg.registry_shards},
                                     {"node", cfg.node_id},
                                     {"cluster_shards", cluster->shards()},
                                     {"owned", cluster->owned_count()},
                                     {"writers", cfg.writers()}});
    int sig = 0;
    sigwait(&stop_signals, &sig);
    logging::info("engine.stopping", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
    hub->close();
    // With other nodes alive, hand the shards over first: they serve them
    // while this one drains its connections (what is still in flight here
    // answers 503, nothing changed). Alone: finish in-flight requests.
    if (keeper.has_peers())
      keeper.stop_and_release();
    server.stop(); // finishes in-flight requests
  }
  keeper.stop_and_release(); // the others take this node's shards at once
  stop_actors();
  logging::info("engine.stopped");
  return exit_code;
}
