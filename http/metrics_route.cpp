// GET /metrics (admin token): Prometheus text format.
#include "actors/read_cache.hpp"
#include "actors/request_timer.hpp"
#include "http/bridge.hpp"
#include "http/routes.hpp"
#include "messages/amqp_status.hpp"

#include <cstdio>
#include <optional>

namespace payengine::http {

namespace {

using Request = request;
using Response = response;

/// One metric family: HELP and TYPE lines, then the samples.
class family {
public:
  family(std::string& out, const char* name, const char* type, const char* help)
    : out_(out), name_(name) {
    out_ += std::string{"# HELP "} + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  }
  /// `suffix`: "_bucket", "_sum" or "_count" for a histogram's series.
  void sample(const std::string& labels, double value, const char* suffix = "") {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%.17g", value);
    out_ += name_ + suffix + (labels.empty() ? "" : "{" + labels + "}") + " " + buf + "\n";
  }

private:
  std::string& out_;
  std::string name_;
};

std::string label(const char* key, const std::string& value) {
  return std::string{key} + "=\"" + label_value(value) + "\"";
}

/// The front door (http/server.cpp): connections, deadlines, shedding.
void render_front(std::string& out, const server_context& ctx) {
  const auto& f = ctx.front;
  family conns{out, "payengine_http_connections", "gauge", "Open client connections."};
  conns.sample("", double(f.connections.load()));
  family timeouts{out, "payengine_http_read_timeouts_total", "counter",
                  "Connections closed because they were idle too long or too slow to send a request."};
  timeouts.sample("", double(f.read_timeouts.load()));
  family bad{out, "payengine_http_malformed_total", "counter",
             "Requests refused before routing: malformed, headers or body too large."};
  bad.sample("", double(f.malformed.load()));
  family inflight{out, "payengine_http_inflight", "gauge", "API requests admitted and not yet answered."};
  inflight.sample("", double(f.inflight.load()));
  family limit{out, "payengine_http_inflight_limit", "gauge", "The admission limit in force (adapts to latency)."};
  limit.sample("", double(f.limit.load()));
  family queued{out, "payengine_http_handler_queue", "gauge", "Admitted requests waiting for a handler thread."};
  queued.sample("", double(f.queued.load()));
  family lag{out, "payengine_http_event_loop_lag_seconds", "gauge",
             "How late the HTTP event loop runs a timer (recent, decaying): the loop is saturated when it grows."};
  lag.sample("", double(f.loop_lag_us.load()) / 1e6);
}

void render_read_cache(std::string& out, const order_read_cache::stats& r) {
  family kept{out, "payengine_read_cache_entries", "gauge", "Committed orders kept for reads (actors/read_cache.hpp)."};
  kept.sample("", double(r.entries));
  family cap{out, "payengine_read_cache_capacity", "gauge", "The most orders kept for reads (read_cache_entries)."};
  cap.sample("", double(r.capacity));
  family hits{out, "payengine_read_cache_hits_total", "counter", "Order reads answered from the cache, without a message to the order's actor."};
  hits.sample("", double(r.hits));
  family misses{out, "payengine_read_cache_misses_total", "counter", "Order reads the cache could not answer (asked the order's actor)."};
  misses.sample("", double(r.misses));
  family ev{out, "payengine_read_cache_evictions_total", "counter", "Orders dropped from the read cache to stay within its capacity."};
  ev.sample("", double(r.evictions));
}

void render_shards(std::string& out, const std::vector<shard_info>& shards) {
  family live{out, "payengine_order_actors_live", "gauge", "Live order actors per registry shard."};
  for (auto& s : shards) live.sample(label("shard", std::to_string(s.index)), double(s.live));
  family act{out, "payengine_order_activations_total", "counter", "Order actors spawned (created or loaded from storage)."};
  for (auto& s : shards) act.sample(label("shard", std::to_string(s.index)), double(s.activations));
  family pas{out, "payengine_order_passivations_total", "counter", "Order actors passivated (idle or evicted)."};
  for (auto& s : shards) pas.sample(label("shard", std::to_string(s.index)), double(s.passivations));
  family ev{out, "payengine_order_evictions_total", "counter", "Order actors asked to passivate to stay within live_orders_max."};
  for (auto& s : shards) ev.sample(label("shard", std::to_string(s.index)), double(s.evictions));
  family ia{out, "payengine_order_idle_asks_total", "counter",
            "Order actors the idle sweep asked whether they may passivate (at most idle_sweep_batch_max per shard and tick)."};
  for (auto& s : shards) ia.sample(label("shard", std::to_string(s.index)), double(s.idle_asks));
  family rs{out, "payengine_order_restarts_total", "counter", "Crashed order actors restarted from storage."};
  for (auto& s : shards) rs.sample(label("shard", std::to_string(s.index)), double(s.restarts));
  family inv{out, "payengine_order_invariant_stops_total", "counter",
             "Order actors stopped because a decision or a stored write broke an invariant (a bug; alert on any)."};
  for (auto& s : shards) inv.sample(label("shard", std::to_string(s.index)), double(s.invariant_stops));
}

void render_writers(std::string& out, const std::vector<writer_info>& writers) {
  auto w_label = [](const writer_info& w) { return label("writer", std::to_string(w.index)); };
  family batches{out, "payengine_storage_batches_total", "counter", "Group commits (one transaction each)."};
  for (auto& w : writers) batches.sample(w_label(w), double(w.batches));
  family reqs{out, "payengine_storage_requests_total", "counter", "Requests committed in those batches."};
  for (auto& w : writers) reqs.sample(w_label(w), double(w.jobs));
  family failed{out, "payengine_storage_failed_batches_total", "counter", "Batches that did not commit as a whole."};
  for (auto& w : writers) failed.sample(w_label(w), double(w.failed_batches));
  family single{out, "payengine_storage_single_statement_batches_total", "counter",
                "Transactions of new orders only (a batch, or one request of a failed batch): BEGIN and the insert in one round trip, then COMMIT."};
  for (auto& w : writers) single.sample(w_label(w), double(w.single_statement_batches));
  family broken{out, "payengine_storage_broken_invariants_total", "counter",
                "Requests storage refused as impossible (a constraint or check): a bug, never retried as if nothing happened."};
  for (auto& w : writers) broken.sample(w_label(w), double(w.broken_invariants));
  family maxb{out, "payengine_storage_batch_size_max", "gauge", "Largest batch so far."};
  for (auto& w : writers) maxb.sample(w_label(w), double(w.max_batch_size));
  family commit{out, "payengine_storage_commit_seconds_total", "counter", "Time spent running and committing batches."};
  for (auto& w : writers) commit.sample(w_label(w), double(w.total_commit_us) / 1e6);
  family sizes{out, "payengine_storage_batch_size", "histogram", "Requests per group commit."};
  for (auto& w : writers) {
    auto wl = w_label(w);
    for (size_t i = 0; i < writer_info::batch_size_bounds.size(); ++i)
      sizes.sample(wl + "," + label("le", std::to_string(writer_info::batch_size_bounds[i])),
                   double(w.batch_size_le[i]), "_bucket");
    sizes.sample(wl + "," + label("le", "+Inf"), double(w.batches), "_bucket");
    sizes.sample(wl, double(w.jobs), "_sum");
    sizes.sample(wl, double(w.batches), "_count");
  }
  family latency{out, "payengine_storage_commit_duration_seconds", "histogram", "Time to run and commit one batch."};
  for (auto& w : writers) {
    auto wl = w_label(w);
    for (size_t i = 0; i < writer_info::commit_us_bounds.size(); ++i) {
      char le[32];
      std::snprintf(le, sizeof(le), "%g", double(writer_info::commit_us_bounds[i]) / 1e6);
      latency.sample(wl + "," + label("le", le), double(w.commit_us_le[i]), "_bucket");
    }
    latency.sample(wl + "," + label("le", "+Inf"), double(w.batches), "_bucket");
    latency.sample(wl, double(w.total_commit_us) / 1e6, "_sum");
    latency.sample(wl, double(w.batches), "_count");
  }
  family up{out, "payengine_storage_connected", "gauge", "1 if the writer holds a database connection."};
  for (auto& w : writers) up.sample(w_label(w), w.connected ? 1 : 0);
  family tr{out, "payengine_order_transitions_total", "counter", "Committed order transitions by the status moved into."};
  for (auto st : all_order_statuses) {
    uint64_t n = 0;
    for (auto& w : writers)
      n += w.transitions_by_status.at(static_cast<size_t>(st));
    tr.sample(label("status", std::string{to_string(st)}), double(n));
  }
}

void render_mailboxes(std::string& out, const std::vector<shard_info>& shards,
                      const std::vector<writer_info>& writers,
                      const std::optional<notifier_info>& notifier,
                      const std::optional<inspector_info>& inspector) {
  family mb{out, "payengine_actor_mailbox_depth", "gauge", "Messages waiting in an actor's mailbox."};
  for (auto& s : shards) mb.sample(label("actor", "order_registry-" + std::to_string(s.index)), double(s.mailbox_depth));
  for (auto& w : writers) mb.sample(label("actor", "storage_writer-" + std::to_string(w.index)), double(w.mailbox_depth));
  if (notifier) mb.sample(label("actor", "notifier"), double(notifier->mailbox_depth));
  if (inspector) mb.sample(label("actor", "inspector"), double(inspector->mailbox_depth));
}

void render_gateways(std::string& out, const std::vector<gateway_info>& gs) {
  if (gs.empty())
    return;
  auto each = [&](family& f, auto value) {
    for (const auto& g : gs)
      f.sample(label("channel", g.channel), value(g));
  };
  family calls{out, "payengine_gateway_calls_total", "counter", "Gateway calls admitted (retries included once)."};
  each(calls, [](const gateway_info& g) { return double(g.calls); });
  family fails{out, "payengine_gateway_failures_total", "counter", "Gateway calls that ended unavailable."};
  each(fails, [](const gateway_info& g) { return double(g.failures); });
  family fast{out, "payengine_gateway_rejected_fast_total", "counter", "Calls refused without trying: circuit open or rate limited."};
  each(fast, [](const gateway_info& g) { return double(g.rejected_fast); });
  family open{out, "payengine_gateway_circuit_open", "gauge", "1 while the channel's circuit breaker is open (0.5 half-open)."};
  each(open, [](const gateway_info& g) {
    return g.circuit == "open" ? 1.0 : g.circuit == "half_open" ? 0.5 : 0.0;
  });
  family inflight{out, "payengine_gateway_in_flight", "gauge", "Gateway calls in progress, retries waiting included."};
  each(inflight, [](const gateway_info& g) { return double(g.in_flight); });
  family tokens{out, "payengine_gateway_rate_tokens", "gauge", "Tokens left in the channel's rate-limit bucket."};
  each(tokens, [](const gateway_info& g) { return g.tokens; });
  family p50{out, "payengine_gateway_latency_p50_seconds", "gauge", "Median latency of recent channel calls."};
  each(p50, [](const gateway_info& g) { return g.p50_latency_ms / 1000.0; });
  family p99{out, "payengine_gateway_latency_p99_seconds", "gauge", "99th percentile latency of recent channel calls."};
  each(p99, [](const gateway_info& g) { return g.p99_latency_ms / 1000.0; });
}

void render_notifier(std::string& out, const notifier_info& n) {
  family att{out, "payengine_notification_attempts_total", "counter", "Webhook and SMS delivery attempts since start."};
  att.sample("", double(n.attempts));
  family ok{out, "payengine_notification_delivered_total", "counter", "Deliveries that succeeded since start."};
  ok.sample("", double(n.delivered));
  family dead{out, "payengine_notification_dead_total", "counter", "Deliveries given up after the last attempt since start."};
  dead.sample("", double(n.dead));
  family pending{out, "payengine_notification_queue_depth", "gauge", "Outbox rows waiting for delivery."};
  pending.sample("", double(n.pending));
  family letters{out, "payengine_notification_dead_letters", "gauge", "Dead outbox rows waiting for an operator's redeliver."};
  letters.sample("", double(n.dead_rows));
  family busy{out, "payengine_notification_in_flight", "gauge", "Delivery attempts running on the workers."};
  busy.sample("", double(n.in_flight));
  family next{out, "payengine_notification_next_attempt_timestamp_seconds", "gauge", "When the earliest pending delivery is due (0: none)."};
  next.sample("", double(n.next_attempt_at) / 1e6);
}

void render_inspector(std::string& out, const inspector_info& i) {
  family life{out, "payengine_actor_lifecycle_events_total", "counter", "Order actor lifecycle events seen by the inspector."};
  life.sample(label("event", "spawn"), double(i.spawns));
  life.sample(label("event", "passivate"), double(i.passivations));
  life.sample(label("event", "crash"), double(i.crashes));
  life.sample(label("event", "restart"), double(i.restarts));
  family clients{out, "payengine_stream_clients", "gauge", "Clients of GET /admin/stream."};
  clients.sample("", double(i.stream_clients));
  family dropped{out, "payengine_stream_dropped_events_total", "counter", "Stream events dropped for clients too slow to read them."};
  dropped.sample("", double(i.stream_dropped));
}

/// Several nodes: leases and forwarding (API.md "Several nodes").
void render_cluster(std::string& out, const shard_map& c) {
  family owned{out, "payengine_cluster_shards_owned", "gauge", "Shards this node owns now."};
  owned.sample("", double(c.owned_count()));
  family renewals{out, "payengine_cluster_lease_renewals_total", "counter", "Lease rounds that renewed this node's shards."};
  renewals.sample("", double(c.stats.renewals.load()));
  family failures{out, "payengine_cluster_lease_failures_total", "counter", "Lease rounds that failed (database)."};
  failures.sample("", double(c.stats.renew_failures.load()));
  family losses{out, "payengine_cluster_shard_losses_total", "counter", "Shards lost: not renewed in time, or taken by another node."};
  losses.sample("", double(c.stats.losses.load()));
  family takeovers{out, "payengine_cluster_shard_takeovers_total", "counter", "Shards taken, each under a new epoch."};
  takeovers.sample("", double(c.stats.takeovers.load()));
  family handoffs{out, "payengine_cluster_shard_handoffs_total", "counter", "Shards released to another node."};
  handoffs.sample("", double(c.stats.handoffs.load()));
  family fenced{out, "payengine_cluster_fenced_writes_total", "counter", "Order writes refused because the shard's epoch moved."};
  fenced.sample("", double(c.stats.fenced.load()));
  family forwards{out, "payengine_cluster_forwards_total", "counter", "Requests forwarded to the owner of their order's shard."};
  forwards.sample("", double(c.stats.forwards.load()));
  family ffail{out, "payengine_cluster_forward_failures_total", "counter", "Forwarded requests the owner did not answer."};
  ffail.sample("", double(c.stats.forward_failures.load()));
}

/// The wallet actors of this node (actors/wallet_registry.cpp).
void render_wallets(std::string& out, const wallets_info& w) {
  family live{out, "payengine_wallet_actors", "gauge", "Wallet actors live on this node."};
  live.sample("", double(w.live));
  family act{out, "payengine_wallet_activations_total", "counter", "Wallet actors started (loaded from storage)."};
  act.sample("", double(w.activations));
  family ops{out, "payengine_wallet_operations_total", "counter", "Wallet operations answered (reserve, post, void, credit, read)."};
  ops.sample("", double(w.ops));
  family writes{out, "payengine_wallet_writes_total", "counter",
                "Ledger writes committed by wallet actors (each holds every operation queued meanwhile)."};
  writes.sample("", double(w.writes));
  family batch{out, "payengine_wallet_batch_max", "gauge", "Most operations a wallet actor has committed in one write."};
  batch.sample("", double(w.max_batch));
  family conflicts{out, "payengine_wallet_conflicts_total", "counter",
                   "Ledger writes refused because the wallet moved or a transfer id existed (decided again)."};
  conflicts.sample("", double(w.conflicts));
  family refused{out, "payengine_wallet_refused_total", "counter", "Operations refused: insufficient funds, currency mismatch."};
  refused.sample("", double(w.refused));
  family voids{out, "payengine_wallet_expired_reservations_total", "counter",
               "Reservations voided at their timeout (their order never posted them)."};
  voids.sample("", double(w.expired_voids));
  family queued{out, "payengine_wallet_queued", "gauge", "Operations waiting in wallet actors for the write in flight."};
  queued.sample("", double(w.queued));
}

/// RabbitMQ (API.md "Events on RabbitMQ"): the relay's lag, the consumer's outcomes.
void render_amqp(std::string& out, const relay_info& r, const consumer_info& c) {
  family unpublished{out, "payengine_events_unpublished", "gauge",
                     "Merchant events committed and not yet confirmed by RabbitMQ (every shard; read each second)."};
  unpublished.sample("", double(r.unpublished));
  family age{out, "payengine_events_oldest_unpublished_age_seconds", "gauge",
             "Age of the oldest event not yet confirmed by RabbitMQ when last read (0: none)."};
  age.sample("", r.oldest_unpublished_at && r.lag_checked_at
                   ? std::max(0.0, double(r.lag_checked_at - r.oldest_unpublished_at) / 1e6) : 0.0);
  family published{out, "payengine_events_published_total", "counter",
                   "Events confirmed by RabbitMQ and marked published by this node."};
  published.sample("", double(r.published));
  family inflight{out, "payengine_events_in_flight", "gauge", "Events sent to RabbitMQ and not yet confirmed."};
  inflight.sample("", double(r.in_flight));
  family nacked{out, "payengine_events_nacked_total", "counter", "Publishes RabbitMQ refused (sent again)."};
  nacked.sample("", double(r.nacked));
  family late{out, "payengine_events_confirm_timeouts_total", "counter",
              "Connections dropped because a confirm did not come in time (events sent again)."};
  late.sample("", double(r.confirm_timeouts));
  family up{out, "payengine_amqp_connected", "gauge", "1 while the actor holds a RabbitMQ connection."};
  up.sample(label("actor", "event_relay"), r.connected ? 1 : 0);
  up.sample(label("actor", "fulfillment_consumer"), c.connected ? 1 : 0);
  family reconnects{out, "payengine_amqp_reconnects_total", "counter", "RabbitMQ connections opened again after a failure."};
  reconnects.sample(label("actor", "event_relay"), double(r.reconnects));
  reconnects.sample(label("actor", "fulfillment_consumer"), double(c.reconnects));
  family updates{out, "payengine_fulfillment_updates_total", "counter",
                 "Fulfillment updates from the queue by outcome."};
  updates.sample(label("outcome", "received"), double(c.received));
  updates.sample(label("outcome", "applied"), double(c.applied));
  updates.sample(label("outcome", "duplicate"), double(c.duplicates));
  updates.sample(label("outcome", "dead_lettered"), double(c.dead_lettered));
  updates.sample(label("outcome", "requeued"), double(c.requeued));
  family unacked{out, "payengine_fulfillment_unacked", "gauge", "Fulfillment updates delivered and not yet acknowledged."};
  unacked.sample("", double(c.unacked));
}

void metrics_handler(server_context& ctx, Response& res) {
  std::string out;
  ctx.metrics.render(out);
  auto h = ctx.handles();
  constexpr auto timeout = std::chrono::seconds{2};
  std::vector<shard_info> shards;
  for (const auto& s : h->shards)
    if (auto info = ask<shard_info>(ctx.sys, s, timeout, info_atom_v))
      shards.push_back(*info);
  std::vector<writer_info> writers;
  for (const auto& w : h->writers)
    if (auto info = ask<writer_info>(ctx.sys, w, timeout, info_atom_v))
      writers.push_back(*info);
  if (h->ledger_writer) // the ledger's own, labelled with the next index
    if (auto info = ask<writer_info>(ctx.sys, h->ledger_writer, timeout, info_atom_v))
      writers.push_back(*info);
  render_shards(out, shards);
  render_writers(out, writers);
  std::optional<notifier_info> notifier;
  if (h->notifier)
    if (auto n = ask<notifier_info>(ctx.sys, h->notifier, timeout, info_atom_v))
      notifier = *n;
  std::optional<inspector_info> inspector;
  if (h->inspector)
    if (auto i = ask<inspector_info>(ctx.sys, h->inspector, timeout, info_atom_v))
      inspector = *i;
  render_mailboxes(out, shards, writers, notifier, inspector);
  std::vector<gateway_info> gateways;
  for (const auto& [channel, gateway] : h->gateways)
    if (auto g = ask<gateway_info>(ctx.sys, gateway, timeout, info_atom_v))
      gateways.push_back(*g);
  render_gateways(out, gateways);
  family restarts{out, "payengine_engine_restarts_total", "counter", "Restarts of the engine's actors by the top supervisor after one died."};
  restarts.sample("", double(ctx.directory->restarts().restarts));
  if (ctx.cluster)
    render_cluster(out, *ctx.cluster);
  if (notifier)
    render_notifier(out, *notifier);
  if (inspector)
    render_inspector(out, *inspector);
  if (h->amqp)
    render_amqp(out, h->amqp->relay(), h->amqp->consumer());
  family lp{out, "payengine_long_polls", "gauge", "wait_for_change requests in progress."};
  lp.sample("", double(ctx.long_polls->load()));
  render_front(out, ctx);
  if (h->reads)
    render_read_cache(out, h->reads->snapshot());
  family asks{out, "payengine_http_asks_pending", "gauge",
              "Requests the event loop's askers sent to the engine's actors and wait on (http/bridge.hpp)."};
  asks.sample("", double(ctx.askers->pending()));
  if (h->timer) {
    family pending{out, "payengine_request_deadlines", "gauge",
                   "Requests between actors waiting for a reply, with a deadline on the request timer (actors/request_timer.hpp)."};
    pending.sample("", double(h->timer->pending()));
    family fired{out, "payengine_request_deadlines_fired_total", "counter",
                 "Deadlines that passed before the reply: request timeouts and delayed messages delivered."};
    fired.sample("", double(h->timer->fired()));
  }
  if (h->wallets)
    if (auto w = ask<wallets_info>(ctx.sys, h->wallets, timeout, info_atom_v))
      render_wallets(out, *w);
  res.status = 200;
  res.set_content(out, "text/plain; version=0.0.4; charset=utf-8");
}

} // namespace

void add_metrics_route(router& svr, server_context& ctx) {
  svr.get("/metrics", [&ctx](const Request& req, Response& res) {
    if (!is_admin(ctx, req)) {
      send(res, {401, "authentication_error", "invalid_admin_token",
                 "Provide the admin token as 'Authorization: Bearer <token>'.", {}, {}});
      return;
    }
    metrics_handler(ctx, res);
  });
}

} // namespace payengine::http
