#include "http/actor_tree.hpp"

#include "actors/read_cache.hpp"
#include "actors/request_timer.hpp"
#include "http/bridge.hpp"
#include "messages/amqp_status.hpp"
#include "messages/timestamps.hpp"

namespace payengine::http {

using json = nlohmann::json;

json order_actor_json(const order_actor_info& i) {
  json out = {{"id", i.order_id}, {"kind", "order"}, {"live", i.live},
              {"restarts", i.restarts}, {"idle_ms", i.idle_ms}};
  if (!i.actor_id.empty())
    out["actor_id"] = i.actor_id;
  if (!i.last_restart_reason.empty())
    out["last_restart_reason"] = i.last_restart_reason;
  if (i.loaded) {
    out["status"] = i.status;
    out["version"] = i.version;
    out["watchers"] = i.watchers;
    out["mailbox_depth"] = i.mailbox_depth;
  }
  return out;
}

namespace {

json shard_json(const shard_info& s) {
  return {{"id", "order_registry-" + std::to_string(s.index)}, {"kind", "order_registry"},
          {"live", s.live}, {"live_max", s.live_max}, {"activations", s.activations},
          {"passivations", s.passivations}, {"restarts", s.restarts},
          {"evictions", s.evictions}, {"mailbox_depth", s.mailbox_depth},
          {"idle_asks", s.idle_asks}, {"idle_sweep_batch", s.idle_sweep_batch}};
}

json writer_json(const writer_info& w) {
  return {{"id", "storage_writer-" + std::to_string(w.index)}, {"kind", "storage_writer"},
          {"connected", w.connected}, {"batches", w.batches}, {"requests", w.jobs},
          {"failed_batches", w.failed_batches},
          {"single_statement_batches", w.single_statement_batches},
          {"last_batch_size", w.last_batch_size},
          {"max_batch_size", w.max_batch_size}, {"last_commit_us", w.last_commit_us},
          {"mean_batch_size", w.batches ? double(w.jobs) / double(w.batches) : 0.0},
          {"mailbox_depth", w.mailbox_depth}};
}

json gateway_json(const gateway_info& g) {
  return {{"id", "gateway-" + g.channel}, {"kind", "gateway"}, {"channel", g.channel},
          {"circuit", g.circuit}, {"consecutive_failures", g.consecutive_failures},
          {"rate_tokens", g.tokens}, {"in_flight", g.in_flight}, {"calls", g.calls},
          {"failures", g.failures}, {"rejected_fast", g.rejected_fast},
          {"last_latency_ms", g.last_latency_ms}, {"p50_latency_ms", g.p50_latency_ms},
          {"p99_latency_ms", g.p99_latency_ms}};
}

json notifier_json(const notifier_info& n) {
  return {{"id", "notifier"}, {"kind", "notifier"},
          {"queue_depth", n.pending}, {"dead_letters", n.dead_rows},
          {"next_attempt_at", n.next_attempt_at ? json(to_rfc3339(n.next_attempt_at)) : json(nullptr)},
          {"waiting", n.waiting}, {"attempts", n.attempts}, {"delivered", n.delivered},
          {"dead", n.dead}, {"mailbox_depth", n.mailbox_depth},
          {"delivery_workers", {{"kind", "delivery_worker"}, {"count", n.workers},
                                {"busy", n.in_flight}, {"carries", {"webhook", "sms"}}}}};
}

json inspector_json(const inspector_info& i) {
  return {{"id", "inspector"}, {"kind", "inspector"}, {"spawns", i.spawns},
          {"passivations", i.passivations}, {"crashes", i.crashes}, {"restarts", i.restarts},
          {"transitions", i.transitions}, {"events", i.events},
          {"stream_clients", i.stream_clients}, {"stream_dropped", i.stream_dropped},
          {"mailbox_depth", i.mailbox_depth}};
}

json time_or_null(timestamp_us at) {
  return at ? json(to_rfc3339(at)) : json(nullptr);
}

} // namespace

json event_relay_json(const relay_info& r) {
  double age_s = r.oldest_unpublished_at && r.lag_checked_at
                   ? std::max<double>(0, double(r.lag_checked_at - r.oldest_unpublished_at) / 1e6) : 0;
  return {{"id", "event_relay"}, {"kind", "event_relay"}, {"broker", r.broker},
          {"connected", r.connected}, {"exchange", "payengine.events"},
          {"unpublished", r.unpublished}, {"oldest_unpublished_at", time_or_null(r.oldest_unpublished_at)},
          {"lag_s", age_s}, {"lag_checked_at", time_or_null(r.lag_checked_at)},
          {"published", r.published}, {"in_flight", r.in_flight}, {"awaiting_mark", r.awaiting_mark},
          {"in_flight_max", r.in_flight_max}, {"nacked", r.nacked}, {"confirm_timeouts", r.confirm_timeouts},
          {"reconnects", r.reconnects}, {"last_error", r.last_error},
          {"last_error_at", time_or_null(r.last_error_at)}};
}

json fulfillment_consumer_json(const consumer_info& c) {
  return {{"id", "fulfillment_consumer"}, {"kind", "fulfillment_consumer"}, {"queue", c.queue},
          {"connected", c.connected}, {"prefetch", c.prefetch}, {"unacked", c.unacked},
          {"received", c.received}, {"applied", c.applied}, {"duplicates", c.duplicates},
          {"dead_lettered", c.dead_lettered}, {"requeued", c.requeued}, {"reconnects", c.reconnects},
          {"last_error", c.last_error}, {"last_error_at", time_or_null(c.last_error_at)}};
}

json actor_tree(server_context& ctx, uint32_t orders_max, std::chrono::milliseconds timeout) {
  auto snapshot = ctx.handles();
  const auto& h = *snapshot;
  auto shards = json::array();
  auto orders = json::array();
  auto per_shard = static_cast<uint32_t>(
    std::max<size_t>(1, orders_max / std::max<size_t>(1, h.shards.size())));
  for (const auto& s : h.shards) {
    if (auto info = ask<shard_info>(ctx.sys, s, timeout, info_atom_v))
      shards.push_back(shard_json(*info));
    if (orders_max == 0)
      continue;
    if (auto live = ask<std::vector<order_actor_info>>(ctx.sys, s, timeout, list_atom_v, per_shard))
      for (const auto& o : *live)
        orders.push_back(order_actor_json(o));
  }
  auto writers = json::array();
  for (const auto& w : h.writers)
    if (auto info = ask<writer_info>(ctx.sys, w, timeout, info_atom_v))
      writers.push_back(writer_json(*info));
  if (h.ledger_writer)
    if (auto info = ask<writer_info>(ctx.sys, h.ledger_writer, timeout, info_atom_v)) {
      auto j = writer_json(*info);
      j["role"] = "ledger";
      writers.push_back(std::move(j));
    }
  auto gateways = json::array();
  for (const auto& [channel, gateway] : h.gateways)
    if (auto g = ask<gateway_info>(ctx.sys, gateway, timeout, info_atom_v))
      gateways.push_back(gateway_json(*g));
  json notifier = nullptr;
  if (h.notifier)
    if (auto n = ask<notifier_info>(ctx.sys, h.notifier, timeout, info_atom_v))
      notifier = notifier_json(*n);
  json inspector = nullptr;
  if (h.inspector)
    if (auto i = ask<inspector_info>(ctx.sys, h.inspector, timeout, info_atom_v))
      inspector = inspector_json(*i);
  auto children = json::array();
  for (const auto& child : h.children())
    children.push_back(child.first);
  // Periodic actors with nothing to report but that they run.
  auto sweepers = json::array();
  if (h.sweeper)
    sweepers.push_back({{"id", "expiry_sweeper"}, {"kind", "expiry_sweeper"},
                        {"interval_ms", ctx.cfg.scaled_ms(ctx.cfg.expiry_sweep_interval_ms)}});
  if (h.reconciler)
    sweepers.push_back({{"id", "reconciler"}, {"kind", "reconciler"},
                        {"interval_ms", ctx.cfg.scaled_ms(ctx.cfg.reconcile_interval_ms)}});
  auto restarts = ctx.directory->restarts();
  json supervisor = {{"id", "engine"}, {"kind", "supervisor"}, {"strategy", "one_for_all"},
                     {"children", children}, {"restarts", restarts.restarts},
                     {"gave_up", restarts.gave_up}};
  if (restarts.restarts > 0 || restarts.gave_up) {
    supervisor["last_child"] = restarts.last_child;
    supervisor["last_reason"] = restarts.last_reason;
    supervisor["last_restart_at"] = to_rfc3339(restarts.last_at_us);
  }
  // The front door: not actors, but the limits and queues in front of them.
  const auto& f = ctx.front;
  json shed = {{"overload", 0}, {"connections", 0}, {"merchant_rate", 0}};
  for (const auto& [reason, n] : ctx.metrics.shed_counts())
    shed[reason] = n;
  json front = {{"id", "http_front"}, {"kind", "http_front"},
                {"connections", f.connections.load()},
                {"connections_max", ctx.cfg.http_connections_max},
                {"inflight", f.inflight.load()},
                {"limit", f.limit.load()},
                {"limit_min", ctx.cfg.http_inflight_min},
                {"limit_max", ctx.cfg.http_inflight_max},
                // http/admission.hpp: each class's room in the limit
                {"room", {{"new_work", f.room_new_work.load()},
                          {"normal", f.room_normal.load()},
                          {"critical", ctx.cfg.http_inflight_max}}},
                {"handler_threads", ctx.cfg.http_threads},
                {"handler_queue", f.queued.load()},
                {"long_polls", ctx.long_polls->load()},
                {"long_polls_max", ctx.cfg.long_polls_max},
                {"read_timeouts", f.read_timeouts.load()},
                {"malformed", f.malformed.load()},
                {"event_loop_lag_ms", double(f.loop_lag_us.load()) / 1000},
                // http/bridge.hpp: who makes the event loop's requests
                {"askers", {{"count", ctx.askers->size()}, {"pending", ctx.askers->pending()},
                            {"replaced", ctx.askers->replaced()}}},
                {"shed", std::move(shed)}};
  if (h.reads) { // actors/read_cache.hpp
    auto r = h.reads->snapshot();
    front["read_cache"] = {{"entries", r.entries}, {"capacity", r.capacity}, {"hits", r.hits},
                           {"misses", r.misses}, {"evictions", r.evictions}};
  }
  json wallets = nullptr;
  if (h.wallets)
    if (auto w = ask<wallets_info>(ctx.sys, h.wallets, timeout, info_atom_v))
      wallets = {{"id", "wallet_registry"}, {"kind", "wallet_registry"},
                 {"live", w->live}, {"activations", w->activations}, {"operations", w->ops},
                 {"writes", w->writes}, {"max_batch", w->max_batch}, {"conflicts", w->conflicts},
                 {"refused", w->refused}, {"expired_reservations", w->expired_voids},
                 {"queued", w->queued}};
  // RabbitMQ (API.md "Events on RabbitMQ"): null without a broker.
  json relay = nullptr;
  json consumer = nullptr;
  if (h.amqp) {
    relay = event_relay_json(h.amqp->relay());
    consumer = fulfillment_consumer_json(h.amqp->consumer());
  }
  json timer = nullptr; // actors/request_timer.hpp
  if (h.timer)
    timer = {{"id", "request_timer"}, {"kind", "request_timer"}, {"pending", h.timer->pending()},
             {"fired", h.timer->fired()}, {"tick_ms", h.timer->tick().count()}};
  return {{"supervisor", std::move(supervisor)},
          {"request_timer", std::move(timer)},
          {"event_relay", std::move(relay)},
          {"fulfillment_consumer", std::move(consumer)},
          {"http_front", std::move(front)},
          {"wallets", std::move(wallets)},
          {"registry_shards", std::move(shards)},
          {"storage_writers", std::move(writers)},
          {"gateways", std::move(gateways)},
          {"notifier", std::move(notifier)},
          {"inspector", std::move(inspector)},
          {"sweepers", std::move(sweepers)},
          {"orders", std::move(orders)}};
}

} // namespace payengine::http
