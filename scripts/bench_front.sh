#!/usr/bin/env bash
# The HTTP front door under abuse and overload (scripts/bench/front_load.cpp):
#   1. lock-out: 10,000 idle + 1,000 slow-header connections held open; do
#      fresh clients still get in?  (fresh GET /healthz p99 < 50 ms)
#   2. overload: POST /v1/orders offered at 4x capacity, open loop; are the
#      admitted ones still fast (p99 within 3x of the unloaded p99), the
#      refusals immediate (p99 < 5 ms), and nothing left unanswered?
#   3. merchant limit: merchant A (50/s, burst 50) offered 200/s next to an
#      unlimited merchant B; A gets 50/s (±10%), B is not slowed.
#   scripts/bench_front.sh [seconds=15]
# The engine runs with its default timeouts (5 s keep-alive, 5 s request
# read; override with PAYENGINE_KEEP_ALIVE_TIMEOUT_S and
# PAYENGINE_REQUEST_READ_TIMEOUT_MS): rather than raising them so that the
# idle connections last, the siege re-opens whatever the server closes. The
# connections stay held, and the probes also meet the waves of closes and
# reconnects that an attacker causes against the shipped configuration.
# Capacity is measured at PAYENGINE_BENCH_CAPACITY_CONNECTIONS (16) wrk
# connections. Extra engine flags: PAYENGINE_BENCH_FLAGS.
# PAYENGINE_BENCH_PIN="0:1" (taskset CPU lists, engine:generator) runs the
# engine and PostgreSQL on CPU 0 and wrk and pe_bench_front on CPU 1, so that
# the generator's own lag (send_lag_p99_ms) does not count against the
# engine; the engine's capacity is then one core's. Unset: all share all.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
DURATION="${1:-15}"
PORT=18183
BASE="http://127.0.0.1:$PORT"
ADMIN_TOKEN="bench-admin-token-0123456789"
TOOL="$BUILD_DIR/scripts/bench/pe_bench_front"

install_packages
log "building payengine and pe_bench_front in $BUILD_DIR"
export CCACHE_DIR="${CCACHE_DIR:-$LOCAL_DIR/ccache}"
cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)" --target payengine pe_bench_front
pg_start
pg_create_db pe_bench_front
URL="$(pg_url pe_bench_front)"
KEYS="$("$ROOT/scripts/keys.sh")"

# The engine needs descriptors for 11,000 connections (it raises its soft
# limit to the hard one itself); so does the tool.
log "starting payengine on 127.0.0.1:$PORT"
PAYENGINE_KEEP_ALIVE_TIMEOUT_S="${PAYENGINE_KEEP_ALIVE_TIMEOUT_S:-5}" \
PAYENGINE_REQUEST_READ_TIMEOUT_MS="${PAYENGINE_REQUEST_READ_TIMEOUT_MS:-5000}" \
PAYENGINE_LOG_LEVEL=warn start_engine "$PORT" 9 "$URL" "$ADMIN_TOKEN" "$LOCAL_DIR/bench-front-engine.log" \
  ${PAYENGINE_BENCH_FLAGS:-}
trap 'kill $ENGINE_PID 2>/dev/null || true; wait $ENGINE_PID 2>/dev/null || true; unpin' EXIT

PIN="${PAYENGINE_BENCH_PIN:-}"
GEN=() # the generator's command prefix
unpin() {
  [ -n "$PIN" ] || return 0
  for p in $(pgrep -x postgres); do taskset -a -c -p "0-$(($(nproc) - 1))" "$p" >/dev/null 2>&1 || true; done
}
if [ -n "$PIN" ]; then
  log "pinned: engine and PostgreSQL on CPU ${PIN%%:*}, generator on CPU ${PIN##*:}"
  taskset -a -c -p "${PIN%%:*}" "$ENGINE_PID" >/dev/null
  # Backends started later inherit the postmaster's CPUs.
  # (A backend that ends meanwhile is no error.)
  for p in $(pgrep -x postgres); do taskset -a -c -p "${PIN%%:*}" "$p" >/dev/null 2>&1 || true; done
  GEN=(taskset -c "${PIN##*:}")
fi

