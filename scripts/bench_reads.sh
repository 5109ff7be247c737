#!/usr/bin/env bash
# Reading orders against the same server's floor: GET /v1/orders/{id}
# (authenticate, rate-limit, the committed order from the read cache or its
# actor, JSON) vs GET /healthz (no auth, nothing else), over the same
# keep-alive connections, in the same run. Two read loads: one order read
# over and over (the issue's figure), and ORDERS distinct orders read in turn.
# Prints the rates and their ratios. PAYENGINE_READ_CACHE_ENTRIES=0 measures
# the reads through the order actors alone.
#   scripts/bench_reads.sh [seconds=10] [connections=64] [orders=2000]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
DURATION="${1:-10}"
CONNECTIONS="${2:-64}"
ORDERS="${3:-2000}"
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
log "creating $ORDERS orders to read in turn"
PATHS="$LOCAL_DIR/bench-reads-paths.txt"
CURL_CONFIG="$LOCAL_DIR/bench-reads-curl.txt"
: > "$CURL_CONFIG"
for i in $(seq 1 "$ORDERS"); do
  [ "$i" -eq 1 ] || echo next >> "$CURL_CONFIG"
  printf 'url = "http://127.0.0.1:%s/v1/orders"\nheader = "Authorization: Bearer %s"\nheader = "Content-Type: application/json"\ndata = "{\\"merchant_order_no\\":\\"R-many-%s\\",\\"amount\\":100,\\"currency\\":\\"CNY\\",\\"subject\\":\\"bench\\",\\"channel\\":\\"alipay\\"}"\n' \
    "$PORT" "$KEY" "$i" >> "$CURL_CONFIG"
done
curl -sf -K "$CURL_CONFIG" | grep -oE '"id":"ord_[A-Za-z0-9]+"' | sed -E 's|"id":"(ord_[^"]+)"|/v1/orders/\1|' > "$PATHS"
[ "$(wc -l < "$PATHS")" -eq "$ORDERS" ] || { echo "created $(wc -l < "$PATHS") of $ORDERS orders"; exit 1; }

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

log "GET $ORDERS orders in turn, $CONNECTIONS connections, ${DURATION}s"
MANY_OUT=$(PAYENGINE_BENCH_PATHS_FILE="$PATHS" run "" "$KEY")
echo "$MANY_OUT" | grep -E "Requests/sec|non_200|latency_p"

rate() { echo "$1" | awk '/Requests\/sec/ {print $2}'; }
bad() { echo "$1" | sed -nE 's/non_200=([0-9]+)/\1/p'; }
HEALTH_RPS=$(rate "$HEALTH_OUT")
ORDER_RPS=$(rate "$ORDER_OUT")
MANY_RPS=$(rate "$MANY_OUT")
echo
echo "read_cache_entries=${PAYENGINE_READ_CACHE_ENTRIES:-default}"
echo "healthz_per_s=$HEALTH_RPS get_order_per_s=$ORDER_RPS get_${ORDERS}_orders_per_s=$MANY_RPS"
echo "non_200: healthz $(bad "$HEALTH_OUT"), order $(bad "$ORDER_OUT"), $ORDERS orders $(bad "$MANY_OUT")"
echo "ratio=$(awk -v a="$ORDER_RPS" -v b="$HEALTH_RPS" 'BEGIN { printf "%.2f", a / b }') (goal >= 0.7)" \
  "ratio_${ORDERS}_orders=$(awk -v a="$MANY_RPS" -v b="$HEALTH_RPS" 'BEGIN { printf "%.2f", a / b }')"
