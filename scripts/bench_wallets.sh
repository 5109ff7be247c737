#!/usr/bin/env bash
# Balance payments per second over real HTTP (POST /v1/orders/{id}/pay with
# {"method": "balance"}: reserve, commit paying, post, commit paid), with
# every client paying from the same few wallets; then, on the same database,
# pgbench running the same writes as one transaction per request under a
# row lock (SELECT ... FOR UPDATE on the wallet, update it, insert the
# transfer, update the order, insert its event).
#   scripts/bench_wallets.sh [seconds=15] [concurrent clients=64] [wallets=1]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
DURATION="${1:-15}"
CLIENTS="${2:-64}"
WALLETS="${3:-1}"
PORT=18195
SIM_PORT=18196
ADMIN_TOKEN="bench-admin-token-0123456789"

install_packages
build Release
pg_start
pg_create_db pe_bench_wallets
URL="$(pg_url pe_bench_wallets)"
KEYS="$("$ROOT/scripts/keys.sh")"

PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true' EXIT
start_paysim "$SIM_PORT" "$LOCAL_DIR/bench-paysim.log"
PIDS+=("$PAYSIM_PID")
# shellcheck disable=SC2086 # PAYENGINE_BENCH_FLAGS: several flags
PAYENGINE_LOG_LEVEL=warn start_engine "$PORT" "$SIM_PORT" "$URL" "$ADMIN_TOKEN" "$LOCAL_DIR/bench-engine.log" \
  --http-threads 512 ${PAYENGINE_BENCH_FLAGS:-} || { PIDS+=("$ENGINE_PID"); exit 1; }
PIDS+=("$ENGINE_PID")
KEY=$(curl -sf -X POST "http://127.0.0.1:$PORT/admin/merchants" -H "Authorization: Bearer $ADMIN_TOKEN" \
  -H 'Content-Type: application/json' -d '{"name":"bench"}' | jq -r .api_key)

log "engine: balance payments, $CLIENTS concurrent clients over $WALLETS wallet(s), ${DURATION}s (setup not timed)"
ENGINE_OUT=$("$BUILD_DIR/scripts/bench/pe_bench_balance" "$PORT" "$SIM_PORT" "$KEY" "$DURATION" "$CLIENTS" "$WALLETS" || true)
echo "$ENGINE_OUT"
PAYMENTS=$(echo "$ENGINE_OUT" | sed -nE 's/.*payments_per_s=([0-9.]+).*/\1/p')
METRICS=$(curl -sf "http://127.0.0.1:$PORT/metrics" -H "Authorization: Bearer $ADMIN_TOKEN" | grep -E "^payengine_wallet_(writes_total|operations_total|batch_max)|^payengine_storage_(batches_total|requests_total|commit_seconds_total|batch_size_max)|^payengine_wallet_conflicts" || true)
echo "$METRICS"
LEDGER=$(curl -sf "http://127.0.0.1:$PORT/admin/ledger?recent=0" -H "Authorization: Bearer $ADMIN_TOKEN")
echo "ledger: $LEDGER"
for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done

log "pgbench: the same writes, one transaction per request with a row lock, $CLIENTS clients, ${DURATION}s"
"$PG_BIN/psql" -X -q "$URL" <<SQL
INSERT INTO merchants (id, name, api_key_hash, webhook_secret, created_at)
  VALUES ('mch_pgbench', 'pgbench', 'pgbench', 'x', now()) ON CONFLICT DO NOTHING;
INSERT INTO ledger_accounts (id, kind, merchant_id, currency, created_at, updated_at)
  VALUES ('pay_mch_pgbench_CNY', 3, 'mch_pgbench', 'CNY', now(), now()) ON CONFLICT DO NOTHING;
INSERT INTO ledger_accounts (id, kind, merchant_id, currency, customer_ref, credits_posted, created_at, updated_at)
  SELECT 'wal_pgb' || w, 1, 'mch_pgbench', 'CNY', 'pgb' || w, 1000000000000, now(), now()
  FROM generate_series(0, $WALLETS - 1) w ON CONFLICT DO NOTHING;
INSERT INTO orders (id, merchant_id, merchant_order_no, amount, currency, subject, channel, status,
  created_at, updated_at, expires_at, version)
  SELECT 'ord_pgb' || n, 'mch_pgbench', 'PGB-' || n, 100, 'CNY', 'bench', 'alipay', 2, now(), now(),
    now() + interval '1 day', 1 FROM generate_series(1, 200000) n ON CONFLICT DO NOTHING;
SQL
PGB_OUT=$("$PG_BIN/pgbench" -n -M prepared -c "$CLIENTS" -j 2 -T "$DURATION" -D wallets="$WALLETS" \
  -f "$ROOT/scripts/bench/balance_payment.pgbench" "$URL" 2>&1)
echo "$PGB_OUT" | grep -E "^tps|latency average|failed"
PGB=$(echo "$PGB_OUT" | awk '/^tps/ {print $3; exit}')
echo
echo "engine_payments_per_s=$PAYMENTS"
echo "pgbench_payments_per_s=$PGB (one transaction, one row lock per payment)"
awk -v a="$PAYMENTS" -v b="$PGB" 'BEGIN { printf "ratio=%.2f\n", a / b }'
