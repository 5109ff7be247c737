#!/usr/bin/env bash
# Runs every test: pure unit tests, PostgreSQL-backed tests and HTTP
# end-to-end tests against real payengine (and paysim) processes.
#   scripts/test.sh            everything
#   scripts/test.sh -L unit    only the pure ones (ctest arguments pass through)
#   scripts/test.sh --sanitize the same code built with ASan + UBSan (build
#                              type Sanitize) in its own folder
#                              (build-sanitize): every suite but the SERIAL
#                              ones, which kill and time processes
#   scripts/test.sh [--sanitize] --build-only
#                              only builds what that run needs (.ci/run
#                              builds the sanitized code this way, at idle
#                              priority, while the plain suites run)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

SANITIZE="" BUILD_ONLY=""
while [ $# -gt 0 ]; do # our options first, in any order; the rest is CTest's
  case "$1" in
    --sanitize) SANITIZE=1; shift ;;
    --build-only) BUILD_ONLY=1; shift ;;
    *) break ;;
  esac
done

# The flags are the Sanitize build type's (CMakeLists.txt). No
# -fno-sanitize-recover: UBSan's suppressions only apply to recoverable
# checks; halt_on_error=1 stops at the first report. Only what the run needs
# is built: the target parallel_tests (the engine, paysim and every suite
# that is not SERIAL).
build_for_run() {
  if [ -n "$SANITIZE" ]; then
    CC=clang CXX=clang++ build Sanitize "" parallel_tests
  else
    build Release
  fi
}

if [ -n "$SANITIZE" ]; then
  BUILD_DIR="${PAYENGINE_SANITIZE_BUILD_DIR:-$ROOT/build-sanitize}"
fi
install_packages
if [ -n "$BUILD_ONLY" ]; then
  build_for_run
  exit 0
fi
install_node_checks
# The throwaway RabbitMQ starts (6-10 s) while the code builds.
trap 'pg_stop; rabbitmq_stop' EXIT
rabbitmq_start fresh &
RABBITMQ_STARTING=$!
if [ -n "$SANITIZE" ]; then
  # Any memory error or undefined behaviour aborts the test that met it.
  # Leaks are not checked: CAF 0.17 keeps singletons alive at exit.
  export ASAN_OPTIONS="abort_on_error=1:detect_leaks=0:strict_string_checks=1"
  export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$ROOT/tests/sanitizers/ubsan.supp"
fi
build_for_run
pg_start
wait "$RABBITMQ_STARTING"
export PAYENGINE_TEST_DATABASE_URL="$(pg_url postgres)"
export PAYENGINE_TEST_AMQP_URL="$(amqp_url)"
export PAYENGINE_TEST_RABBITMQCTL="$(rabbitmqctl_wrapper)"
export PAYENGINE_NODE_CHECKS="$ROOT/tests/node"
cd "$BUILD_DIR"
if [ -n "$SANITIZE" ]; then
  # Left out under the sanitizers: the suites that kill and time processes
  # (SERIAL in tests/e2e/CMakeLists.txt; not built here, so CTest lists
  # them as <name>_NOT_BUILT).
  # They run 2-3x slower under ASan and their schedules would stop meaning
  # anything; the plain run covers them.
  ctest --output-on-failure --timeout 600 -j 2 -E '_NOT_BUILT$' "$@"
else
  ctest --output-on-failure --timeout 600 -j 2 "$@"
fi
