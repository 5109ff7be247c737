#!/usr/bin/env bash
# Several payengine nodes on one PostgreSQL behind HAProxy (API.md "Several
# nodes"): starts PostgreSQL, paysim, three nodes and HAProxy (health checks
# on /readyz), runs the demo's order through HAProxy, shows who served what
# and the shard owners. Ctrl-C stops everything.
#   scripts/cluster.sh            the demo, then waits (Ctrl-C to stop)
#   scripts/cluster.sh bench [s]  creates/s (201s) through HAProxy (3 nodes) vs one
#                                 node alone, wrk with 64 connections, s seconds
#   scripts/cluster.sh failover   kill -9 one node, time until its shards
#                                 answer elsewhere (default TTL)
# PAYENGINE_CLUSTER_FLAGS adds flags to every node (e.g. "--scheduler-threads 1").
set -euo pipefail
source "$(dirname "$0")/lib.sh"
MODE="${1:-demo}"
SECONDS_RUN="${2:-10}"
LB_PORT="${PAYENGINE_CLUSTER_PORT:-8180}"
SIM_PORT="${PAYSIM_CLUSTER_PORT:-8190}"
NODE_PORTS=(8181 8182 8183)
ADMIN_TOKEN="${PAYENGINE_ADMIN_TOKEN:-cluster-admin-token-$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')}"
LB="http://127.0.0.1:$LB_PORT"
SIM="http://127.0.0.1:$SIM_PORT"

install_packages
build Release
pg_start
DB=payengine_cluster
pg_create_db "$DB"
KEYS="$("$ROOT/scripts/keys.sh")"

PIDS=()
NODE_PIDS=()
cleanup() {
  trap - EXIT INT TERM
  log "stopping"
  for pid in "${PIDS[@]}" "${NODE_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}" "${NODE_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  pg_stop
}
trap cleanup EXIT INT TERM

log "starting paysim on 127.0.0.1:$SIM_PORT"
start_paysim "$SIM_PORT" "$LOCAL_DIR/paysim.log"
PIDS+=("$PAYSIM_PID")

# Channels call back through HAProxy: any node takes a callback.
start_node() { # index
  local i="$1" port="${NODE_PORTS[$1]}"
  PAYENGINE_NODE_ID="node-$((i + 1))" PAYENGINE_PUBLIC_URL="$LB" PAYENGINE_LOG_LEVEL="${PAYENGINE_LOG_LEVEL:-warn}" \
  PAYENGINE_SMS_URL="$SIM/sms/send" \
    start_engine "$port" "$SIM_PORT" "$(pg_url "$DB")" "$ADMIN_TOKEN" "$LOCAL_DIR/node-$((i + 1)).log" ${PAYENGINE_CLUSTER_FLAGS:-} \
    || { NODE_PIDS[$i]="$ENGINE_PID"; exit 1; }
  NODE_PIDS[$i]="$ENGINE_PID"
}

start_haproxy() { # ports...
  local cfg="$LOCAL_DIR/haproxy.cfg"
  {
    echo "global"
    echo "  maxconn 4096"
    echo "defaults"
    echo "  mode http"
    echo "  timeout connect 2s"
    echo "  timeout client 60s"
    echo "  timeout server 60s"
    echo "  option http-keep-alive"
    echo "frontend payengine"
    echo "  bind 127.0.0.1:$LB_PORT"
    echo "  default_backend nodes"
    echo "backend nodes"
    echo "  balance roundrobin"
    echo "  option httpchk GET /readyz"
    echo "  http-check expect status 200"
    echo "  retry-on conn-failure # only when the request never reached a node"
    echo "  retries 2"
    echo "  option redispatch"
    local n=1
    for p in "$@"; do
      echo "  server node-$n 127.0.0.1:$p check inter 500ms fall 2 rise 2"
      n=$((n + 1))
    done
  } >"$cfg"
  haproxy -f "$cfg" -db >"$LOCAL_DIR/haproxy.log" 2>&1 &
  HAPROXY_PID=$!
  PIDS+=("$HAPROXY_PID")
  for _ in $(seq 100); do curl -sf "$LB/readyz" >/dev/null && return 0; sleep 0.1; done
  echo "HAProxy did not come up" >&2
  return 1
}

owners() { # node -> shards owned, as HAProxy's next node sees it
  curl -sf "$LB/admin/cluster" -H "Authorization: Bearer $ADMIN_TOKEN" \
    | jq -c '[.shards[] | .owner] | group_by(.) | map({(.[0] // "none"): length}) | add'
}

