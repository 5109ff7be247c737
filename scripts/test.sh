#!/usr/bin/env bash
# Runs every test: pure unit tests, PostgreSQL-backed tests and HTTP
# end-to-end tests against real payengine (and paysim) processes.
#   scripts/test.sh            everything
#   scripts/test.sh -L unit    only the pure ones (ctest arguments pass through)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
install_packages
install_node_checks
build Release
pg_start
trap pg_stop EXIT
export PAYENGINE_TEST_DATABASE_URL="$(pg_url postgres)"
export PAYENGINE_NODE_CHECKS="$ROOT/tests/node"
cd "$BUILD_DIR"
ctest --output-on-failure --timeout 600 -j 2 "$@"
