#!/usr/bin/env bash
# Makes docs/console.png: the console of an engine under a light payment
# load (paysim beside it, 8 customers paying in a loop).
#   scripts/console_screenshot.sh [seconds of load before the picture=40]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
SECONDS_OF_LOAD="${1:-40}"
PORT=18291
SIM_PORT=18292
ADMIN_TOKEN="screenshot-admin-token-0123456789"

install_packages
install_node_checks
build Release
pg_start
"$PG_BIN/psql" -X -qtA "$(pg_url postgres)" -c "DROP DATABASE IF EXISTS pe_screenshot" >/dev/null
pg_create_db pe_screenshot
KEYS="$("$ROOT/scripts/keys.sh")"

PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true' EXIT
start_paysim "$SIM_PORT" "$LOCAL_DIR/screenshot-paysim.log"
PIDS+=("$PAYSIM_PID")
PAYENGINE_LOG_LEVEL=warn PAYENGINE_SMS_URL="http://127.0.0.1:$SIM_PORT/sms/send" \
  start_engine "$PORT" "$SIM_PORT" "$(pg_url pe_screenshot)" "$ADMIN_TOKEN" "$LOCAL_DIR/screenshot-engine.log" \
  || { PIDS+=("$ENGINE_PID"); exit 1; }
PIDS+=("$ENGINE_PID")
KEY=$(curl -sf -X POST "http://127.0.0.1:$PORT/admin/merchants" -H "Authorization: Bearer $ADMIN_TOKEN" \
  -H 'Content-Type: application/json' -d '{"name":"screenshot","notify_url":"http://127.0.0.1:'"$SIM_PORT"'/merchant/webhooks"}' | jq -r .api_key)
"$BUILD_DIR/scripts/bench/pe_bench_payment_cycles" "$PORT" "$SIM_PORT" "$KEY" $((SECONDS_OF_LOAD + 15)) 8 >/dev/null &
PIDS+=($!)
node "$ROOT/tests/node/console_screenshot.mjs" "http://127.0.0.1:$PORT" "$ADMIN_TOKEN" \
  "$ROOT/docs/console.png" "$SECONDS_OF_LOAD"
