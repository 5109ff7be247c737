#!/usr/bin/env bash
# The engine end to end on this machine: installs and builds, starts a
# throwaway PostgreSQL and RabbitMQ, the channel simulator (paysim) and
# payengine, creates a demo merchant and an order, and shows where to look.
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
  rabbitmq_stop
}
trap cleanup EXIT INT TERM
rabbitmq_start
AMQP="$(amqp_url)"

log "starting paysim on 127.0.0.1:$SIM_PORT"
start_paysim "$SIM_PORT" "$LOCAL_DIR/paysim.log"
PIDS+=("$PAYSIM_PID")

log "starting payengine on 127.0.0.1:$ENGINE_PORT (logs: .local/payengine.log)"
PAYENGINE_SMS_URL="http://127.0.0.1:$SIM_PORT/sms/send" PAYENGINE_AMQP_URL="$AMQP" \
  start_engine "$ENGINE_PORT" "$SIM_PORT" "$(pg_url payengine_demo)" "$ADMIN_TOKEN" "$LOCAL_DIR/payengine.log" \
  || { PIDS+=("$ENGINE_PID"); exit 1; }
PIDS+=("$ENGINE_PID")

API="http://127.0.0.1:$ENGINE_PORT"
SIM="http://127.0.0.1:$SIM_PORT"
step() { printf '\n\033[1;36m-- %s\033[0m\n' "$*"; }
MERCHANT=$(curl -sf -X POST "$API/admin/merchants" -H "Authorization: Bearer $ADMIN_TOKEN" \
  -H 'Content-Type: application/json' -d '{"name":"Demo shop","notify_url":"'"$SIM"'/merchant/webhooks"}')
KEY=$(echo "$MERCHANT" | jq -r .api_key)
MERCHANT_ID=$(echo "$MERCHANT" | jq -r .id)
AUTH=(-H "Authorization: Bearer $KEY")
# The merchant's own services listen on RabbitMQ: a queue for its order.paid.
EVENTS_CONSUMER="$BUILD_DIR/scripts/bench/pe_events_consumer"
PAID_QUEUE="demo.$MERCHANT_ID.order-paid"
"$EVENTS_CONSUMER" "$AMQP" 0 --queue "$PAID_QUEUE" --bind "$MERCHANT_ID.order.paid" --declare-only

step "0. the console: open $API/console in a browser and paste the admin token"
echo "   admin token: $ADMIN_TOKEN"
if [ -t 0 ] && [ -z "${PAYENGINE_DEMO_NO_PAUSE:-}" ]; then
  read -r -t 120 -p "   Log in there to watch the order live, then press Enter (or wait 2 min) " _ || true
  echo
fi

step "1. the merchant creates an order (88.88 CNY)"
ORDER=$(curl -sf -X POST "$API/v1/orders" "${AUTH[@]}" \
  -H 'Content-Type: application/json' -H "Idempotency-Key: demo-$(date +%s%N)" \
  -d '{"merchant_order_no":"DEMO-'"$(date +%s%N)"'","amount":8888,"currency":"CNY","subject":"Annual plan","channel":"alipay","expires_in":900,"customer_phone":"+8613800000000","metadata":{"source":"demo"}}')
ORDER_ID=$(echo "$ORDER" | jq -r .id)
echo "$ORDER" | jq -c '{id, status, amount, currency, version}'

step "2. the merchant asks to pay: 202, status paying; the gateway opens a trade at paysim"
curl -sf -X POST "$API/v1/orders/$ORDER_ID/pay" "${AUTH[@]}" -H 'Content-Length: 0' | jq -c '{status, version, payment}'

step "3. long poll until the channel's QR code is there (awaiting_payment)"
ORDER=$(curl -sf "$API/v1/orders/$ORDER_ID?wait_for_change=10&version=2" "${AUTH[@]}")
echo "$ORDER" | jq -c '{status, version, qr_code: .payment.qr_code}'
QR=$(echo "$ORDER" | jq -r .payment.qr_code)

