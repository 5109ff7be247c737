#include "actors/broker_actors.hpp"

#include "actors/event_relay.hpp"
#include "actors/fulfillment_consumer.hpp"

#include <caf/all.hpp>

namespace payengine {

namespace {

broker::amqp_limits amqp_limits_of(const engine_config& cfg) {
  broker::amqp_limits l;
  l.connect_timeout_ms = cfg.amqp_connect_timeout_ms;
  l.rpc_timeout_ms = cfg.amqp_rpc_timeout_ms;
  l.write_timeout_ms = cfg.amqp_rpc_timeout_ms;
  l.heartbeat_s = static_cast<uint16_t>(cfg.amqp_heartbeat_s);
  return l;
}

} // namespace

void start_broker_actors(caf::actor_system& sys, const engine_config& cfg, engine_handles& h,
                         std::shared_ptr<shard_map> cluster) {
  // Valid: load_config checked it.
  auto endpoint = std::get<broker::amqp_endpoint>(broker::parse_amqp_url(cfg.amqp_url));
  auto status = std::make_shared<amqp_status>();
  relay_settings rs;
  rs.endpoint = endpoint;
  rs.limits = amqp_limits_of(cfg);
  rs.database_url = cfg.database_url;
  rs.db_limits.connect_timeout_s = cfg.db_connect_timeout_s();
  rs.db_limits.statement_timeout_ms = cfg.db_statement_timeout_ms;
  rs.in_flight_max = cfg.amqp_in_flight_max;
  rs.poll_ms = cfg.amqp_poll_ms;
  rs.confirm_timeout_ms = cfg.amqp_confirm_timeout_ms;
  rs.reconnect_max_ms = cfg.amqp_reconnect_max_ms;
  rs.cluster = cluster;
  rs.status = status;
  h.relay = sys.spawn<caf::detached>(event_relay_impl, std::move(rs));
  consumer_settings cs;
  cs.endpoint = endpoint;
  cs.limits = amqp_limits_of(cfg);
  cs.prefetch = static_cast<uint16_t>(cfg.amqp_prefetch);
  cs.requeue_delay_ms = cfg.amqp_requeue_delay_ms;
  cs.apply_timeout_ms = cfg.request_timeout_ms;
  cs.reconnect_max_ms = cfg.amqp_reconnect_max_ms;
  cs.cluster = std::move(cluster);
  cs.status = status;
  h.fulfillment = sys.spawn<caf::detached>(fulfillment_consumer_impl, std::move(cs), h.shards);
  h.amqp = std::move(status);
}

} // namespace payengine