wait_balanced() { # expected node count: every shard owned by that many nodes, as each node sees it
  local port n
  for port in "${NODE_PORTS[@]:0:$1}"; do
    for _ in $(seq 200); do
      n=$(curl -sf "http://127.0.0.1:$port/admin/cluster" -H "Authorization: Bearer $ADMIN_TOKEN" \
        | jq '[.shards[] | .owner] | if any(. == null) then 0 else (unique | length) end' 2>/dev/null || echo 0)
      [ "$n" = "$1" ] && break
      sleep 0.05
    done
    [ "$n" = "$1" ] || return 1
  done
}

merchant_key() {
  curl -sf -X POST "$LB/admin/merchants" -H "Authorization: Bearer $ADMIN_TOKEN" \
    -H 'Content-Type: application/json' -d '{"name":"Cluster shop","notify_url":"'"$SIM"'/merchant/webhooks"}' \
    | jq -r .api_key
}

# user + system CPU ticks of the given processes (those still running).
ticks_of() {
  local t=0 p
  for p in "$@"; do
    [ -r "/proc/$p/stat" ] && t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
  done
  echo "$t"
}

# url seconds engine_pids... -> "creates/s non_201=... cpu_ms_per_create engines=.. postgres=.. haproxy=.."
# (201s only: a shed 503 is no create; CPU from /proc over the timed run)
bench_creates() {
  local url="$1" secs="$2" out rps total bad creates
  shift 2
  local engines=("$@") pg=($(pgrep -x postgres || true))
  local e0 p0 h0 e1 p1 h1
  e0=$(ticks_of "${engines[@]}"); p0=$(ticks_of "${pg[@]}"); h0=$(ticks_of "$HAPROXY_PID")
  out=$(PAYENGINE_BENCH_KEY="$KEY" wrk -t2 -c"${PAYENGINE_BENCH_CONNECTIONS:-64}" -d"${secs}s" -s "$ROOT/scripts/bench/create_order.lua" "$url")
  e1=$(ticks_of "${engines[@]}"); p1=$(ticks_of "${pg[@]}"); h1=$(ticks_of "$HAPROXY_PID")
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  total=$(echo "$out" | awk '/requests in/ {print $1}')
  bad=$(echo "$out" | sed -nE 's/^non_201=([0-9]+).*/\1/p')
  creates=$(awk -v r="$rps" -v t="${total:-0}" -v b="${bad:-0}" 'BEGIN { printf "%.1f", (t > 0 ? r * (t - b) / t : 0) }')
  echo "$creates $(echo "$out" | grep -o 'non_201=.*')" \
    "$(awk -v c="$creates" -v s="$secs" -v hz="$(getconf CLK_TCK)" -v e="$((e1 - e0))" -v p="$((p1 - p0))" \
         -v h="$((h1 - h0))" 'BEGIN { n = c * s; if (n < 1) n = 1;
           printf "cpu_ms_per_create engines=%.3f postgres=%.3f haproxy=%.3f", e * 1000 / hz / n, p * 1000 / hz / n, h * 1000 / hz / n }')"
  echo "$out" | grep '^first_503=' >&2 || true
}

log "starting three nodes (ports ${NODE_PORTS[*]})"
for i in 0 1 2; do start_node "$i"; done
log "starting HAProxy on $LB (health checks on /readyz)"
start_haproxy "${NODE_PORTS[@]}"
wait_balanced 3 || true
log "shard owners: $(owners)"
KEY=$(merchant_key)
AUTH=(-H "Authorization: Bearer $KEY")
step() { printf '\n\033[1;36m-- %s\033[0m\n' "$*"; }
served_by() { grep -i '^x-payengine-node' | tr -d '\r' | awk '{print $2}'; }

