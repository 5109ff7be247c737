#pragma once
// The typed interfaces between actors. Read this file to see who talks to
// whom and what every request is answered with.

#include "messages/commands.hpp"
#include "messages/gateway_messages.hpp"
#include "messages/inspector_messages.hpp"
#include "messages/order.hpp"
#include "messages/storage_messages.hpp"
#include "messages/type_ids.hpp"
#include "messages/wallet.hpp"

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace payengine {

/// The commands an order understands, whoever routes them.
#define PAYENGINE_ORDER_COMMANDS                                               \
  caf::replies_to<create_order>::with<order_reply>,                            \
    caf::replies_to<get_order>::with<order_reply>,                             \
    caf::replies_to<watch_order>::with<order_reply>,                           \
    caf::replies_to<cancel_order>::with<order_reply>,                          \
    caf::replies_to<expire_order>::with<order_reply>,                          \
    caf::replies_to<pay_order>::with<order_reply>,                             \
    caf::replies_to<channel_event>::with<order_reply>,                         \
    caf::replies_to<reconcile_order>::with<order_reply>,                       \
    caf::replies_to<refund_order>::with<order_reply>,                          \
    caf::replies_to<fulfill_order>::with<order_reply>

/// One order (actors/order.cpp): the only writer of its row.
using order_actor = caf::typed_actor<
  PAYENGINE_ORDER_COMMANDS,
  caf::replies_to<inspect_order>::with<order_actor_info>,
  caf::reacts_to<passivate_atom>,          // from its registry shard
  caf::reacts_to<idle_atom>,               // its registry: are you idle?
  caf::reacts_to<expiry_atom>,             // its own expiry timer
  caf::reacts_to<unwatch_atom, uint64_t>,  // a long poll timed out
  caf::reacts_to<retry_atom>>;             // retry the channel work still owed

/// A registry shard (actors/order_registry.cpp): routes commands to order
/// actors, activating them from storage on demand.
using order_registry_actor = caf::typed_actor<
  PAYENGINE_ORDER_COMMANDS,
  caf::replies_to<inspect_order>::with<order_actor_info>,
  caf::replies_to<list_atom, uint32_t>::with<std::vector<order_actor_info>>,
  caf::replies_to<info_atom>::with<shard_info>,
  caf::replies_to<kill_atom, std::string>::with<bool>,
  caf::reacts_to<lost_atom, uint32_t>,     // a cluster shard left this node
  caf::reacts_to<idle_atom, std::string>,  // an order actor may passivate
  caf::reacts_to<keep_atom, std::string>,  // ... or, asked to, must not yet
  caf::reacts_to<sweep_atom>>;             // its timer: which actors idle

/// Delivers merchant webhooks and customer SMS from the outbox
/// (actors/notifier.cpp): `sweep_atom` is its poll, `retry_atom` asks it to
/// look for due deliveries now (a retry is due, an operator redelivered).
using notifier_actor = caf::typed_actor<caf::reacts_to<sweep_atom>, caf::reacts_to<retry_atom>,
                                        caf::reacts_to<unlease_atom, timestamp_us>,
                                        caf::replies_to<info_atom>::with<notifier_info>>;

/// Hears every order actor's lifecycle and committed transitions, counts
/// them and publishes them to /admin/stream (actors/inspector.cpp).
using inspector_actor = caf::typed_actor<caf::reacts_to<actor_event>,
                                         caf::replies_to<info_atom>::with<inspector_info>>;

/// Finds orders waiting on a channel and has them reconciled (actors/reconciler.cpp).
using reconciler_actor = caf::typed_actor<caf::reacts_to<sweep_atom>>;

/// A storage writer (actors/storage_writer.cpp): one connection, group
/// commit. Every answer comes after the batch holding it has committed.
using storage_writer_actor = caf::typed_actor<
  caf::replies_to<transition_write>::with<write_result>,
  caf::replies_to<load_atom, std::string>::with<std::vector<order_record>>,
  caf::replies_to<events_atom, std::string, std::string>::with<
    std::vector<order_event_row>>,
  caf::replies_to<events_atom, std::string, std::string, uint32_t>::with<
    std::vector<std::string>>, // merchant events page (JSON objects)
  caf::replies_to<order_page_query>::with<order_page>,
  caf::replies_to<insert_atom, merchant_record, std::string>::with<bool>,
  caf::replies_to<by_key_atom, std::string>::with<std::vector<merchant_record>>,
  // the merchant as changed; empty: no such merchant
  caf::replies_to<merchant_patch>::with<std::vector<merchant_record>>,
  caf::replies_to<idempotency_claim>::with<idempotency_result>,
  caf::replies_to<idempotency_entry>::with<bool>,
  caf::replies_to<release_atom, std::string, std::string>::with<bool>,
  caf::replies_to<due_atom, timestamp_us, uint32_t>::with<
    std::vector<std::string>>,
  caf::replies_to<unsettled_atom, timestamp_us, uint32_t, std::string>::with<
    std::vector<std::string>>,
  caf::replies_to<refunds_atom, std::string>::with<std::vector<refund_row>>,
  // limit, lease ms, merchants at their bound
  caf::replies_to<claim_atom, uint32_t, uint32_t, std::vector<std::string>>::with<std::vector<delivery>>,
  caf::replies_to<delivery_outcome>::with<bool>,
  caf::replies_to<unlease_atom, timestamp_us>::with<bool>, // leases ending before (0: all)
  caf::replies_to<redeliver_atom, std::string>::with<bool>,
  caf::replies_to<notifs_atom, std::string, uint32_t>::with<std::vector<std::string>>, // status, limit
  caf::replies_to<outbox_atom>::with<notifier_info>, // the outbox's pending and dead rows
  caf::replies_to<ping_db_atom>::with<bool>,
  caf::replies_to<info_atom>::with<writer_info>,
  caf::reacts_to<flush_atom>,
  // the ledger (messages/wallet.hpp)
  caf::replies_to<ledger_write>::with<ledger_result>,
  // a wallet, its open reservations and the transfers named
  caf::replies_to<wallet_atom, std::string, std::vector<std::string>>::with<wallet_snapshot>,
  // merchant, customer_ref, starting_after, limit
  caf::replies_to<wallet_atom, std::string, std::string, std::string, uint32_t>::with<
    std::vector<wallet_record>>,
  // a wallet's transactions: wallet, starting_after, limit
  caf::replies_to<ledger_atom, std::string, std::string, uint32_t>::with<std::vector<transfer_row>>,
  caf::replies_to<ledger_atom>::with<std::vector<int64_t>>, // sums (storage/tables.hpp ledger_sums)
  caf::replies_to<reservation_atom, timestamp_us, uint32_t>::with<std::vector<std::string>>,
  caf::replies_to<wallet_atom, uint32_t>::with<std::vector<wallet_record>>, // recently moved
  caf::replies_to<ledger_atom, uint32_t>::with<std::vector<transfer_row>>>; // newest transfers

/// A channel gateway (actors/gateway.cpp), one per channel: signs and
/// sends requests on detached HTTP workers, retries with back-off, breaks
/// the circuit under a dead channel, limits the rate. Every request is
/// answered with a channel_reply (failures are outcomes, not errors).
using gateway_actor = caf::typed_actor<
  caf::replies_to<open_trade>::with<channel_reply>,
  caf::replies_to<query_trade>::with<channel_reply>,
  caf::replies_to<close_trade>::with<channel_reply>,
  caf::replies_to<refund_trade>::with<channel_reply>,
  caf::replies_to<info_atom>::with<gateway_info>>;

/// One wallet (actors/wallet.cpp): the only writer of its ledger account on
/// this node. Operations queue while a write is in flight and are then
/// decided and written together (one transaction for many).
using wallet_actor = caf::typed_actor<
  caf::replies_to<wallet_op>::with<wallet_reply>,
  caf::reacts_to<passivate_atom>, // from its registry: it forgot this actor
  caf::reacts_to<idle_atom>,      // its own idleness check
  caf::reacts_to<reservation_atom>>;  // a reservation's timeout may have passed

/// Routes wallet operations to wallet actors, activating them from storage
/// (actors/wallet_registry.cpp); `sweep_atom` looks for wallets holding
/// reservations past their timeout.
using wallet_registry_actor = caf::typed_actor<
  caf::replies_to<wallet_op>::with<wallet_reply>,
  caf::reacts_to<idle_atom, std::string>,
  caf::reacts_to<sweep_atom>,
  caf::replies_to<info_atom>::with<wallets_info>>;

/// Drives expiry of orders whose actors are not live (actors/expiry_sweeper.cpp).
using expiry_sweeper_actor = caf::typed_actor<caf::reacts_to<sweep_atom>>;

/// Publishes committed merchant events to RabbitMQ (actors/event_relay.cpp);
/// `tick_atom` is its own step.
using event_relay_actor = caf::typed_actor<caf::reacts_to<caf::tick_atom>>;

/// Applies fulfillment updates from RabbitMQ (actors/fulfillment_consumer.cpp);
/// `tick_atom` is its own step, `retry_atom` (connection, delivery tag) gives
/// a held delivery back to the queue.
using fulfillment_consumer_actor =
  caf::typed_actor<caf::reacts_to<caf::tick_atom>, caf::reacts_to<retry_atom, uint64_t, uint64_t>>;

} // namespace payengine