step "4. the customer scans and pays at the channel (POST the QR URL)"
curl -sf -X POST "$QR" -H 'Content-Type: application/json' -d '{"result":"success"}' \
  | jq -c '{out_trade_no, status, trade_no, paid_amount}'

step "5. paysim sends its signed notification; the engine commits, then answers success"
ORDER=$(curl -sf "$API/v1/orders/$ORDER_ID?wait_for_change=10&version=3" "${AUTH[@]}")
echo "$ORDER" | jq -c '{status, version, paid_at: .payment.paid_at, channel_trade_no: .payment.channel_trade_no}'

step "6. the order's event log"
curl -sf "$API/v1/orders/$ORDER_ID/events" "${AUTH[@]}" | jq -c '.data[] | {seq, type, from, to, at}'

step "7. the merchant's webhook (signed, Standard Webhooks) and the customer's SMS arrive"
for _ in $(seq 50); do
  [ "$(curl -sf "$SIM/merchant/webhooks" | jq '.data | length')" != "0" ] && [ "$(curl -sf "$SIM/sms/messages" | jq '.data | length')" != "0" ] && break
  sleep 0.1
done
curl -sf "$SIM/merchant/webhooks" | jq -c '.data[] | {"webhook-id", "webhook-signature", type: .body.type, status: .body.data.status}'
curl -sf "$SIM/sms/messages" | jq -c '.data[] | {to, text}'
curl -sf "$API/admin/notifications" -H "Authorization: Bearer $ADMIN_TOKEN" | jq -c '.data[] | {id, kind, status, attempts}'

step "8. the order.paid event on RabbitMQ: exchange payengine.events, key $MERCHANT_ID.order.paid, queue $PAID_QUEUE"
"$EVENTS_CONSUMER" "$AMQP" 10 --queue "$PAID_QUEUE" --bind "$MERCHANT_ID.order.paid" --count 1 --print 2>/dev/null \
  | jq -c '{routing_key, message_id, type, persistent, status: .body.data.status}'

step "9. the channel's view (paysim)"
curl -sf "$SIM/sim/trades" | jq -c '.data[] | select(.out_trade_no | startswith("'"$ORDER_ID"'"))
  | {out_trade_no, status, notifications: [.notifications[] | {trade_status, attempts, last_status}]}'

cat <<TXT

  payengine is running.

  merchant api key : $KEY
  admin token      : $ADMIN_TOKEN
  demo order       : $ORDER_ID

  Console          : $API/console   (log in with the admin token; live through /admin/stream)

  Try:
    curl -s $API/v1/orders/$ORDER_ID -H 'Authorization: Bearer $KEY' | jq
    curl -s $API/admin/orders/$ORDER_ID -H 'Authorization: Bearer $ADMIN_TOKEN' | jq   # live actor beside the stored row
    curl -s $API/admin/actors -H 'Authorization: Bearer $ADMIN_TOKEN' | jq            # the live actor tree
    curl -sN $API/admin/stream -H 'Authorization: Bearer $ADMIN_TOKEN'                # transitions and lifecycle, live
    curl -s -X POST $API/admin/actors/$ORDER_ID/kill -H 'Authorization: Bearer $ADMIN_TOKEN' -H 'Content-Length: 0'   # watch it restart
    curl -s $API/metrics -H 'Authorization: Bearer $ADMIN_TOKEN'                      # Prometheus text
    $EVENTS_CONSUMER $AMQP 60 --print     # every event on RabbitMQ for a minute
    curl -s -X POST $SIM/sim/faults -H 'Content-Type: application/json' -d '{"drop_notify_rate":1}'   # lose notifications
    curl -s $API/readyz

  RabbitMQ         : $AMQP   (exchange payengine.events; fulfillment updates: queue payengine.fulfillment)

  Logs: .local/payengine.log (JSON lines), .local/paysim.log.   Ctrl-C stops everything.

TXT
wait "${PIDS[1]}"
