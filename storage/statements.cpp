// Every SQL statement of the engine, prepared once per connection, grouped
// by table. Timestamps are bigint microseconds (pe_ts / pe_us, migration 001).
#include "storage/database.hpp"

#include <string>

namespace payengine::storage {

namespace {

#define PE_ORDER_COLUMNS                                                       \
  "id, merchant_id, merchant_order_no, amount, currency, subject, channel, "   \
  "status, amount_refunded, notify_url, customer_phone, metadata::text, "      \
  "payment_attempt, channel_trade_no, qr_code, coalesce(pe_us(paid_at), 0), "  \
  "failure_reason, fulfillment_stage, pe_us(created_at), pe_us(updated_at), "  \
  "pe_us(expires_at), version, topup_wallet, payment_method, payment_wallet, "  \
  "payment_channel, payment_tried"

/// A batch of new orders as rows: one array parameter per column ($1-$20,
/// then `more` columns, named after `shard`).
std::string new_orders_input(const std::string& more) {
  return "input AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[],"
         "  $4::bigint[], $5::text[], $6::text[], $7::text[], $8::smallint[],"
         "  $9::text[], $10::text[], $11::jsonb[], $12::bigint[], $13::bigint[],"
         "  $14::bigint[], $15::text[], $16::bigint[], $17::jsonb[], $18::text[],"
         "  $19::bigint[], $20::text[]" + more + ")"
         "  AS t(id, merchant_id, merchant_order_no, amount, currency, subject,"
         "  channel, status, notify_url, customer_phone, metadata, created_at,"
         "  expires_at, version, ev_type, ev_at, ev_detail, ev_request_id, epoch,"
         "  topup_wallet" + std::string{more.empty() ? "" : ", shard"} + "))";
}

/// Inserts the orders of `rows` (o, RETURNING id) and each one's first event.
std::string new_orders_insert(const std::string& rows) {
  return "o AS (INSERT INTO orders (id, merchant_id, merchant_order_no, amount,"
         "  currency, subject, channel, status, notify_url, customer_phone,"
         "  metadata, created_at, updated_at, expires_at, version, topup_wallet)"
         "  SELECT id, merchant_id, merchant_order_no, amount, currency, subject,"
         "  channel, status, notify_url, customer_phone, metadata,"
         "  pe_ts(created_at), pe_ts(created_at), pe_ts(expires_at), version, topup_wallet"
         "  FROM " + rows + " ON CONFLICT (merchant_id, merchant_order_no) DO NOTHING"
         "  RETURNING id),"
         " e AS (INSERT INTO order_events (order_id, seq, type, from_status,"
         "  to_status, at, detail, request_id, epoch)"
         "  SELECT i.id, i.version, i.ev_type, NULL, i.status, pe_ts(i.ev_at),"
         "  i.ev_detail, i.ev_request_id, i.epoch FROM " + rows + " i JOIN o ON o.id = i.id)";
}

void prepare_orders(pqxx::connection& c) {
  // A whole batch of new orders in one statement: one array per column,
  // unnested into rows. Each order's first event is written with it; a
  // taken merchant_order_no inserts nothing. Returns the inserted ids.
  c.prepare("orders_insert_batch", new_orders_sql(false));
  c.prepare("orders_id_by_merchant_order_no",
            "SELECT id FROM orders WHERE merchant_id = $1 AND merchant_order_no = $2");
  // A whole batch of transitions in one statement, each checked against its
  // expected version (rule 2), each with its event. Returns the moved ids.
  c.prepare("orders_update_batch",
            "WITH input AS (SELECT * FROM unnest($1::text[], $2::bigint[],"
            "  $3::smallint[], $4::bigint[], $5::integer[], $6::text[], $7::text[],"
            "  $8::bigint[], $9::text[], $10::smallint[], $11::bigint[], $12::bigint[],"
            "  $13::text[], $14::smallint[], $15::smallint[], $16::bigint[],"
            "  $17::jsonb[], $18::text[], $19::bigint[], $20::text[], $21::text[],"
            "  $22::text[], $23::text[])"
            "  AS t(id, expected_version, status, amount_refunded, payment_attempt,"
            "  channel_trade_no, qr_code, paid_at, failure_reason, fulfillment_stage,"
            "  updated_at, version, ev_type, ev_from, ev_to, ev_at, ev_detail,"
            "  ev_request_id, epoch, payment_method, payment_wallet, payment_channel,"
            "  payment_tried)),"
            " u AS (UPDATE orders o SET status = i.status,"
            "  amount_refunded = i.amount_refunded, payment_attempt = i.payment_attempt,"
            "  channel_trade_no = i.channel_trade_no, qr_code = i.qr_code,"
            "  paid_at = CASE WHEN i.paid_at = 0 THEN NULL ELSE pe_ts(i.paid_at) END,"
            "  failure_reason = i.failure_reason, fulfillment_stage = i.fulfillment_stage,"
            "  updated_at = pe_ts(i.updated_at), version = i.version,"
            "  payment_method = i.payment_method, payment_wallet = i.payment_wallet,"
            "  payment_channel = i.payment_channel, payment_tried = i.payment_tried"
            "  FROM input i WHERE o.id = i.id AND o.version = i.expected_version"
            "  RETURNING o.id),"
            " e AS (INSERT INTO order_events (order_id, seq, type, from_status,"
            "  to_status, at, detail, request_id, epoch)"
            "  SELECT i.id, i.version, i.ev_type, i.ev_from, i.ev_to, pe_ts(i.ev_at),"
            "  i.ev_detail, i.ev_request_id, i.epoch FROM input i JOIN u ON u.id = i.id)"
            " SELECT id FROM u");
  c.prepare("order_events_insert",
            "INSERT INTO order_events (order_id, seq, type, from_status,"
            " to_status, at, detail, request_id, epoch)"
            " VALUES ($1, $2, $3, NULLIF($4::smallint, 0), $5, pe_ts($6), $7::jsonb, $8, $9)");
  c.prepare("orders_load", "SELECT " PE_ORDER_COLUMNS " FROM orders WHERE id = $1");
  c.prepare("order_events_load",
            "SELECT e.order_id, e.seq, e.type, coalesce(e.from_status, 0),"
            " e.to_status, pe_us(e.at), e.detail::text, e.request_id"
            " FROM order_events e JOIN orders o ON o.id = e.order_id"
            " WHERE e.order_id = $1 AND ($2 = '' OR o.merchant_id = $2)"
            " ORDER BY e.seq");
  // Newest first; the cursor is the last id of the previous page. $2 = 0: any status.
  c.prepare("orders_page",
            "SELECT " PE_ORDER_COLUMNS " FROM orders"
            " WHERE merchant_id = $1 AND ($2 = 0 OR status = $2)"
            " AND ($3 = '' OR (created_at, id) < (SELECT created_at, id FROM orders"
            "   WHERE id = $3 AND merchant_id = $1))"
            " ORDER BY created_at DESC, id DESC LIMIT $4");
  c.prepare("orders_due_for_expiry",
            "SELECT id FROM orders WHERE status IN (1, 2, 3, 5)"
            " AND expires_at <= pe_ts($1) ORDER BY expires_at LIMIT $2");
}

// What merchant_from_row reads (merchants_table.cpp), in this order.
#define PE_MERCHANT_COLUMNS "id, name, notify_url, webhook_secret, pe_us(created_at), rate_per_s, burst"

void prepare_merchants(pqxx::connection& c) {
  c.prepare("merchants_insert",
            "INSERT INTO merchants (id, name, notify_url, api_key_hash,"
            " webhook_secret, created_at, rate_per_s, burst)"
            " VALUES ($1, $2, $3, $4, $5, pe_ts($6), $7, $8)"
            " ON CONFLICT DO NOTHING");
  c.prepare("merchants_by_key_hash",
            "SELECT " PE_MERCHANT_COLUMNS " FROM merchants WHERE api_key_hash = $1");
  // One statement: the fields whose flag is set change, the others stay.
  c.prepare("merchants_patch",
            "UPDATE merchants SET"
            " name = CASE WHEN $2 THEN $3 ELSE name END,"
            " notify_url = CASE WHEN $4 THEN $5 ELSE notify_url END,"
            " rate_per_s = CASE WHEN $6 THEN $7 ELSE rate_per_s END,"
            " burst = CASE WHEN $8 THEN $9 ELSE burst END"
            " WHERE id = $1 RETURNING " PE_MERCHANT_COLUMNS);
}

void prepare_idempotency(pqxx::connection& c) {
  // Claims a new key, or takes over one whose holder died (locked too long
  // ago, never completed) when the request is the same.
  c.prepare("idempotency_claim",
            "INSERT INTO idempotency_keys AS k (merchant_id, key, fingerprint,"
            " locked_at, created_at) VALUES ($1, $2, $3, now(), now())"
            " ON CONFLICT (merchant_id, key) DO UPDATE SET locked_at = now()"
            " WHERE k.status IS NULL AND k.fingerprint = EXCLUDED.fingerprint"
            " AND k.locked_at < now() - interval '60 seconds'"
            " RETURNING 1");
  c.prepare("idempotency_get",
            "SELECT fingerprint, coalesce(status, 0), coalesce(response_body, '')"
            " FROM idempotency_keys WHERE merchant_id = $1 AND key = $2");
  c.prepare("idempotency_complete",
            "UPDATE idempotency_keys SET status = $3, response_body = $4"
            " WHERE merchant_id = $1 AND key = $2 AND status IS NULL");
  c.prepare("idempotency_release",
            "DELETE FROM idempotency_keys"
            " WHERE merchant_id = $1 AND key = $2 AND status IS NULL");
}

void prepare_payments(pqxx::connection& c) {
  c.prepare("trades_upsert",
            "INSERT INTO channel_trades (out_trade_no, order_id, attempt, channel, amount,"
            " state, qr_code, channel_trade_no, paid_amount, paid_at, detail, created_at,"
            " updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,"
            " CASE WHEN $10::bigint = 0 THEN NULL ELSE pe_ts($10) END, $11, pe_ts($12), pe_ts($12))"
            " ON CONFLICT (out_trade_no) DO UPDATE SET state = EXCLUDED.state,"
            " qr_code = EXCLUDED.qr_code, channel_trade_no = EXCLUDED.channel_trade_no,"
            " paid_amount = EXCLUDED.paid_amount, paid_at = EXCLUDED.paid_at,"
            " detail = EXCLUDED.detail, updated_at = EXCLUDED.updated_at");
  // The same for a whole batch (storage/payments_table.cpp, upsert_trades):
  // never two rows of one trade in it.
  c.prepare("trades_upsert_batch",
            "INSERT INTO channel_trades (out_trade_no, order_id, attempt, channel, amount,"
            " state, qr_code, channel_trade_no, paid_amount, paid_at, detail, created_at,"
            " updated_at) SELECT out_trade_no, order_id, attempt, channel, amount, state,"
            " qr_code, channel_trade_no, paid_amount,"
            " CASE WHEN paid_at = 0 THEN NULL ELSE pe_ts(paid_at) END, detail, pe_ts(at), pe_ts(at)"
            " FROM unnest($1::text[], $2::text[], $3::integer[], $4::text[], $5::bigint[],"
            " $6::smallint[], $7::text[], $8::text[], $9::bigint[], $10::bigint[], $11::text[],"
            " $12::bigint[]) AS t(out_trade_no, order_id, attempt, channel, amount, state, qr_code,"
            " channel_trade_no, paid_amount, paid_at, detail, at)"
            " ON CONFLICT (out_trade_no) DO UPDATE SET state = EXCLUDED.state,"
            " qr_code = EXCLUDED.qr_code, channel_trade_no = EXCLUDED.channel_trade_no,"
            " paid_amount = EXCLUDED.paid_amount, paid_at = EXCLUDED.paid_at,"
            " detail = EXCLUDED.detail, updated_at = EXCLUDED.updated_at");
  c.prepare("refunds_upsert",
            "INSERT INTO refunds (id, order_id, out_trade_no, amount, reason, status,"
            " failure_reason, created_at, updated_at, origin, channel)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, pe_ts($8), pe_ts($9), $10, $11)"
            " ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status,"
            " failure_reason = EXCLUDED.failure_reason, updated_at = EXCLUDED.updated_at"
            " WHERE refunds.status = 0"); // a settled refund never moves again
  c.prepare("callbacks_insert",
            "INSERT INTO callbacks (channel, notify_id, out_trade_no, trade_status, amount,"
            " outcome, received_at) VALUES ($1, $2, $3, $4, $5, $6, pe_ts($7))"
            " ON CONFLICT DO NOTHING");
  c.prepare("callbacks_insert_batch",
            "INSERT INTO callbacks (channel, notify_id, out_trade_no, trade_status, amount,"
            " outcome, received_at) SELECT channel, notify_id, out_trade_no, trade_status, amount,"
            " outcome, pe_ts(received_at) FROM unnest($1::text[], $2::text[], $3::text[],"
            " $4::text[], $5::bigint[], $6::text[], $7::bigint[])"
            " AS t(channel, notify_id, out_trade_no, trade_status, amount, outcome, received_at)"
            " ON CONFLICT DO NOTHING");
  c.prepare("refunds_by_order",
            "SELECT id, order_id, out_trade_no, amount, reason, status, failure_reason,"
            " pe_us(created_at), pe_us(updated_at), origin, channel FROM refunds WHERE order_id = $1"
            " ORDER BY created_at, id");
  // What the reconciler drives to its true state, a page at a time (ids
  // after the cursor $3): orders waiting on a channel since before $1,
  // orders with refunds still pending, and cancelled or expired orders whose
  // trade may still be open at the channel.
  c.prepare("orders_unsettled",
            "SELECT id FROM ("
            "  SELECT id FROM orders WHERE status IN (2, 3) AND updated_at <= pe_ts($1)"
            "  UNION SELECT order_id FROM refunds WHERE status = 0 AND updated_at <= pe_ts($1)"
            "  UNION SELECT t.order_id FROM channel_trades t JOIN orders o ON o.id = t.order_id"
            "   WHERE t.state IN (0, 1) AND o.status IN (6, 7) AND t.updated_at <= pe_ts($1)"
            // paid top-ups whose wallet credit (domain::topup_transfer_id) is not stored
            "  UNION SELECT o.id FROM orders o WHERE o.topup_wallet <> '' AND o.paid_at IS NOT NULL"
            "   AND o.updated_at <= pe_ts($1) AND NOT EXISTS (SELECT 1 FROM ledger_transfers t"
            "   WHERE t.id = 'trf_' || left(encode(sha256(convert_to('payengine/ledger/topup/'"
            "   || o.id, 'UTF8')), 'hex'), 32))"
            " ) u WHERE id > $3 ORDER BY id LIMIT $2");
}

void prepare_merchant_events(pqxx::connection& c) {
  // A batch's merchant events and their deliveries in one statement (one
  // round trip). The events go in the batch's order (their seq follows
  // it); the outbox rows' foreign key to them is checked at the end of
  // the statement, when both inserts are done, whichever ran first. The
  // deliveries are due at once; the notifier takes them from there.
  c.prepare("events_insert_batch",
            "WITH e AS (INSERT INTO merchant_events (id, merchant_id, order_id, type, created_at, data)"
            " SELECT id, merchant_id, order_id, type, pe_ts(created_at), data"
            " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::jsonb[])"
            " WITH ORDINALITY AS t(id, merchant_id, order_id, type, created_at, data, n) ORDER BY n)"
            " INSERT INTO outbox (id, event_id, merchant_id, kind, target, status,"
            " next_attempt_at, created_at, updated_at)"
            " SELECT id, event_id, merchant_id, kind, target, 0, pe_ts(at), pe_ts(at), pe_ts(at)"
            " FROM unnest($7::text[], $8::text[], $9::text[], $10::smallint[], $11::text[], $12::bigint[])"
            " AS t(id, event_id, merchant_id, kind, target, at)");
  // Takes due deliveries for `lease` ms: the event object, the target
  // resolved (the order's notify_url, else the merchant's) and the secret.
  c.prepare("outbox_claim",
            "WITH due AS (SELECT id FROM outbox WHERE status = 0 AND next_attempt_at <= now()"
            "  AND (leased_until IS NULL OR leased_until < now())"
            "  AND merchant_id <> ALL($3::text[])" // merchants at their bound wait in storage
            "  ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED),"
            " leased AS (UPDATE outbox o SET leased_until = now() + $2 * interval '1 millisecond'"
            "  FROM due WHERE o.id = due.id RETURNING o.*)"
            " SELECT l.id, l.event_id, l.merchant_id, l.kind,"
            "  CASE WHEN l.kind = 1 AND l.target = '' THEN m.notify_url ELSE l.target END,"
            "  m.webhook_secret,"
            "  json_build_object('id', e.id, 'object', 'event', 'type', e.type, 'created_at',"
            "   to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
            "   'data', e.data)::text,"
            "  e.type, l.attempts"
            " FROM leased l JOIN merchant_events e ON e.id = l.event_id"
            " JOIN merchants m ON m.id = l.merchant_id");
  // Attempts' outcomes, one parameter per column (unnest): each attempt's row
  // (kept once), and its delivery's state; the ids updated are returned. The
  // caller names each delivery once (a statement updates a row once).
  c.prepare("outbox_record",
            "WITH o AS (SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[],"
            "   $5::bigint[], $6::text[], $7::bigint[], $8::bigint[])"
            "   AS t(id, attempt, at, status_code, latency_ms, error, status, next_at)),"
            " a AS (INSERT INTO delivery_attempts (outbox_id, attempt, at, status_code, latency_ms, error)"
            "   SELECT id, attempt::integer, pe_ts(at), status_code::integer, latency_ms::integer, error"
            "   FROM o ON CONFLICT DO NOTHING)"
            " UPDATE outbox SET attempts = o.attempt::integer, last_status = o.status_code::integer,"
            "  last_error = o.error, status = o.status::smallint, leased_until = NULL,"
            "  updated_at = pe_ts(o.at),"
            "  delivered_at = CASE WHEN o.status = 1 THEN pe_ts(o.at) END,"
            "  next_attempt_at = CASE WHEN o.next_at = 0 THEN outbox.next_attempt_at ELSE pe_ts(o.next_at) END"
            " FROM o WHERE outbox.id = o.id RETURNING outbox.id");
  // Leases that end before $1 (0: all of them) are void.
  c.prepare("outbox_unlease", "UPDATE outbox SET leased_until = NULL WHERE leased_until IS NOT NULL"
                              " AND ($1::bigint = 0 OR leased_until < pe_ts($1))");
  c.prepare("outbox_redeliver",
            "UPDATE outbox SET status = 0, next_attempt_at = now(), leased_until = NULL,"
            " updated_at = now() WHERE id = $1 AND status <> 0");
  c.prepare("outbox_list",
            "SELECT json_build_object('id', o.id, 'object', 'notification', 'event_id', o.event_id,"
            " 'event_type', e.type, 'order_id', e.order_id, 'merchant_id', o.merchant_id,"
            " 'kind', CASE o.kind WHEN 1 THEN 'webhook' ELSE 'sms' END, 'target', o.target,"
            " 'status', CASE o.status WHEN 0 THEN 'pending' WHEN 1 THEN 'delivered' ELSE 'dead' END,"
            " 'attempts', o.attempts, 'last_status', o.last_status, 'last_error', o.last_error,"
            " 'next_attempt_at', pe_rfc3339(o.next_attempt_at), 'created_at', pe_rfc3339(o.created_at),"
            " 'history', (SELECT coalesce(json_agg(json_build_object('attempt', a.attempt, 'at', pe_rfc3339(a.at),"
            "   'status_code', a.status_code, 'latency_ms', a.latency_ms, 'error', a.error)"
            "   ORDER BY a.attempt), '[]') FROM delivery_attempts a WHERE a.outbox_id = o.id))::text"
            " FROM outbox o JOIN merchant_events e ON e.id = o.event_id"
            " WHERE $1 = -1 OR o.status = $1 ORDER BY o.created_at DESC LIMIT $2");
  // The notifier's queue: pending rows (outbox_due), dead letters (outbox_by_status).
  c.prepare("outbox_summary",
            "SELECT (SELECT count(*) FROM outbox WHERE status = 0),"
            " (SELECT count(*) FROM outbox WHERE status = 2),"
            " (SELECT coalesce(pe_us(min(next_attempt_at)), 0) FROM outbox WHERE status = 0)");
  // Creation order after the cursor event; the event objects built here.
  c.prepare("merchant_events_page",
            "SELECT json_build_object('id', id, 'object', 'event', 'type', type,"
            " 'created_at', pe_rfc3339(created_at),"
            " 'data', data)::text FROM merchant_events"
            " WHERE merchant_id = $1 AND ($2 = '' OR seq > (SELECT seq FROM merchant_events"
            "   WHERE id = $2 AND merchant_id = $1))"
            " ORDER BY seq LIMIT $3");
}

/// Shards and their leases (migration 007, storage/cluster_table.cpp).
void prepare_cluster(pqxx::connection& c) {
  // Fencing: the epochs of a batch's shards, their rows locked FOR SHARE
  // until the batch commits (in shard order: no deadlock with a keeper,
  // which locks every row in that order), so that no epoch can be bumped
  // between this check and the commit.
  c.prepare("cluster_fence",
            "SELECT shard, epoch FROM shard_leases WHERE shard = ANY($1::integer[])"
            " ORDER BY shard FOR SHARE");
  c.prepare("cluster_lock_all",
            "SELECT shard FROM shard_leases ORDER BY shard FOR NO KEY UPDATE");
  c.prepare("cluster_heartbeat",
            "INSERT INTO cluster_nodes (id, url, heartbeat_at) VALUES ($1, $2, clock_timestamp())"
            " ON CONFLICT (id) DO UPDATE SET url = excluded.url, heartbeat_at = excluded.heartbeat_at");
  c.prepare("cluster_nodes",
            "SELECT id, url, pe_us(heartbeat_at),"
            " heartbeat_at > clock_timestamp() - $1 * interval '1 millisecond'"
            " FROM cluster_nodes ORDER BY id");
  c.prepare("cluster_leases",
            "SELECT l.shard, l.owner, l.epoch, pe_us(l.expires_at),"
            " l.expires_at < clock_timestamp(), coalesce(n.url, '')"
            " FROM shard_leases l LEFT JOIN cluster_nodes n ON n.id = l.owner ORDER BY l.shard");
  // Renews what this node holds under the epochs it knows; returns them.
  c.prepare("cluster_renew",
            "UPDATE shard_leases l SET expires_at = clock_timestamp() + $2 * interval '1 millisecond'"
            " FROM unnest($3::integer[], $4::bigint[]) AS h(shard, epoch)"
            " WHERE l.shard = h.shard AND l.epoch = h.epoch AND l.owner = $1"
            " RETURNING l.shard, l.epoch");
  // Takes free, expired (or own, from a previous life) shards: a new epoch.
  c.prepare("cluster_take",
            "UPDATE shard_leases SET owner = $1, epoch = epoch + 1,"
            " expires_at = clock_timestamp() + $2 * interval '1 millisecond'"
            " WHERE shard = ANY($3::integer[])"
            " AND (owner = '' OR owner = $1 OR expires_at < clock_timestamp())"
            " RETURNING shard, epoch");
  c.prepare("cluster_release",
            "UPDATE shard_leases l SET owner = '', expires_at = 'epoch'"
            " FROM unnest($2::integer[], $3::bigint[]) AS h(shard, epoch)"
            " WHERE l.shard = h.shard AND l.epoch = h.epoch AND l.owner = $1");
  c.prepare("cluster_leave", "DELETE FROM cluster_nodes WHERE id = $1");
}

#define PE_WALLET_COLUMNS                                                      \
  "id, merchant_id, customer_ref, currency, customer_phone, debits_posted, "  \
  "credits_posted, debits_pending, credits_pending, pe_us(created_at), "      \
  "pe_us(updated_at), version"

#define PE_TRANSFER_COLUMNS                                                    \
  "id, debit_account, credit_account, amount, currency, phase, "              \
  "coalesce(pending_id, ''), type, wallet_id, order_id, wallet_amount, "      \
  "ending_balance, wallet_seq, coalesce(pe_us(timeout_at), 0), pe_us(created_at)"

void prepare_ledger(pqxx::connection& c) {
  c.prepare("wallet_insert",
            "INSERT INTO ledger_accounts (id, kind, merchant_id, currency, customer_ref,"
            " customer_phone, created_at, updated_at, version)"
            " VALUES ($1, 1, $2, $3, $4, $5, pe_ts($6), pe_ts($6), 1)"
            " ON CONFLICT DO NOTHING RETURNING id");
  c.prepare("wallet_by_customer",
            "SELECT id FROM ledger_accounts WHERE kind = 1 AND merchant_id = $1"
            " AND customer_ref = $2 AND currency = $3");
  c.prepare("wallet_load",
            "SELECT " PE_WALLET_COLUMNS " FROM ledger_accounts WHERE id = $1 AND kind = 1");
  // The wallet's sums move by the deltas of its transfers, under its
  // optimistic version; the new sums come back to be checked.
  c.prepare("wallet_update",
            "UPDATE ledger_accounts SET debits_posted = debits_posted + $2,"
            " credits_posted = credits_posted + $3, debits_pending = debits_pending + $4,"
            " credits_pending = credits_pending + $5, updated_at = pe_ts($6), version = $7"
            " WHERE id = $1 AND kind = 1 AND version = $8"
            " RETURNING debits_posted, credits_posted, debits_pending, credits_pending");
  c.prepare("account_ensure",
            "INSERT INTO ledger_accounts (id, kind, merchant_id, currency, created_at, updated_at)"
            " VALUES ($1, $2, $3, $4, pe_ts($5), pe_ts($5)) ON CONFLICT (id) DO NOTHING");
  c.prepare("account_add",
            "UPDATE ledger_accounts SET debits_posted = debits_posted + $2,"
            " credits_posted = credits_posted + $3, debits_pending = debits_pending + $4,"
            " credits_pending = credits_pending + $5, updated_at = greatest(updated_at, pe_ts($6))"
            " WHERE id = $1 AND kind <> 1");
  // A whole write's transfers in one statement, in order (their `seq`
  // follows it: a wallet's transactions chain by it).
  c.prepare("transfers_insert_batch",
            "INSERT INTO ledger_transfers (id, debit_account, credit_account, amount, currency,"
            " phase, pending_id, type, wallet_id, order_id, wallet_amount, ending_balance,"
            " wallet_seq, timeout_at, created_at)"
            " SELECT id, debit_account, credit_account, amount, currency, phase, NULLIF(pending_id, ''),"
            " type, wallet_id, order_id, wallet_amount, ending_balance, wallet_seq,"
            " CASE WHEN timeout_at = 0 THEN NULL ELSE pe_ts(timeout_at) END, pe_ts(created_at)"
            " FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::smallint[],"
            "  $7::text[], $8::smallint[], $9::text[], $10::text[], $11::bigint[], $12::bigint[],"
            "  $13::bigint[], $14::bigint[], $15::bigint[]) WITH ORDINALITY"
            "  AS t(id, debit_account, credit_account, amount, currency, phase, pending_id, type,"
            "  wallet_id, order_id, wallet_amount, ending_balance, wallet_seq, timeout_at, created_at, n)"
            " ORDER BY n");
  c.prepare("transfers_existing",
            "SELECT " PE_TRANSFER_COLUMNS " FROM ledger_transfers WHERE id = ANY($1::text[])");
  c.prepare("wallet_reservations",
            "SELECT " PE_TRANSFER_COLUMNS " FROM ledger_transfers p WHERE p.wallet_id = $1"
            " AND p.phase = 1 AND NOT EXISTS (SELECT 1 FROM ledger_transfers e"
            "  WHERE e.pending_id = p.id) ORDER BY p.seq");
  // A transfer named by an operation, and the post or void that ended it.
  c.prepare("transfers_named",
            "SELECT " PE_TRANSFER_COLUMNS " FROM ledger_transfers"
            " WHERE id = ANY($1::text[]) OR pending_id = ANY($1::text[]) ORDER BY seq");
  c.prepare("wallets_page",
            "SELECT " PE_WALLET_COLUMNS " FROM ledger_accounts WHERE kind = 1 AND merchant_id = $1"
            " AND ($2 = '' OR customer_ref = $2)"
            " AND ($3 = '' OR (created_at, id) < (SELECT created_at, id FROM ledger_accounts"
            "  WHERE id = $3 AND kind = 1))"
            " ORDER BY created_at DESC, id DESC LIMIT $4");
  // Oldest first; a wallet sees its posted movements only.
  c.prepare("wallet_transactions",
            "SELECT " PE_TRANSFER_COLUMNS " FROM ledger_transfers WHERE wallet_id = $1"
            " AND wallet_amount <> 0"
            " AND seq > CASE WHEN $2 = '' THEN 0 ELSE (SELECT seq FROM ledger_transfers"
            "  WHERE id = $2 AND wallet_id = $1) END"
            " ORDER BY seq LIMIT $3");
  c.prepare("ledger_totals",
            "SELECT count(*), coalesce(sum(debits_posted), 0), coalesce(sum(credits_posted), 0),"
            " coalesce(sum(debits_pending), 0), coalesce(sum(credits_pending), 0),"
            " count(*) FILTER (WHERE kind = 1), (SELECT count(*) FROM ledger_transfers)"
            " FROM ledger_accounts");
  c.prepare("wallets_with_expired_reservations",
            "SELECT DISTINCT p.wallet_id FROM ledger_transfers p WHERE p.phase = 1"
            " AND p.timeout_at < pe_ts($1) AND NOT EXISTS (SELECT 1 FROM ledger_transfers e"
            "  WHERE e.pending_id = p.id) LIMIT $2");
  c.prepare("wallets_recent",
            "SELECT " PE_WALLET_COLUMNS " FROM ledger_accounts WHERE kind = 1"
            " ORDER BY updated_at DESC LIMIT $1");
  c.prepare("transfers_recent",
            "SELECT " PE_TRANSFER_COLUMNS " FROM ledger_transfers ORDER BY seq DESC LIMIT $1");
}

} // namespace

const std::string& new_orders_sql(bool fenced) {
  // With fencing (several nodes), for a batch that is the whole transaction
  // (storage/one_trip.hpp): the lease rows of the orders' shards ($22) are
  // locked FOR SHARE until the commit, as cluster_fence does, and an order
  // is written only under its shard's ($21) stored epoch. Returns the
  // inserted ids (kind 0) and the epochs read (kind 1).
  static const std::string plain =
    "WITH " + new_orders_input("") + ", " + new_orders_insert("input") + " SELECT id FROM o";
  static const std::string with_fence =
    "WITH " + new_orders_input(", $21::integer[]") + ","
    " f AS MATERIALIZED (SELECT shard, epoch FROM shard_leases"
    "  WHERE shard = ANY($22::integer[]) ORDER BY shard FOR SHARE),"
    " held AS (SELECT i.* FROM input i JOIN f ON f.shard = i.shard AND f.epoch = i.epoch), "
    + new_orders_insert("held")
    + " SELECT 0, id, 0::bigint FROM o UNION ALL SELECT 1, shard::text, epoch FROM f";
  return fenced ? with_fence : plain;
}

void prepare_statements(pqxx::connection& c) {
  prepare_ledger(c);
  prepare_cluster(c);
  prepare_merchant_events(c);
  prepare_payments(c);
  prepare_orders(c);
  prepare_merchants(c);
  prepare_idempotency(c);
}

} // namespace payengine::storage