namespace payengine {

class stream_hub;
class order_read_cache;
class request_timer;
class amqp_status;

/// Every handle the HTTP layer needs; built by actors/engine.cpp.
class channel_set;

struct engine_handles {
  std::vector<order_registry_actor> shards;
  std::vector<storage_writer_actor> writers;
  expiry_sweeper_actor sweeper;
  /// The configured channels' gateways ("alipay", "wechat"), in the
  /// configuration's order; empty when no channel is configured.
  std::vector<std::pair<std::string, gateway_actor>> gateways;
  /// The same channels as the order actors use them (actors/channel_set.hpp).
  std::shared_ptr<const channel_set> channels;
  reconciler_actor reconciler;
  notifier_actor notifier;
  inspector_actor inspector;
  wallet_registry_actor wallets;
  /// The ledger's own writer (its own connection): every wallet write and
  /// wallet insert goes through it, so that a hot wallet's writes never
  /// queue behind order transitions, and the shared clearing and merchant
  /// accounts are locked by one connection only.
  storage_writer_actor ledger_writer;
  std::shared_ptr<stream_hub> stream; // what the inspector publishes for /admin/stream
  /// Committed orders the event loop answers reads from (actors/read_cache.hpp).
  std::shared_ptr<order_read_cache> reads;
  /// Deadlines of requests between actors, off CAF's clock (actors/request_timer.hpp).
  std::shared_ptr<request_timer> timer;
  // RabbitMQ (API.md "Events on RabbitMQ"): invalid / null without PAYENGINE_AMQP_URL.
  event_relay_actor relay;
  fulfillment_consumer_actor fulfillment;
  std::shared_ptr<const amqp_status> amqp; // what the two report

