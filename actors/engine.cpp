#include "actors/engine.hpp"

#include "actors/broker_actors.hpp"
#include "actors/read_cache.hpp"
#include "actors/request_timer.hpp"
#include "actors/channel_set.hpp"
#include "actors/expiry_sweeper.hpp"
#include "actors/gateway.hpp"
#include "actors/inspector.hpp"
#include "actors/notifier.hpp"
#include "actors/reconciler.hpp"
#include "actors/order_registry.hpp"
#include "actors/storage_writer.hpp"
#include "actors/wallet_registry.hpp"

#include <caf/all.hpp>

namespace payengine {

std::variant<std::vector<gateway_settings>, std::string>
channel_settings_from(const engine_config& cfg) {
  std::vector<gateway_settings> out;
  if (!cfg.alipay_gateway_url.empty()) {
    auto gs = gateway_settings_from(cfg);
    if (auto* err = std::get_if<std::string>(&gs))
      return *err;
    out.push_back(std::get<gateway_settings>(std::move(gs)));
  }
  if (!cfg.wechat_gateway_url.empty()) {
    auto gs = wechat_gateway_settings_from(cfg);
    if (auto* err = std::get_if<std::string>(&gs))
      return *err;
    out.push_back(std::get<gateway_settings>(std::move(gs)));
  }
  return out;
}

engine_handles start_engine(caf::actor_system& sys, const engine_config& cfg,
                            const std::vector<gateway_settings>& channels,
                            std::shared_ptr<stream_hub> hub, bool restart,
                            std::shared_ptr<shard_map> cluster) {
  engine_handles h;
  h.stream = std::move(hub);
  h.reads = std::make_shared<order_read_cache>(cfg.read_cache_entries, cluster);
  h.timer = std::make_shared<request_timer>();
  h.inspector = sys.spawn(inspector_impl, h.stream);
  // One gateway per channel, each with its own breaker, bucket and
  // workers; their health is what routes `auto` payments.
  auto set = std::make_shared<channel_set>();
  for (auto gs : channels) {
    gs.health = std::make_shared<channel_health>();
    gs.timer = h.timer;
    channel_entry e{gs.channel, {}, gs.notify_url, gs.health};
    e.gateway = sys.spawn(gateway_impl, std::move(gs));
    h.gateways.emplace_back(e.name, e.gateway);
    set->entries.push_back(std::move(e));
  }
  h.channels = set;
  for (uint32_t i = 0; i < cfg.writers(); ++i) {
    writer_settings ws;
    ws.index = i;
    ws.database_url = cfg.database_url;
    ws.batch_max = cfg.storage_batch_max;
    ws.queue_max = cfg.storage_queue_max;
    ws.limits.connect_timeout_s = cfg.db_connect_timeout_s();
    ws.limits.statement_timeout_ms = cfg.db_statement_timeout_ms;
    ws.cluster = cluster;
    h.writers.push_back(sys.spawn<caf::detached>(storage_writer_impl, ws));
  }
  // Every ledger write goes through one writer of its own: a batch holds
  // many wallets' writes, a hot wallet's writes do not queue behind order
  // transitions, and the shared accounts (clearing, merchant) are locked by
  // one connection only. Ledger writes are not fenced by shard leases: a
  // wallet's optimistic version protects it (docs/wallets.md).
  {
    writer_settings ws;
    ws.index = static_cast<uint32_t>(h.writers.size());
    ws.database_url = cfg.database_url;
    ws.batch_max = cfg.storage_batch_max;
    ws.queue_max = cfg.storage_queue_max;
    ws.limits.connect_timeout_s = cfg.db_connect_timeout_s();
    ws.limits.statement_timeout_ms = cfg.db_statement_timeout_ms;
    h.ledger_writer = sys.spawn<caf::detached>(storage_writer_impl, ws);
  }
  wallet_registry_settings wrs;
  wrs.wallet.idle_ms = cfg.order_idle_ms;
  wrs.wallet.storage_timeout_ms = cfg.storage_timeout_ms;
  wrs.wallet.batch_max = cfg.storage_batch_max;
  wrs.sweep_ms = cfg.scaled_ms(cfg.expiry_sweep_interval_ms);
  wrs.timer = h.timer;
  h.wallets = sys.spawn(wallet_registry_impl, wrs, h.ledger_writer);
  for (uint32_t i = 0; i < cfg.registry_shards; ++i) {
    registry_settings rs;
    rs.index = i;
    rs.count = cfg.registry_shards;
    rs.live_max = std::max(1u, cfg.live_orders_max / cfg.registry_shards);
    rs.restarts_max = cfg.order_restarts_max;
    rs.order.idle_ms = cfg.order_idle_ms;
    rs.idle_sweep_batch = cfg.idle_sweep_batch_max;
    rs.order.storage_timeout_ms = cfg.storage_timeout_ms;
    rs.order.channel_timeout_ms = cfg.channel_timeout_ms;
    rs.order.channel_retry_ms = cfg.scaled_ms(cfg.channel_retry_ms);
    rs.order.reservation_timeout_ms = cfg.wallet_reservation_timeout_ms;
    rs.cluster = cluster;
    rs.reads = h.reads;
    rs.timer = h.timer;
    rs.wallets = h.wallets;
    h.shards.push_back(sys.spawn(order_registry_impl, rs, h.writers[i % h.writers.size()],
                                 h.channels, h.inspector));
  }
  sweeper_settings ss;
  ss.interval_ms = cfg.scaled_ms(cfg.expiry_sweep_interval_ms);
  ss.batch_max = cfg.expiry_sweep_batch_max;
  ss.request_timeout_ms = cfg.request_timeout_ms;
  ss.cluster = cluster;
  h.sweeper = sys.spawn(expiry_sweeper_impl, ss, h.writers.front(), h.shards);
  notifier_settings ns;
  ns.retry_delays_ms = parse_schedule(cfg.notify_schedule_s, cfg.time_scale);
  ns.poll_ms = cfg.notifier_poll_ms;
  ns.timer = h.timer;
  ns.batch_max = cfg.notifier_batch_max;
  ns.per_merchant_max = cfg.notifier_per_merchant_max;
  ns.workers = cfg.notifier_workers;
  ns.timeout_ms = cfg.webhook_timeout_ms; // real time: not scaled
  ns.connect_timeout_ms = cfg.outbound_connect_timeout_ms;
  ns.response_max_bytes = cfg.webhook_response_max_bytes;
  ns.policy = std::get<net::address_policy>(net::address_policy::parse(cfg.outbound_allow)); // validated
  ns.sms_url = cfg.sms_url;
  ns.successor = restart;
  h.notifier = sys.spawn(notifier_impl, ns, h.writers.front());
  if (!h.gateways.empty()) {
    reconciler_settings rc;
    rc.interval_ms = cfg.scaled_ms(cfg.reconcile_interval_ms);
    rc.stale_after_ms = cfg.scaled_ms(cfg.reconcile_after_ms);
    rc.batch_max = cfg.reconcile_batch_max;
    rc.request_timeout_ms = cfg.channel_timeout_ms + cfg.request_timeout_ms;
    rc.cluster = cluster;
    h.reconciler = sys.spawn(reconciler_impl, rc, h.writers.front(), h.shards);
  }
  if (!cfg.amqp_url.empty())
    start_broker_actors(sys, cfg, h, cluster);
  return h;
}

} // namespace payengine
