#pragma once
// Queries, one group per table. Each runs inside the caller's transaction
// (a storage writer's batch) through the named statements of statements.cpp.

#include "messages/inspector_messages.hpp"
#include "messages/order.hpp"
#include "messages/storage_messages.hpp"
#include "messages/wallet.hpp"
#include "storage/one_trip.hpp"

#include <pqxx/pqxx>

#include <optional>
#include <set>
#include <string>
#include <vector>

namespace payengine::storage {

/// (shard, lease epoch) pairs.
using shard_epochs = std::vector<std::pair<uint32_t, uint64_t>>;

// --- orders, order_events (orders_table.cpp) -------------------------------
/// expected_version 0 inserts; otherwise updates WHERE version = expected.
write_result write_transition(pqxx::work& tx, const transition_write& w);
/// The same for a whole batch in two statements (inserts, updates); results
/// in the order of `writes`. At most one write per order.
std::vector<write_result> write_transitions(pqxx::work& tx,
                                            const std::vector<const transition_write*>& writes);
/// A new order whose write is its row and first event only (no side rows,
/// no merchant events): a batch of only these can be one statement.
bool plain_create(const transition_write& w);
struct new_orders_written {
  one_trip_result trip;           // committed, failed (nothing written) or in doubt
  std::set<std::string> inserted; // ids; the others' merchant_order_no was taken (or fenced)
  shard_epochs stored;            // with fencing: the lease rows read, locked FOR SHARE
};
/// Plain creates as one transaction of one statement (one_trip.hpp: BEGIN
/// and the insert in one round trip, then COMMIT). With
/// `fence_shards` (the distinct shards of the writes, several nodes) each is
/// written only if its epoch is the stored epoch of `shard_of_write[i]`.
/// Throws std::logic_error, before sending anything, for a write that is
/// not a plain create or breaks its invariants.
new_orders_written insert_new_orders(one_trip_connection& conn,
                                     const std::vector<const transition_write*>& writes,
                                     const std::vector<uint32_t>& shard_of_write,
                                     const std::vector<uint32_t>& fence_shards);
std::optional<std::string> order_id_by_merchant_order_no(pqxx::transaction_base& tx,
                                                         const std::string& merchant_id,
                                                         const std::string& merchant_order_no);
std::optional<order_record> load_order(pqxx::work& tx, const std::string& id);
/// Empty if the order does not exist or belongs to another merchant.
std::vector<order_event_row> load_events(pqxx::work& tx, const std::string& order_id,
                                         const std::string& merchant_id);
order_page list_orders(pqxx::work& tx, const order_page_query& q);
/// Ids of orders the expiry timer can still move whose time is before `until`.
std::vector<std::string> due_for_expiry(pqxx::work& tx, timestamp_us until,
                                        uint32_t limit);

// --- channel_trades, callbacks, refunds (payments_table.cpp) ---------------
void upsert_trade(pqxx::work& tx, const trade_row& t);
void upsert_refund(pqxx::work& tx, const refund_row& r);
/// False when the notification was recorded before (a replay).
bool insert_callback(pqxx::work& tx, const callback_row& c);
/// Merchant events and their outbox rows (a webhook each; an SMS when
/// asked), in one statement.
void insert_merchant_events(pqxx::work& tx, const std::vector<merchant_event_row>& events);
/// GET /v1/events: event objects (JSON text) in creation order.
std::vector<std::string> merchant_events_page(pqxx::work& tx, const std::string& merchant_id,
                                              const std::string& starting_after, uint32_t limit);
// --- deliveries (outbox) ------------------------------------------------
/// Due deliveries, leased; none of `busy_merchants` (at their concurrency bound).
std::vector<delivery> claim_deliveries(pqxx::work& tx, uint32_t limit, uint32_t lease_ms,
                                       const std::vector<std::string>& busy_merchants);
bool record_delivery(pqxx::work& tx, const delivery_outcome& o);
/// The outcomes of a writer batch in one statement (one per outcome, in
/// order, when the batch names a delivery twice); for each, whether its row
/// was found.
std::vector<bool> record_deliveries(pqxx::work& tx, const std::vector<const delivery_outcome*>& outcomes);
/// Leases of a notifier that is gone are void: those ending before
/// `ending_before` (0: all, at start-up of the process).
bool unlease_deliveries(pqxx::work& tx, timestamp_us ending_before);
bool redeliver(pqxx::work& tx, const std::string& id);
/// Pending and dead outbox rows and the earliest pending attempt.
notifier_info outbox_summary(pqxx::work& tx);
/// Notifications as JSON text, newest first; status -1: any.
std::vector<std::string> list_deliveries(pqxx::work& tx, int status, uint32_t limit);
/// The side rows of a batch's applied writes, a few statements for all:
/// trades (one upsert), refunds (one each: rare), callbacks (one insert).
void write_side_rows(pqxx::work& tx, const std::vector<const transition_write*>& writes);
std::vector<refund_row> load_refunds(pqxx::work& tx, const std::string& order_id);
/// Orders the reconciler must look at, in id order after `after_id`.
std::vector<std::string> unsettled_orders(pqxx::work& tx, timestamp_us until, uint32_t limit,
                                          const std::string& after_id);

// --- merchants (merchants_table.cpp) ---------------------------------------
bool insert_merchant(pqxx::work& tx, const merchant_record& m,
                     const std::string& api_key_hash);
std::optional<merchant_record> merchant_by_key_hash(pqxx::work& tx,
                                                    const std::string& hash);
/// The merchant after the change; nothing if there is no such merchant.
std::optional<merchant_record> patch_merchant(pqxx::work& tx, const merchant_patch& p);

// --- idempotency_keys (idempotency_table.cpp) ------------------------------
idempotency_result claim_idempotency_key(pqxx::work& tx, const idempotency_claim& c);
bool complete_idempotency_key(pqxx::work& tx, const idempotency_entry& e);
bool release_idempotency_key(pqxx::work& tx, const std::string& merchant_id,
                             const std::string& key);

// --- ledger_accounts, ledger_transfers (ledger_table.cpp) -----------------
/// A wallet actor's write: insert the wallet (expected_version 0), or move
/// its sums under its version with the transfers' other sides, the
/// transfers and their events. Transfer ids found already: nothing written.
ledger_result write_ledger(pqxx::work& tx, const ledger_write& w);
/// The wallet, its open reservations, and the transfers `named` (by id or
/// as the reservation they end).
wallet_snapshot load_wallet(pqxx::work& tx, const std::string& id,
                            const std::vector<std::string>& named);
/// Newest first, after the cursor; `customer_ref` empty: any.
std::vector<wallet_record> list_wallets(pqxx::work& tx, const std::string& merchant_id,
                                        const std::string& customer_ref,
                                        const std::string& starting_after, uint32_t limit);
/// The wallet's posted movements, oldest first, after the cursor.
std::vector<transfer_row> wallet_transactions(pqxx::work& tx, const std::string& wallet_id,
                                              const std::string& starting_after, uint32_t limit);
/// accounts, debits_posted, credits_posted, debits_pending, credits_pending, wallets, transfers.
std::vector<int64_t> ledger_sums(pqxx::work& tx);
std::vector<std::string> wallets_with_expired_reservations(pqxx::work& tx, timestamp_us now,
                                                           uint32_t limit);
/// For the console: the wallets moved last, and the newest transfers.
std::vector<wallet_record> recent_wallets(pqxx::work& tx, uint32_t limit);
std::vector<transfer_row> recent_transfers(pqxx::work& tx, uint32_t limit);

// --- cluster_config, cluster_nodes, shard_leases (cluster_table.cpp) -------
/// The stored shard count (`wanted` if this is the first start), with one
/// lease row per shard.
uint32_t init_cluster(pqxx::work& tx, uint32_t wanted);
struct node_row {
  std::string id;
  std::string url;
  int64_t heartbeat_at_us = 0;
  bool live = false; // a heartbeat within the lease TTL
};
struct lease_row {
  uint32_t shard = 0;
  std::string owner; // "" = nobody
  uint64_t epoch = 0;
  int64_t expires_at_us = 0;
  bool expired = false;
  std::string owner_url;
};
/// Locks every lease row (in shard order) for this transaction.
void lock_leases(pqxx::work& tx);
void heartbeat(pqxx::work& tx, const std::string& node, const std::string& url);
std::vector<node_row> cluster_nodes(pqxx::work& tx, uint32_t ttl_ms);
std::vector<lease_row> shard_leases(pqxx::work& tx);
/// The subset of `held` still this node's under the same epoch, renewed.
shard_epochs renew_leases(pqxx::work& tx, const std::string& node, uint32_t ttl_ms,
                          const shard_epochs& held);
/// Takes those of `shards` that are free, expired or this node's; new epochs.
shard_epochs take_leases(pqxx::work& tx, const std::string& node, uint32_t ttl_ms,
                         const std::vector<uint32_t>& shards);
void release_leases(pqxx::work& tx, const std::string& node, const shard_epochs& held);
void leave_cluster(pqxx::work& tx, const std::string& node);
/// Fencing: the current epochs of `shards`, their rows locked FOR SHARE
/// until the transaction ends.
shard_epochs fence_epochs(pqxx::work& tx, const std::vector<uint32_t>& shards);

} // namespace payengine::storage
