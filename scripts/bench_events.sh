#!/usr/bin/env bash
# Events on RabbitMQ, measured (docs/benchmarks.md, "Events on RabbitMQ"):
#  1. the added latency, commit -> message in a consumer's hands, under the
#     payment benchmark's load (pe_bench_payment_cycles, CUSTOMERS) and under
#     a light one (4 customers): a consumer bound to '#' records when each
#     event arrives; PostgreSQL (track_commit_timestamp) says when the
#     transaction that wrote it committed;
#  2. the same load with no broker configured: the API's figure without the
#     relay (and a backlog of unpublished events);
#  3. the engine restarted with the broker: how fast it publishes a backlog
#     (that one, copied COPIES times) with publisher confirms.
#   scripts/bench_events.sh [seconds=15] [customers=64] [copies=20]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
DURATION="${1:-15}"
CLIENTS="${2:-64}"
COPIES="${3:-20}"
PORT=18193
SIM_PORT=18194
ADMIN_TOKEN="bench-admin-token-0123456789"

install_packages
build Release
pg_start
# When each transaction committed (for the latency): on for this run only.
"$PG_BIN/psql" -X -q "$(pg_url postgres)" -c "ALTER SYSTEM SET track_commit_timestamp = on"
pg_stop
pg_start
rabbitmq_start
pg_create_db pe_bench_events
URL="$(pg_url pe_bench_events)"
AMQP="$(amqp_url)"
KEYS="$("$ROOT/scripts/keys.sh")"
SQL=("$PG_BIN/psql" -X -qtA "$URL")
CYCLES_BIN="$BUILD_DIR/scripts/bench/pe_bench_payment_cycles"
CONSUMER_BIN="$BUILD_DIR/scripts/bench/pe_events_consumer"

PIDS=()
stop_all() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  PIDS=()
}
SIM_PID=""
finish() {
  stop_all
  [ -z "$SIM_PID" ] || kill "$SIM_PID" 2>/dev/null || true
  rabbitmq_stop
  "$PG_BIN/psql" -X -q "$(pg_url postgres)" -c "ALTER SYSTEM RESET track_commit_timestamp" || true
}
trap finish EXIT
start_paysim "$SIM_PORT" "$LOCAL_DIR/bench-paysim.log"
SIM_PID=$PAYSIM_PID

engine() { # [amqp url]: the engine as bench_payments.sh runs it, with the broker or without
  PAYENGINE_AMQP_URL="${1:-}" PAYENGINE_LOG_LEVEL=warn start_engine "$PORT" "$SIM_PORT" "$URL" "$ADMIN_TOKEN" \
    "$LOCAL_DIR/bench-engine.log" --http-threads 512 --long-polls-max 256 || { PIDS+=("$ENGINE_PID"); exit 1; }
  PIDS+=("$ENGINE_PID")
}
cycles_per_s() { sed -nE 's/.*cycles_per_s=([0-9.]+).*/\1/p'; }

# latency CUSTOMERS LABEL: payment cycles for DURATION with a consumer on
# '#'; prints the cycles and the latency commit -> consumer (ms).
latency() {
  local customers="$1" label="$2" arrivals="$LOCAL_DIR/bench-arrivals-$2.csv"
  "$CONSUMER_BIN" "$AMQP" "$((DURATION + 8))" --arrivals "$arrivals" >/dev/null 2>&1 &
  local consumer=$!
  sleep 1
  local cycles
  cycles=$("$CYCLES_BIN" "$PORT" "$SIM_PORT" "$KEY" "$DURATION" "$customers" || true)
  wait "$consumer" || true
  local figures
  figures=$("${SQL[@]}" -F ' ' <<SQL
CREATE TEMP TABLE arrivals (id text, at_us bigint);
\copy arrivals FROM '$arrivals' CSV
SELECT count(*),
  round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1),
  round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 1),
  round(max(ms)::numeric, 1)
FROM (SELECT (min(a.at_us) - pe_us(pg_xact_commit_timestamp(oe.xmin))) / 1000.0 AS ms
      FROM arrivals a JOIN merchant_events e ON e.id = a.id
      JOIN order_events oe ON oe.order_id = e.order_id AND oe.to_status = 4 -- paid: order.paid's transaction
      WHERE e.type = 'order.paid' GROUP BY a.id, oe.xmin) x;
