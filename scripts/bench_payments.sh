#!/usr/bin/env bash
# Full payment cycles per second over real HTTP, with paysim beside the
# engine: create -> pay -> QR code -> the customer pays -> signed
# notification -> paid. Then, on the same database, pgbench running the
# same writes as one transaction per request (4 per cycle).
#   scripts/bench_payments.sh [seconds=15] [concurrent customers=64]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
DURATION="${1:-15}"
CLIENTS="${2:-64}"
PORT=18191
SIM_PORT=18192
ADMIN_TOKEN="bench-admin-token-0123456789"

install_packages
build Release
pg_start
pg_create_db pe_bench_pay
URL="$(pg_url pe_bench_pay)"
KEYS="$("$ROOT/scripts/keys.sh")"

PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true' EXIT
start_paysim "$SIM_PORT" "$LOCAL_DIR/bench-paysim.log"
PIDS+=("$PAYSIM_PID")
# shellcheck disable=SC2086 # PAYENGINE_BENCH_FLAGS: several flags
PAYENGINE_LOG_LEVEL=warn start_engine "$PORT" "$SIM_PORT" "$URL" "$ADMIN_TOKEN" "$LOCAL_DIR/bench-engine.log" \
  --http-threads 512 --long-polls-max 256 ${PAYENGINE_BENCH_FLAGS:-} || { PIDS+=("$ENGINE_PID"); exit 1; }
PIDS+=("$ENGINE_PID")
KEY=$(curl -sf -X POST "http://127.0.0.1:$PORT/admin/merchants" -H "Authorization: Bearer $ADMIN_TOKEN" \
  -H 'Content-Type: application/json' -d '{"name":"bench"}' | jq -r .api_key)

log "warm-up (3 s)"
"$BUILD_DIR/scripts/bench/pe_bench_payment_cycles" "$PORT" "$SIM_PORT" "$KEY" 3 "$CLIENTS" >/dev/null || true
# The engine's own CPU (user + system, /proc/PID/stat fields 14 and 15,
# in clock ticks) over the timed run, divided by the cycles it completed.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$ENGINE_PID/stat"; }
log "engine: full payment cycles, $CLIENTS concurrent customers, ${DURATION}s"
TICKS0=$(cpu_ticks)
ENGINE_OUT=$("$BUILD_DIR/scripts/bench/pe_bench_payment_cycles" "$PORT" "$SIM_PORT" "$KEY" "$DURATION" "$CLIENTS" || true)
TICKS1=$(cpu_ticks)
echo "$ENGINE_OUT"
CYCLES=$(echo "$ENGINE_OUT" | sed -nE 's/.*cycles_per_s=([0-9.]+).*/\1/p')
CYCLE_COUNT=$(echo "$ENGINE_OUT" | sed -nE 's/^cycles=([0-9]+).*/\1/p')
ENGINE_CPU_MS=$(awk -v t="$((TICKS1 - TICKS0))" -v hz="$(getconf CLK_TCK)" -v n="${CYCLE_COUNT:-0}" \
  'BEGIN { if (n > 0) printf "%.2f", t * 1000 / hz / n; else print "n/a" }')
for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done

log "pgbench: the same writes, one transaction per request, $CLIENTS clients, ${DURATION}s"
"$PG_BIN/psql" -X -q "$URL" -c "INSERT INTO merchants (id, name, api_key_hash, webhook_secret, created_at) VALUES ('mch_bench', 'pgbench', 'pgbench', 'x', now()) ON CONFLICT DO NOTHING"
PGB_OUT=$("$PG_BIN/pgbench" -n -M prepared -c "$CLIENTS" -j 2 -T "$DURATION" \
  -f "$ROOT/scripts/bench/payment_cycle.pgbench" "$URL" 2>&1)
echo "$PGB_OUT" | grep -E "^tps|latency average|failed"
PGB_CYCLES=$(echo "$PGB_OUT" | awk '/^tps/ {print $3; exit}')
echo
echo "engine_cycles_per_s=$CYCLES"
echo "engine_cpu_ms_per_cycle=$ENGINE_CPU_MS (user + system of the payengine process over the timed run)"
echo "pgbench_cycles_per_s=$PGB_CYCLES (one pgbench transaction here is a whole cycle of 4 commits)"
awk -v a="$CYCLES" -v b="$PGB_CYCLES" 'BEGIN { printf "ratio=%.2f\n", a / b }'
