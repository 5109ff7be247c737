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
PAYSIM_TIME_SCALE=1 "$BUILD_DIR/sim/paysim" --listen "127.0.0.1:$SIM_PORT" \
  --private-key-file "$KEYS/channel_private.pem" --app-public-key-file "$KEYS/app_public.pem" \
  >"$LOCAL_DIR/screenshot-paysim.log" 2>&1 &
PIDS+=($!)
PAYENGINE_DATABASE_URL="$(pg_url pe_screenshot)" PAYENGINE_LISTEN="127.0.0.1:$PORT" \
PAYENGINE_ADMIN_TOKEN="$ADMIN_TOKEN" PAYENGINE_LOG_LEVEL=warn \
PAYENGINE_ALIPAY_GATEWAY_URL="http://127.0.0.1:$SIM_PORT/gateway.do" PAYENGINE_ALIPAY_APP_ID=2021000000000000 \
PAYENGINE_ALIPAY_PRIVATE_KEY_FILE="$KEYS/app_private.pem" PAYENGINE_ALIPAY_PUBLIC_KEY_FILE="$KEYS/channel_public.pem" \
PAYENGINE_SMS_URL="http://127.0.0.1:$SIM_PORT/sms/send" \
  "$BUILD_DIR/payengine" >"$LOCAL_DIR/screenshot-engine.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
KEY=$(curl -sf -X POST "http://127.0.0.1:$PORT/admin/merchants" -H "Authorization: Bearer $ADMIN_TOKEN" \
  -H 'Content-Type: application/json' -d '{"name":"screenshot","notify_url":"http://127.0.0.1:'"$SIM_PORT"'/merchant/webhooks"}' | jq -r .api_key)
"$BUILD_DIR/scripts/bench/pe_bench_payment_cycles" "$PORT" "$SIM_PORT" "$KEY" $((SECONDS_OF_LOAD + 15)) 8 >/dev/null &
PIDS+=($!)
node "$ROOT/tests/node/console_screenshot.mjs" "http://127.0.0.1:$PORT" "$ADMIN_TOKEN" \
  "$ROOT/docs/console.png" "$SECONDS_OF_LOAD"
