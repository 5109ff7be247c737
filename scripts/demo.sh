#!/usr/bin/env bash
# The engine end to end on this machine: installs and builds, starts a
# throwaway PostgreSQL, the channel simulator (paysim) and payengine,
# creates a demo merchant and an order, and shows where to look.
# Ctrl-C stops everything.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ENGINE_PORT="${PAYENGINE_DEMO_PORT:-8080}"
SIM_PORT="${PAYSIM_DEMO_PORT:-8090}"
ADMIN_TOKEN="${PAYENGINE_ADMIN_TOKEN:-demo-admin-token-$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')}"

install_packages
build Release
pg_start
"$PG_BIN/psql" -X -qtA "$(pg_url postgres)" -c "SELECT 1 FROM pg_database WHERE datname = 'payengine_demo'" | grep -q 1 \
  || pg_create_db payengine_demo
KEYS="$("$ROOT/scripts/keys.sh")"

PIDS=()
cleanup() {
  trap - EXIT INT TERM
  log "stopping"
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  pg_stop
}
trap cleanup EXIT INT TERM

log "starting paysim on 127.0.0.1:$SIM_PORT"
"$BUILD_DIR/sim/paysim" --listen "127.0.0.1:$SIM_PORT" \
  --private-key-file "$KEYS/channel_private.pem" --app-public-key-file "$KEYS/app_public.pem" \
  >"$LOCAL_DIR/paysim.log" 2>&1 &
PIDS+=($!)

log "starting payengine on 127.0.0.1:$ENGINE_PORT (logs: .local/payengine.log)"
PAYENGINE_DATABASE_URL="$(pg_url payengine_demo)" \
PAYENGINE_LISTEN="127.0.0.1:$ENGINE_PORT" \
PAYENGINE_ADMIN_TOKEN="$ADMIN_TOKEN" \
PAYENGINE_ALIPAY_GATEWAY_URL="http://127.0.0.1:$SIM_PORT/gateway.do" \
PAYENGINE_ALIPAY_APP_ID="2021000000000000" \
PAYENGINE_ALIPAY_PRIVATE_KEY_FILE="$KEYS/app_private.pem" \
PAYENGINE_ALIPAY_PUBLIC_KEY_FILE="$KEYS/channel_public.pem" \
PAYENGINE_SMS_URL="http://127.0.0.1:$SIM_PORT/sms/send" \
  "$BUILD_DIR/payengine" >"$LOCAL_DIR/payengine.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$ENGINE_PORT/readyz" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$ENGINE_PORT/readyz" >/dev/null || { tail -5 "$LOCAL_DIR/payengine.log"; exit 1; }

API="http://127.0.0.1:$ENGINE_PORT"
MERCHANT=$(curl -sf -X POST "$API/admin/merchants" -H "Authorization: Bearer $ADMIN_TOKEN" \
  -H 'Content-Type: application/json' -d '{"name":"Demo shop","notify_url":"http://127.0.0.1:'"$SIM_PORT"'/healthz"}')
KEY=$(echo "$MERCHANT" | sed -E 's/.*"api_key":"([^"]+)".*/\1/')
ORDER=$(curl -sf -X POST "$API/v1/orders" -H "Authorization: Bearer $KEY" \
  -H 'Content-Type: application/json' -H "Idempotency-Key: demo-$(date +%s)" \
  -d '{"merchant_order_no":"DEMO-'"$(date +%s)"'","amount":8888,"currency":"CNY","subject":"Annual plan","channel":"alipay","expires_in":900,"metadata":{"source":"demo"}}')
ORDER_ID=$(echo "$ORDER" | sed -E 's/.*"id":"(ord_[A-Za-z0-9]+)".*/\1/')

cat <<TXT

  payengine is running.

  merchant api key : $KEY
  admin token      : $ADMIN_TOKEN
  demo order       : $ORDER_ID  (88.88 CNY, status created)

  Try:
    curl -s $API/v1/orders/$ORDER_ID -H 'Authorization: Bearer $KEY'
    curl -s $API/v1/orders/$ORDER_ID/events -H 'Authorization: Bearer $KEY'
    curl -s '$API/v1/orders/$ORDER_ID?wait_for_change=30&version=1' -H 'Authorization: Bearer $KEY'   # long poll
    curl -s -X POST $API/v1/orders/$ORDER_ID/cancel -H 'Authorization: Bearer $KEY' -H 'Content-Length: 0'
    curl -s $API/admin/orders/$ORDER_ID -H 'Authorization: Bearer $ADMIN_TOKEN'   # live actor beside the stored row
    curl -s $API/admin/actors -H 'Authorization: Bearer $ADMIN_TOKEN'            # shards, writers, live orders
    curl -s $API/readyz

  Logs: .local/payengine.log (JSON lines), .local/paysim.log.   Ctrl-C stops everything.

TXT
wait "${PIDS[1]}"