# --- helpers -----------------------------------------------------------------
# value KEY LINE: the value of KEY=... in a key=value line.
value() { echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -1; }
calc() { awk "BEGIN { printf \"%.2f\", $1 }"; }
# verdict CONDITION: PASS or MISS (an awk expression).
verdict() { awk "BEGIN { print (($1) ? \"PASS\" : \"MISS\") }"; }

admin_post() {
  curl -s -w '\n%{http_code}' -X POST "$BASE$1" -H "Authorization: Bearer $ADMIN_TOKEN" \
    -H 'Content-Type: application/json' -d "$2"
}
# new_merchant BODY: prints the API key, or nothing if the engine refused.
new_merchant() {
  local out; out="$(admin_post /admin/merchants "$1")"
  [[ "$(echo "$out" | tail -1)" =~ ^20[01]$ ]] || { echo "$out" | head -1 >&2; return 0; }
  echo "$out" | head -1 | sed -nE 's/.*"api_key":"([^"]+)".*/\1/p'
}
# The front door's own gauges and counters, the shed/429 answers, and the
# order actors that went idle (their passivations share the CPU with part 3).
front_metrics() {
  curl -sf "$BASE/metrics" -H "Authorization: Bearer $ADMIN_TOKEN" \
    | grep -E '^payengine_http_(connections|handler_queue|inflight|inflight_limit|read_timeouts_total|shed_total|malformed_total|connections_refused_total)|^payengine_http_requests_total\{route="shed"|status="429"|^payengine_order_(idle_asks|passivations)_total' \
    | sed 's/^/  /' || true
}
open_loop() { "${GEN[@]}" "$TOOL" open-loop --port "$PORT" "$@"; }

# --- part 1: lock-out --------------------------------------------------------
log "part 1: 10,000 idle + 1,000 slow-header connections, 100 probes of each kind"
SIEGE=$("${GEN[@]}" "$TOOL" siege --port "$PORT" --idle 10000 --slow 1000 --probes 100)
echo "$SIEGE"
echo "front metrics after the siege:"; front_metrics
FRESH_P99=$(value fresh_p99_ms "$SIEGE")
sleep 6 # the siege's last connections are closed; the engine settles