case "$MODE" in
demo)
  step "1. create an order through HAProxy"
  ORDER=$(curl -sf -D "$LOCAL_DIR/h1" -X POST "$LB/v1/orders" "${AUTH[@]}" -H 'Content-Type: application/json' \
    -H "Idempotency-Key: cluster-$(date +%s%N)" \
    -d '{"merchant_order_no":"CLUSTER-'"$(date +%s%N)"'","amount":8888,"currency":"CNY","subject":"Annual plan","channel":"alipay","expires_in":900}')
  ORDER_ID=$(echo "$ORDER" | jq -r .id)
  echo "$ORDER" | jq -c '{id, status, version}'; echo "   served by $(served_by <"$LOCAL_DIR/h1")"
  step "2. pay (any node: forwarded to the owner of the order's shard)"
  curl -sf -D "$LOCAL_DIR/h2" -X POST "$LB/v1/orders/$ORDER_ID/pay" "${AUTH[@]}" -H 'Content-Length: 0' | jq -c '{status, version}'
  echo "   served by $(served_by <"$LOCAL_DIR/h2")"
  ORDER=$(curl -sf "$LB/v1/orders/$ORDER_ID?wait_for_change=10&version=2" "${AUTH[@]}")
  QR=$(echo "$ORDER" | jq -r .payment.qr_code)
  step "3. the customer pays; paysim calls back through HAProxy (any node)"
  curl -sf -X POST "$QR" -H 'Content-Type: application/json' -d '{"result":"success"}' | jq -c '{status}'
  ORDER=$(curl -sf "$LB/v1/orders/$ORDER_ID?wait_for_change=10&version=3" "${AUTH[@]}")
  echo "$ORDER" | jq -c '{status, version}'
  step "4. every node answers for it"
  for p in "${NODE_PORTS[@]}"; do
    printf '   via :%s -> ' "$p"
    curl -sf -D "$LOCAL_DIR/h3" "http://127.0.0.1:$p/v1/orders/$ORDER_ID" "${AUTH[@]}" | jq -r -j .status
    echo " (served by $(served_by <"$LOCAL_DIR/h3"))"
  done
  step "5. the cluster: GET /admin/cluster"
  curl -sf "$LB/admin/cluster" -H "Authorization: Bearer $ADMIN_TOKEN" | jq -c '.nodes[] | {id, url, shards}'
  echo
  echo "HAProxy: $LB   admin token: $ADMIN_TOKEN   logs: .local/node-*.log"
  if [ -t 0 ]; then read -r -p "Press Enter to stop " _ || true; fi
  ;;
bench)
  log "warm-up"
  bench_creates "$LB" 3 "${NODE_PIDS[@]}" >/dev/null
  THREE=$(bench_creates "$LB" "$SECONDS_RUN" "${NODE_PIDS[@]}")
  log "3 nodes behind HAProxy: $THREE"
  for i in 1 2; do kill "${NODE_PIDS[$i]}"; wait "${NODE_PIDS[$i]}" 2>/dev/null || true; done
  wait_balanced 1 || true
  sleep 2 # HAProxy's health checks take the stopped nodes out
  bench_creates "$LB" 3 "${NODE_PIDS[0]}" >/dev/null
  ONE_LB=$(bench_creates "$LB" "$SECONDS_RUN" "${NODE_PIDS[0]}")
  log "1 node behind HAProxy: $ONE_LB"
  ONE=$(bench_creates "http://127.0.0.1:${NODE_PORTS[0]}" "$SECONDS_RUN" "${NODE_PIDS[0]}")
  log "1 node alone, direct: $ONE"
  echo "creates/s: three nodes via HAProxy ${THREE%% *}, one node via HAProxy ${ONE_LB%% *}, one node direct ${ONE%% *};" \
    "ratio 3 nodes / 1 node direct $(echo "${THREE%% *} ${ONE%% *}" | awk '{printf "%.2f", $1 / $2}')"
  ;;
failover)
  ID=$(curl -sf -X POST "http://127.0.0.1:${NODE_PORTS[2]}/v1/orders" "${AUTH[@]}" -H 'Content-Type: application/json' \
    -d '{"merchant_order_no":"F-'"$(date +%s%N)"'","amount":100,"currency":"CNY","subject":"s","channel":"alipay"}' | jq -r .id)
  kill -9 "${NODE_PIDS[2]}"
  START=$(date +%s%N)
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${NODE_PORTS[0]}/v1/orders/$ID" "${AUTH[@]}")" = 200 ]; do sleep 0.02; done
  echo "failover after kill -9: $(( ($(date +%s%N) - START) / 1000000 )) ms until node-3's order answers on node-1"
  START=$(date +%s%N)
  kill -TERM "${NODE_PIDS[1]}"; wait "${NODE_PIDS[1]}" 2>/dev/null || true
  wait_balanced 1 || true
  echo "graceful handoff (SIGTERM): $(( ($(date +%s%N) - START) / 1000000 )) ms until node-1 owns every shard"
  ;;
esac
