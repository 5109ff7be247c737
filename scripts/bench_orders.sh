#!/usr/bin/env bash
# Durable order creation over HTTP (wrk, keep-alive connections) against the
# same database's own ceiling: pgbench running the equivalent SQL as one
# transaction per request. Prints both rates and their ratio.
#   scripts/bench_orders.sh [seconds=15] [connections=64]
# With PAYENGINE_BENCH_STREAM=1 a client of GET /admin/stream (what the
# console reads) is connected throughout: the cost of watching.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
DURATION="${1:-15}"
CONNECTIONS="${2:-64}"
PORT=18181
ADMIN_TOKEN="bench-admin-token-0123456789"

install_packages
build Release
pg_start
pg_create_db pe_bench
URL="$(pg_url pe_bench)"
KEYS="$("$ROOT/scripts/keys.sh")"

log "starting payengine on 127.0.0.1:$PORT"
PAYENGINE_DATABASE_URL="$URL" PAYENGINE_LISTEN="127.0.0.1:$PORT" \
PAYENGINE_ADMIN_TOKEN="$ADMIN_TOKEN" PAYENGINE_LOG_LEVEL=warn \
PAYENGINE_ALIPAY_GATEWAY_URL="http://127.0.0.1:9/gateway.do" PAYENGINE_ALIPAY_APP_ID=2021000000000000 \
PAYENGINE_ALIPAY_PRIVATE_KEY_FILE="$KEYS/app_private.pem" PAYENGINE_ALIPAY_PUBLIC_KEY_FILE="$KEYS/channel_public.pem" \
PAYENGINE_OUTBOUND_ALLOW="${PAYENGINE_OUTBOUND_ALLOW-127.0.0.0/8}" \
  "$BUILD_DIR/payengine" ${PAYENGINE_BENCH_FLAGS:-} >"$LOCAL_DIR/bench-engine.log" 2>&1 &
ENGINE_PID=$!
trap 'kill $ENGINE_PID 2>/dev/null || true; wait $ENGINE_PID 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null || { tail -3 "$LOCAL_DIR/bench-engine.log"; exit 1; }

KEY=$(curl -sf -X POST "http://127.0.0.1:$PORT/admin/merchants" \
  -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' \
  -d '{"name":"bench"}' | sed -E 's/.*"api_key":"([^"]+)".*/\1/')
export PAYENGINE_BENCH_KEY="$KEY"

log "warm-up (3 s)"
wrk -t2 -c"$CONNECTIONS" -d3s -s "$ROOT/scripts/bench/create_order.lua" "http://127.0.0.1:$PORT" >/dev/null

if [ -n "${PAYENGINE_BENCH_STREAM:-}" ]; then
  log "a stream client reads /admin/stream during the run"
  curl -sN "http://127.0.0.1:$PORT/admin/stream" -H "Authorization: Bearer $ADMIN_TOKEN" \
    >"$LOCAL_DIR/bench-stream.txt" &
  STREAM_PID=$!
  trap 'kill $STREAM_PID $ENGINE_PID 2>/dev/null || true; wait $ENGINE_PID 2>/dev/null || true' EXIT
fi
log "engine: POST /v1/orders, $CONNECTIONS keep-alive connections, ${DURATION}s"
ENGINE_OUT=$(wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$ROOT/scripts/bench/create_order.lua" "http://127.0.0.1:$PORT")
echo "$ENGINE_OUT"
ENGINE_RPS=$(echo "$ENGINE_OUT" | awk '/Requests\/sec/ {print $2}')
NON_201=$(echo "$ENGINE_OUT" | sed -nE 's/non_201=([0-9]+).*/\1/p')
TOTAL=$(echo "$ENGINE_OUT" | awk '/requests in/ {print $1}')
# Only created orders count: a shed request (503, nothing changed) is not speed.
CREATED_PS=$(awk -v r="$ENGINE_RPS" -v t="$TOTAL" -v bad="$NON_201" 'BEGIN { printf "%.1f", r * (t - bad) / t }')
ENGINE_ROWS=$("$PG_BIN/psql" -X -qtA "$URL" -c "SELECT count(*) FROM orders")
BATCH=$(curl -sf "http://127.0.0.1:$PORT/admin/actors" -H "Authorization: Bearer $ADMIN_TOKEN" \
  | python3 -c 'import json,sys; w=json.load(sys.stdin)["storage_writers"]; print(", ".join("%s mean %.1f max %d" % (x["id"], x["mean_batch_size"], x["max_batch_size"]) for x in w))' 2>/dev/null || echo "n/a")
if [ -n "${PAYENGINE_BENCH_STREAM:-}" ]; then
  STREAMED=$(grep -c '^event: transition' "$LOCAL_DIR/bench-stream.txt" || true)
  DROPPED=$(curl -sf "http://127.0.0.1:$PORT/metrics" -H "Authorization: Bearer $ADMIN_TOKEN" \
    | awk '/^payengine_stream_dropped_events_total/ {print $2}')
  echo "stream: transition_events_received=$STREAMED dropped=$DROPPED"
  kill "$STREAM_PID" 2>/dev/null || true
fi
kill "$ENGINE_PID"; wait "$ENGINE_PID" 2>/dev/null || true

log "pgbench: the same SQL, one transaction per request, $CONNECTIONS clients, ${DURATION}s"
"$PG_BIN/psql" -X -q "$URL" -c "INSERT INTO merchants (id, name, api_key_hash, webhook_secret, created_at) VALUES ('mch_bench', 'pgbench', 'pgbench', 'x', now()) ON CONFLICT DO NOTHING"
PGB_OUT=$("$PG_BIN/pgbench" -n -M prepared -c "$CONNECTIONS" -j 2 -T "$DURATION" \
  -f "$ROOT/scripts/bench/create_order.pgbench" "$URL" 2>&1)
echo "$PGB_OUT" | grep -E "tps|latency|failed|processed"
PGB_TPS=$(echo "$PGB_OUT" | awk '/^tps/ {print $3; exit}')

RATIO=$(awk -v a="$CREATED_PS" -v b="$PGB_TPS" 'BEGIN { printf "%.2f", a / b }')
echo
echo "engine_requests_per_s=$ENGINE_RPS non_201=$NON_201 created_per_s=$CREATED_PS orders_stored=$ENGINE_ROWS"
echo "storage_batches: $BATCH"
echo "pgbench_tps=$PGB_TPS"
echo "ratio=$RATIO"
