// Every SQL statement of the engine, prepared once per connection, grouped
// by table. Timestamps are bigint microseconds (pe_ts / pe_us, migration 001).
#include "storage/database.hpp"

namespace payengine::storage {

namespace {

#define PE_ORDER_COLUMNS                                                       \
  "id, merchant_id, merchant_order_no, amount, currency, subject, channel, "   \
  "status, amount_refunded, notify_url, customer_phone, metadata::text, "      \
  "payment_attempt, channel_trade_no, qr_code, coalesce(pe_us(paid_at), 0), "  \
  "failure_reason, fulfillment_stage, pe_us(created_at), pe_us(updated_at), "  \
  "pe_us(expires_at), version"

void prepare_orders(pqxx::connection& c) {
  // One round trip: the row and its first event, or nothing on a duplicate.
  c.prepare("orders_insert",
            "WITH o AS ("
            " INSERT INTO orders (id, merchant_id, merchant_order_no, amount,"
            "  currency, subject, channel, status, notify_url, customer_phone,"
            "  metadata, created_at, updated_at, expires_at, version)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb,"
            "  pe_ts($12), pe_ts($12), pe_ts($13), $14)"
            " ON CONFLICT (merchant_id, merchant_order_no) DO NOTHING"
            " RETURNING id)"
            " INSERT INTO order_events (order_id, seq, type, from_status,"
            "  to_status, at, detail, request_id)"
            " SELECT id, $14, $15, NULL, $8, pe_ts($16), $17::jsonb, $18 FROM o");
  c.prepare("orders_id_by_merchant_order_no",
            "SELECT id FROM orders WHERE merchant_id = $1 AND merchant_order_no = $2");
  // One round trip: the version-checked update and its event.
  c.prepare("orders_update",
            "WITH u AS ("
            " UPDATE orders SET status = $3, amount_refunded = $4,"
            "  payment_attempt = $5, channel_trade_no = $6, qr_code = $7,"
            "  paid_at = CASE WHEN $8::bigint = 0 THEN NULL ELSE pe_ts($8) END,"
            "  failure_reason = $9, fulfillment_stage = $10,"
            "  updated_at = pe_ts($11), version = $12"
            " WHERE id = $1 AND version = $2"
            " RETURNING id)"
            " INSERT INTO order_events (order_id, seq, type, from_status,"
            "  to_status, at, detail, request_id)"
            " SELECT id, $12, $13, $14, $15, pe_ts($16), $17::jsonb, $18 FROM u");
  c.prepare("order_events_insert",
            "INSERT INTO order_events (order_id, seq, type, from_status,"
            " to_status, at, detail, request_id)"
            " VALUES ($1, $2, $3, NULLIF($4::smallint, 0), $5, pe_ts($6), $7::jsonb, $8)");
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

void prepare_merchants(pqxx::connection& c) {
  c.prepare("merchants_insert",
            "INSERT INTO merchants (id, name, notify_url, api_key_hash,"
            " webhook_secret, created_at) VALUES ($1, $2, $3, $4, $5, pe_ts($6))"
            " ON CONFLICT DO NOTHING");
  c.prepare("merchants_by_key_hash",
            "SELECT id, name, notify_url, webhook_secret, pe_us(created_at)"
            " FROM merchants WHERE api_key_hash = $1");
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

} // namespace

void prepare_statements(pqxx::connection& c) {
  prepare_orders(c);
  prepare_merchants(c);
  prepare_idempotency(c);
}

} // namespace payengine::storage
