#!/usr/bin/env bash
# The libFuzzer targets of fuzz/ (docs/fuzzing.md), built with clang in
# their own folder and run on a copy of their corpus, one per core at once.
#
#   scripts/fuzz.sh [SECONDS=20] [--runs N] [--merge] [--only TARGET] [--build-only]
#
# SECONDS per target, or --runs N executions per target. --merge adds the
# new inputs that reach new code to the checked-in fuzz/corpus/. Exits
# non-zero if any target crashes (or breaks an invariant, or leaks, or
# times out), naming the saved input. --build-only builds the targets and
# runs nothing (.ci/run builds them at idle priority while tests run).
# Environment: PAYENGINE_FUZZ_BUILD_DIR (default build-fuzz),
# PAYENGINE_FUZZ_MAX_TIME (a cap in seconds with --runs; default none).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

seconds=20 runs="" merge=0 only="" build_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --merge) merge=1; shift ;;
    --only) only="$2"; shift 2 ;;
    --build-only) build_only=1; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) seconds="$1"; shift ;;
  esac
done

install_packages # clang and its libFuzzer runtime on a fresh machine
FUZZ_BUILD_DIR="${PAYENGINE_FUZZ_BUILD_DIR:-$ROOT/build-fuzz}"
TARGETS=(request_body form alipay_notification alipay_response webhook_signature wechat_notification
         config fulfillment_update)
# Longest input per target: request bodies and forms up to their limits
# (64 KiB); a config file is a few KiB.
declare -A MAX_LEN=([request_body]=65536 [form]=65536 [alipay_notification]=65536
                    [alipay_response]=65536 [webhook_signature]=65536 [wechat_notification]=65536
                    [config]=16384
                    [fulfillment_update]=20000)

log "building the fuzz targets (clang, ASan + UBSan + libFuzzer) in $FUZZ_BUILD_DIR"
export CCACHE_DIR="${CCACHE_DIR:-$LOCAL_DIR/ccache}"
CC=clang CXX=clang++ cmake -S "$ROOT" -B "$FUZZ_BUILD_DIR" -DPAYENGINE_FUZZ=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
build_target=fuzz_all
[ -n "$only" ] && build_target="fuzz_$only" # just that target and what it links
cmake --build "$FUZZ_BUILD_DIR" --target "$build_target" -j "${PAYENGINE_JOBS:-2}" >/dev/null
if [ "$build_only" -eq 1 ]; then exit 0; fi

work="$(mktemp -d "${TMPDIR:-/tmp}/payengine-fuzz.XXXXXX")"
artifacts="$FUZZ_BUILD_DIR/fuzz/artifacts"
mkdir -p "$artifacts"
# Deterministic for the engine's own code; allocator reuse kept small so
# that a long run does not thrash (ASan's default quarantine is 256 MB).
export ASAN_OPTIONS="${ASAN_OPTIONS:-quarantine_size_mb=64:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

# One target: its row of the summary in $work/<t>.row, its exit status in
# $work/<t>.status.
fuzz_one() {
  local t="$1" corpus="$work/corpus-$1" status=0 start elapsed execs speed final crash before
  cp -r "$ROOT/fuzz/corpus/$t" "$corpus"
  local args=(-max_len="${MAX_LEN[$t]}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
              -artifact_prefix="$artifacts/$t-")
  if [ -n "$runs" ]; then
    args+=(-runs="$runs")
    [ -n "${PAYENGINE_FUZZ_MAX_TIME:-}" ] && args+=(-max_total_time="$PAYENGINE_FUZZ_MAX_TIME")
  else
    args+=(-max_total_time="$seconds")
  fi
  log "fuzz_$t ${args[*]}"
  start=$(date +%s)
  "$FUZZ_BUILD_DIR/fuzz/fuzz_$t" "${args[@]}" "$corpus" >"$work/$t.log" 2>&1 || status=$?
  elapsed=$(( $(date +%s) - start ))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/$t.log" | tail -1)
  final=$(grep -E '^#[0-9]+' "$work/$t.log" | tail -1 | sed 's/  */ /g')
  printf '%-20s %12s %9s %8s %7s  %s\n' "$t" "${execs:-?}" "${speed:-?}" "$elapsed" \
    "$(find "$corpus" -type f | wc -l)" "$final" >"$work/$t.row"
  echo "$status" >"$work/$t.status"
  if [ "$status" -ne 0 ]; then
    grep -E 'ERROR|SUMMARY|invariant broken|Test unit written|==[0-9]+==' "$work/$t.log" | head -20 >&2
    crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$work/$t.log" | tail -1)
    log "fuzz_$t FAILED (exit $status): input ${crash:-(none saved)}; log $work/$t.log"
    return 0
  fi
  if [ "$merge" -eq 1 ]; then
    before=$(find "$ROOT/fuzz/corpus/$t" -type f | wc -l)
    "$FUZZ_BUILD_DIR/fuzz/fuzz_$t" -merge=1 -max_len="${MAX_LEN[$t]}" "$ROOT/fuzz/corpus/$t" "$corpus" \
      >>"$work/$t.log" 2>&1
    log "fuzz_$t: corpus $before -> $(find "$ROOT/fuzz/corpus/$t" -type f | wc -l) files"
  fi
}

# A target runs on one core: as many at once as there are cores
# (PAYENGINE_FUZZ_JOBS), each for the same time as alone.
jobs_max="${PAYENGINE_FUZZ_JOBS:-$(nproc)}"
selected=()
for t in "${TARGETS[@]}"; do
  if [ -z "$only" ] || [ "$only" = "$t" ]; then selected+=("$t"); fi
done
running=0
for t in "${selected[@]}"; do
  if [ "$running" -ge "$jobs_max" ]; then
    wait -n || true
    running=$((running - 1))
  fi
  fuzz_one "$t" &
  running=$((running + 1))
done
wait

failed=()
printf '%-20s %12s %9s %8s %7s  %s\n' target executions exec/s seconds corpus "final line"
for t in "${selected[@]}"; do
  # No status: the run of that target itself failed (see the log above).
  if [ "$(cat "$work/$t.status" 2>/dev/null || echo 1)" -ne 0 ]; then failed+=("$t"); fi
  cat "$work/$t.row" 2>/dev/null || printf '%-20s (no result)\n' "$t"
done
if [ ${#failed[@]} -gt 0 ]; then
  log "crashed: ${failed[*]} (inputs under $artifacts; logs in $work)"
  exit 1
fi
rm -rf "$work"
