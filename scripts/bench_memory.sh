#!/usr/bin/env bash
# Resident memory per live order actor: creates orders over HTTP (wrk,
# POST /v1/orders) into an engine whose order actors never passivate (a
# long order_idle_ms), and divides the growth of the process's RSS by the
# growth of its live order actors (GET /admin/actors, registry shards).
#   scripts/bench_memory.sh [seconds=25] [connections=32]
# (about 3,800 orders a second here). The baseline is read after a 2 s
# warm-up, so that threads, pools and caches that exist once are not
# charged to the orders.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
SECONDS_RUN="${1:-25}"
CONNECTIONS="${2:-32}"
PORT=18185
ADMIN_TOKEN="bench-admin-token-0123456789"

install_packages
build Release
pg_start
pg_create_db pe_bench_memory
URL="$(pg_url pe_bench_memory)"
KEYS="$("$ROOT/scripts/keys.sh")"

log "starting payengine on 127.0.0.1:$PORT (order actors idle for an hour before passivating)"
# No channel is called: the gateways point at the discard port (9).
export PAYENGINE_LOG_LEVEL=warn PAYENGINE_MERCHANT_RATE_PER_S=0
trap 'kill ${ENGINE_PID:-} 2>/dev/null || true; wait ${ENGINE_PID:-} 2>/dev/null || true' EXIT
start_engine "$PORT" 9 "$URL" "$ADMIN_TOKEN" "$LOCAL_DIR/bench-memory-engine.log" \
  --order-idle-ms 3600000 --live-orders-max 1000000 ${PAYENGINE_BENCH_FLAGS:-}

KEY=$(curl -sf -X POST "http://127.0.0.1:$PORT/admin/merchants" \
  -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' \
  -d '{"name":"bench-memory"}' | sed -E 's/.*"api_key":"([^"]+)".*/\1/')
export PAYENGINE_BENCH_KEY="$KEY"

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$ENGINE_PID/status"; }
live_orders() {
  curl -sf "http://127.0.0.1:$PORT/admin/actors" -H "Authorization: Bearer $ADMIN_TOKEN" |
    python3 -c 'import json,sys; print(sum(s["live"] for s in json.load(sys.stdin)["registry_shards"]))'
}
create() { # seconds
  wrk -t2 -c"$CONNECTIONS" -d"$1s" -s "$ROOT/scripts/bench/create_order.lua" \
    "http://127.0.0.1:$PORT" | grep -E 'requests in|non_201'
}
settled() { # waits until the live count stops moving (the last creates commit)
  local before=-1 now
  for _ in $(seq 50); do
    now=$(live_orders)
    [ "$now" = "$before" ] && { echo "$now"; return; }
    before=$now
    sleep 0.2
  done
  echo "$now"
}

log "warm-up: 2 s"
create 2
LIVE0=$(settled); RSS0=$(rss_kib)
log "measuring: ${SECONDS_RUN}s of creates, $CONNECTIONS connections"
create "$SECONDS_RUN"
LIVE1=$(settled); RSS1=$(rss_kib)
ROWS=$("$PG_BIN/psql" -X -qtA "$URL" -c "SELECT count(*) FROM orders")

echo
echo "live_order_actors: $LIVE0 -> $LIVE1 (orders stored: $ROWS)"
echo "rss_kib: $RSS0 -> $RSS1"
awk -v r0="$RSS0" -v r1="$RSS1" -v l0="$LIVE0" -v l1="$LIVE1" 'BEGIN {
  per = (r1 - r0) * 1024 / (l1 - l0)
  printf "rss_bytes_per_live_order=%.0f (a million live orders: %.2f GB)\n", per, per * 1e6 / 1e9 }'