SQL
)
  read -r n p50 p99 max <<<"$figures"
  echo "$label: $cycles"
  echo "$label: commit_to_consumer events=$n p50_ms=$p50 p99_ms=$p99 max_ms=$max"
}

engine "$AMQP"
KEY=$(curl -sf -X POST "http://127.0.0.1:$PORT/admin/merchants" -H "Authorization: Bearer $ADMIN_TOKEN" \
  -H 'Content-Type: application/json' -d '{"name":"bench"}' | jq -r .api_key)
log "warm-up (3 s)"
"$CYCLES_BIN" "$PORT" "$SIM_PORT" "$KEY" 3 "$CLIENTS" >/dev/null || true

log "1a. relay on: full payment cycles, $CLIENTS customers, ${DURATION}s, a consumer on '#'"
LOADED=$(latency "$CLIENTS" loaded)
echo "$LOADED"
log "1b. relay on: 4 customers, ${DURATION}s"
LIGHT=$(latency 4 light)
echo "$LIGHT"
stop_all

log "2. no broker configured: $CLIENTS customers, ${DURATION}s (the events wait in the outbox)"
engine ""
OFF=$("$CYCLES_BIN" "$PORT" "$SIM_PORT" "$KEY" "$DURATION" "$CLIENTS" || true)
echo "$OFF"
stop_all
# More backlog: each order with unpublished events copied COPIES - 1 times
# (new ids, same rows), with copies of its events: a backlog of distinct
# orders, as after an outage, not one order's long history.
"${SQL[@]}" <<SQL
CREATE TEMP TABLE copies AS
  SELECT o.id AS source, 'ord_' || substr(md5(o.id || '/' || k), 1, 24) AS id, k
  FROM orders o, generate_series(1, $COPIES - 1) k
  WHERE EXISTS (SELECT 1 FROM merchant_events e WHERE e.order_id = o.id AND e.published_at IS NULL);
INSERT INTO orders SELECT (jsonb_populate_record(NULL::orders, to_jsonb(o)
    || jsonb_build_object('id', c.id, 'merchant_order_no', o.merchant_order_no || '/' || c.k))).*
  FROM orders o JOIN copies c ON c.source = o.id;
INSERT INTO merchant_events (id, merchant_id, order_id, type, created_at, data)
  SELECT 'evt_' || md5(e.id || '/' || c.k), e.merchant_id, c.id, e.type, e.created_at, e.data
  FROM merchant_events e JOIN copies c ON c.source = e.order_id WHERE e.published_at IS NULL;
SQL
BACKLOG=$("${SQL[@]}" -c "SELECT count(*) FROM merchant_events WHERE published_at IS NULL")

log "3. the engine again, with the broker: publishing a backlog of $BACKLOG events with confirms"
RESTART=$("${SQL[@]}" -c "SELECT pe_us(clock_timestamp())")
engine "$AMQP"
for _ in $(seq 1200); do
  [ "$("${SQL[@]}" -c "SELECT count(*) FROM merchant_events WHERE published_at IS NULL")" = 0 ] && break
  sleep 0.2
done
RATE=$("${SQL[@]}" -F ' ' -c "SELECT count(*), round(count(*) / greatest(extract(epoch FROM max(published_at) - min(published_at)), 0.001)),
   round(extract(epoch FROM max(published_at) - min(published_at))::numeric, 1)
   FROM merchant_events WHERE published_at >= pe_ts($RESTART)")
LEFT=$("${SQL[@]}" -c "SELECT count(*) FROM merchant_events WHERE published_at IS NULL")
stop_all

echo
echo "cycles_per_s_relay_on=$(echo "$LOADED" | cycles_per_s) cycles_per_s_no_broker=$(echo "$OFF" | cycles_per_s)"
echo "$LOADED" | grep commit_to_consumer
echo "$LIGHT" | grep commit_to_consumer
read -r published rate span <<<"$RATE"
echo "backlog_published=$published in ${span}s: confirmed_events_per_s=$rate left_unpublished=$LEFT"