# --- part 2: overload ----------------------------------------------------------
KEY=$(new_merchant '{"name":"front-bench"}')
[ -n "$KEY" ] || { echo "cannot create a merchant" >&2; exit 1; }
export PAYENGINE_BENCH_KEY="$KEY"
CAP_CONNS="${PAYENGINE_BENCH_CAPACITY_CONNECTIONS:-16}"
log "part 2: capacity (wrk, $CAP_CONNS connections, 5 s after a 3 s warm-up)"
"${GEN[@]}" wrk -t2 -c"$CAP_CONNS" -d3s -s "$ROOT/scripts/bench/create_order.lua" "$BASE" >/dev/null
WRK=$("${GEN[@]}" wrk -t2 -c"$CAP_CONNS" -d5s -s "$ROOT/scripts/bench/create_order.lua" "$BASE")
# Creates per second: wrk's requests/s less the share it was refused (a 503
# or 429 is no capacity).
CAPACITY=$(echo "$WRK" | awk '/Requests\/sec/ {rps = $2} /requests in/ {total = $1}
  /^non_201=/ {split($1, a, "="); bad = a[2]} END {printf "%d", (total > 0 ? rps * (total - bad) / total : 0)}')
echo "capacity=$CAPACITY orders/s ($(echo "$WRK" | grep non_201))"
log "part 2: unloaded, open loop at 25% of capacity for ${DURATION}s"
UNLOADED=$(open_loop --rate $((CAPACITY / 4)) --seconds "$DURATION" --connections 64 --key "$KEY")
echo "$UNLOADED"
log "part 2: overload, open loop at 4x capacity for ${DURATION}s"
OVER=$(open_loop --rate $((CAPACITY * 4)) --seconds "$DURATION" --connections 1000 --key "$KEY")
echo "$OVER"
echo "front metrics after the overload:"; front_metrics
UNLOADED_P99=$(value admitted_p99_ms "$UNLOADED")
ADMITTED_P99=$(value admitted_p99_ms "$OVER")
REFUSED_P99=$(value refused_p99_ms "$OVER")
OVER_TIMEOUTS=$(value timeouts "$OVER")
OVER_RATIO=$(calc "$ADMITTED_P99 / ($UNLOADED_P99 > 0 ? $UNLOADED_P99 : 1)")

# --- part 3: merchant limit ----------------------------------------------------
log "part 3: merchant A limited to 50/s (burst 50) at 200/s, next to unlimited B"
B_RATE=$((CAPACITY / 4))
KEY_A=$(new_merchant '{"name":"front-bench-a","rate_per_s":50,"burst":50}')
if [ -z "$KEY_A" ]; then
  PART3="skipped: merchant limits not available"
  echo "$PART3"
else
  KEY_B=$(new_merchant '{"name":"front-bench-b"}')
  B_ALONE=$(open_loop --rate "$B_RATE" --seconds "$DURATION" --connections 64 --key "$KEY_B")
  echo "B alone:    $B_ALONE"
  open_loop --rate 200 --seconds "$DURATION" --connections 64 --key "$KEY_A" >"$LOCAL_DIR/bench-front-a.txt" &
  A_PID=$!
  B_WITH=$(open_loop --rate "$B_RATE" --seconds "$DURATION" --connections 64 --key "$KEY_B")
  wait "$A_PID"
  A_OUT=$(cat "$LOCAL_DIR/bench-front-a.txt")
  echo "A (200/s):  $A_OUT"
  echo "B with A:   $B_WITH"
  echo "front metrics after part 3:"; front_metrics
  A_RATE=$(value admitted_per_s "$A_OUT")
  B_ALONE_P99=$(value admitted_p99_ms "$B_ALONE")
  B_WITH_P99=$(value admitted_p99_ms "$B_WITH")
  PART3=""
fi

# --- summary -------------------------------------------------------------------
echo
echo "==== front door summary (${DURATION}s runs, $(nproc) cores) ===="
printf '%-44s %-22s %s\n' "figure" "goal" "verdict"
printf '%-44s %-22s %s\n' "1 fresh /healthz p99 under siege: ${FRESH_P99} ms" "< 50 ms" \
  "$(verdict "$FRESH_P99 < 50")"
printf '%-44s %-22s %s\n' "  keep-alive p99: $(value keepalive_p99_ms "$SIEGE") ms, failures $(value failures "$SIEGE")" "" ""
printf '%-44s %-22s %s\n' "2 capacity (wrk, $CAP_CONNS conns): ${CAPACITY}/s" "" ""
printf '%-44s %-22s %s\n' "  admitted p99 at 4x: ${ADMITTED_P99} ms" "<= 3x unloaded" \
  "$(verdict "$OVER_RATIO <= 3") (${OVER_RATIO}x of ${UNLOADED_P99} ms)"
printf '%-44s %-22s %s\n' "  refusal p99 at 4x: ${REFUSED_P99} ms" "< 5 ms" "$(verdict "$REFUSED_P99 < 5")"
printf '%-44s %-22s %s\n' "  (from the write: admitted $(value admitted_service_p99_ms "$OVER"), refused $(value refused_service_p99_ms "$OVER") ms; tool send lag p99 $(value send_lag_p99_ms "$OVER") ms)" "" ""
printf '%-44s %-22s %s\n' "  timeouts at 4x: ${OVER_TIMEOUTS}" "0" "$(verdict "$OVER_TIMEOUTS == 0")"
printf '%-44s %-22s %s\n' "  admitted at 4x: $(value admitted_per_s "$OVER")/s" "" ""
if [ -n "$PART3" ]; then
  echo "3 $PART3"
else
  printf '%-44s %-22s %s\n' "3 A admitted: ${A_RATE}/s" "50/s +-10%" \
    "$(verdict "$A_RATE >= 45 && $A_RATE <= 55")"
  printf '%-44s %-22s %s\n' "  B p99 with A: ${B_WITH_P99} ms (alone ${B_ALONE_P99})" "<= 1.5x alone" \
    "$(verdict "$B_WITH_P99 <= 1.5 * $B_ALONE_P99")"
fi