  const order_registry_actor& shard_for(const std::string& order_id) const;
  const storage_writer_actor& writer_for(const std::string& key) const;

  /// The engine's own actors by the names the admin API shows
  /// ("order_registry-0", "storage_writer-0", "gateway-alipay", "notifier",
  /// "reconciler", "expiry_sweeper", "inspector", "event_relay",
  /// "fulfillment_consumer"); invalid if no such one.
  caf::actor child(const std::string& name) const;
  /// Every (name, actor) pair of the above.
  std::vector<std::pair<std::string, caf::actor>> children() const;
};

/// The engine's actors as of now. The top supervisor (actors/supervisor.cpp)
/// replaces them all when one of them dies; readers (the HTTP threads) take
/// a snapshot per use.
class engine_directory {
public:
  struct restart_record {
    uint32_t restarts = 0;
    std::string last_child;  // the actor whose death caused the last restart
    std::string last_reason;
    int64_t last_at_us = 0;
    bool gave_up = false;    // too many restarts too fast: left stopped
  };

  std::shared_ptr<const engine_handles> current() const;
  void replace(std::shared_ptr<const engine_handles> handles);
  restart_record restarts() const;
  void record_restart(const std::string& child, const std::string& reason, int64_t at_us,
                      bool gave_up);

private:
  mutable std::mutex mtx_;
  std::shared_ptr<const engine_handles> current_;
  restart_record record_;
};

} // namespace payengine
