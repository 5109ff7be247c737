#!/usr/bin/env bash
# Reading an order against the same server's floor: GET /v1/orders/{id}
# (authenticate, ask the order's actor, JSON) vs GET /healthz (no actor, no
# auth), both over the same keep-alive connections, in the same run.
# Prints both rates and their ratio.
#   scripts/bench_reads.sh [seconds=10] [connections=64]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
DURATION="${1:-10}"
CONNECTIONS="${2:-64}"
PORT=18182
ADMIN_TOKEN="bench-admin-token-0123456789"

install_packages
build Release
pg_start
pg_create_db pe_bench_reads
URL="$(pg_url pe_bench_reads)"
KEYS="$("$ROOT/scripts/keys.sh")"

log "starting payengine on 127.0.0.1:$PORT"
PAYENGINE_LOG_LEVEL=warn start_engine "$PORT" 9 "$URL" "$ADMIN_TOKEN" "$LOCAL_DIR/bench-reads-engine.log" \
  ${PAYENGINE_BENCH_FLAGS:-}
trap 'kill $ENGINE_PID 2>/dev/null || true; wait $ENGINE_PID 2>/dev/null || true' EXIT

KEY=$(curl -sf -X POST "http://127.0.0.1:$PORT/admin/merchants" \
  -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' \
  -d '{"name":"bench"}' | sed -E 's/.*"api_key":"([^"]+)".*/\1/')
ORDER=$(curl -sf -X POST "http://127.0.0.1:$PORT/v1/orders" -H "Authorization: Bearer $KEY" \
  -H 'Content-Type: application/json' \
  -d '{"merchant_order_no":"R-1","amount":8888,"currency":"CNY","subject":"bench","channel":"alipay"}' \
  | sed -E 's/.*"id":"(ord_[^"]+)".*/\1/')
[ -n "$ORDER" ] || { echo "could not create the order to read"; exit 1; }

run() { # path key -> wrk output
  PAYENGINE_BENCH_PATH="$1" PAYENGINE_BENCH_KEY="$2" \
    wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$ROOT/scripts/bench/get_order.lua" \
    "http://127.0.0.1:$PORT"
}
log "warm-up (3 s)"
PAYENGINE_BENCH_PATH="/v1/orders/$ORDER" PAYENGINE_BENCH_KEY="$KEY" \
  wrk -t2 -c"$CONNECTIONS" -d3s -s "$ROOT/scripts/bench/get_order.lua" "http://127.0.0.1:$PORT" >/dev/null
log "GET /healthz, $CONNECTIONS connections, ${DURATION}s"
HEALTH_OUT=$(run /healthz "")
echo "$HEALTH_OUT" | grep -E "Requests/sec|non_200|latency_p"
log "GET /v1/orders/$ORDER, $CONNECTIONS connections, ${DURATION}s"
ORDER_OUT=$(run "/v1/orders/$ORDER" "$KEY")
echo "$ORDER_OUT" | grep -E "Requests/sec|non_200|latency_p"

HEALTH_RPS=$(echo "$HEALTH_OUT" | awk '/Requests\/sec/ {print $2}')
ORDER_RPS=$(echo "$ORDER_OUT" | awk '/Requests\/sec/ {print $2}')
echo
echo "healthz_per_s=$HEALTH_RPS get_order_per_s=$ORDER_RPS"
echo "non_200: healthz $(echo "$HEALTH_OUT" | sed -nE 's/non_200=([0-9]+)/\1/p'), order $(echo "$ORDER_OUT" | sed -nE 's/non_200=([0-9]+)/\1/p')"
echo "ratio=$(awk -v a="$ORDER_RPS" -v b="$HEALTH_RPS" 'BEGIN { printf "%.2f", a / b }') (goal >= 0.7)"
