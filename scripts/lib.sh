# Shared by the scripts: paths, package list, the throwaway PostgreSQL.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${PAYENGINE_BUILD_DIR:-$ROOT/build}"
LOCAL_DIR="$ROOT/.local"
PG_BIN="/usr/lib/postgresql/15/bin"
PG_PORT="${PAYENGINE_PG_PORT:-55432}"

# Every Debian package the build, the tests, the demo and the benchmarks use.
PACKAGES=(
  build-essential cmake pkg-config ccache git curl ca-certificates
  clang libclang-rt-14-dev
  libcaf-dev libpqxx-dev libpq-dev libcpp-httplib-dev nlohmann-json3-dev libssl-dev
  libspdlog-dev libcli11-dev libgtest-dev libboost1.81-dev libjemalloc-dev
  postgresql-15 postgresql-contrib postgresql-client-15
  wrk jq openssl
  prometheus chromium haproxy
  librabbitmq-dev rabbitmq-server
)

log() { printf '\033[1m==> %s %s\033[0m\n' "$(date +%T)" "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Node.js runs independent reference implementations in the tests
# (tests/node: the Standard Webhooks verifier). The machine's own node is
# used when there is one; else Debian's.
install_node_checks() {
  if ! command -v npm >/dev/null 2>&1; then
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  fi
  log "installing tests/node (npm ci)"
  npm ci --prefix "$ROOT/tests/node" --no-audit --no-fund --loglevel=error >/dev/null
}

install_packages() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    return 0
  fi
  log "installing: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

build() { # [type] [extra CXX flags] [target]
  local type="${1:-Release}" flags="${2:-}" target="${3:-all}"
  log "building $target ($type${flags:+, $flags}) in $BUILD_DIR"
  export CCACHE_DIR="${CCACHE_DIR:-$LOCAL_DIR/ccache}"
  cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE="$type" -DCMAKE_CXX_FLAGS="$flags" >/dev/null
  cmake --build "$BUILD_DIR" --target "$target" -j "$(nproc)"
}

# --- the throwaway PostgreSQL (runs as the postgres user) -----------------
pg_dir() {
  # Under the git-ignored .local/ when the postgres user can reach it.
  local dir="$LOCAL_DIR/pg"
  mkdir -p "$dir"
  if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$dir"; then
    dir="/tmp/payengine-pg-$(echo "$ROOT" | md5sum | cut -c1-8)"
    mkdir -p "$dir"
  fi
  echo "$dir"
}

pg_run() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_start() {
  local dir; dir="$(pg_dir)"
  if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$dir"; fi
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    log "initdb in $dir/data"
    pg_run "$PG_BIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-sync >/dev/null
  fi
  mkdir -p "$dir/run"
  if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$dir/run"; fi
  if pg_run "$PG_BIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    return 0
  fi
  log "starting PostgreSQL on 127.0.0.1:$PG_PORT (socket $dir/run)"
  pg_run "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 30 start \
    -o "-p $PG_PORT -k $dir/run -c listen_addresses=127.0.0.1 -c max_connections=300 \
        -c shared_buffers=256MB -c max_wal_size=2GB -c log_min_messages=warning" >/dev/null
}

pg_stop() {
  local dir; dir="$(pg_dir)"
  if [ -f "$dir/data/PG_VERSION" ]; then
    pg_run "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
}

# --- the throwaway RabbitMQ (API.md "Events on RabbitMQ") ------------------
# Debian's broker run directly (no systemd, no rabbitmq user), all its state
# under .local/rabbitmq, on loopback ports from PAYENGINE_AMQP_PORT up: AMQP,
# Erlang distribution, its own epmd, then rabbitmqctl's listeners (10 ports
# in all: several rabbitmqctl may run at once).
# The node name is unique per checkout, so two work trees never meet.
AMQP_PORT="${PAYENGINE_AMQP_PORT:-25680}"
RABBIT_BIN="/usr/lib/rabbitmq/bin"

rabbit_env() { # runs "$@" with the broker's environment
  local dir="$LOCAL_DIR/rabbitmq"
  env HOME="$dir/home" RABBITMQ_NODENAME="pe$(echo "$ROOT" | md5sum | cut -c1-8)@localhost" \
    RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$AMQP_PORT" \
    RABBITMQ_DIST_PORT="$((AMQP_PORT + 1))" ERL_EPMD_PORT="$((AMQP_PORT + 2))" ERL_EPMD_ADDRESS=127.0.0.1 \
    RABBITMQ_CTL_DIST_PORT_MIN="$((AMQP_PORT + 3))" RABBITMQ_CTL_DIST_PORT_MAX="$((AMQP_PORT + 9))" \
    RABBITMQ_MNESIA_BASE="$dir/mnesia" RABBITMQ_LOG_BASE="$dir/log" RABBITMQ_LOGS=- \
    RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf" RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins" \
    RABBITMQ_PID_FILE="$dir/rabbitmq.pid" RABBITMQ_CONF_ENV_FILE=/dev/null \
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" "$@"
}

rabbitmq_start() { # [fresh]: without the queues and messages of earlier runs
  local dir="$LOCAL_DIR/rabbitmq"
  mkdir -p "$dir/home" "$dir/log"
  echo "[]." >"$dir/enabled_plugins"
  # guest may log in from loopback only (the default); no disk alarm on a small disk.
  printf 'loopback_users.guest = true\ndisk_free_limit.absolute = 50MB\n' >"$dir/rabbitmq.conf"
  if rabbit_env "$RABBIT_BIN/rabbitmqctl" -q status >/dev/null 2>&1; then
    return 0
  fi
  if [ "${1:-}" = fresh ]; then rm -rf "$dir/mnesia"; fi
  log "starting RabbitMQ on 127.0.0.1:$AMQP_PORT ($dir)"
  rabbit_env "$RABBIT_BIN/rabbitmq-server" >"$dir/server.log" 2>&1 &
  rabbit_env "$RABBIT_BIN/rabbitmqctl" -q wait "$dir/rabbitmq.pid" --timeout 90 >/dev/null \
    || { tail -20 "$dir/server.log" >&2; return 1; }
}

rabbitmq_stop() {
  local dir="$LOCAL_DIR/rabbitmq"
  [ -d "$dir" ] || return 0
  # No pid file: no broker (never started, or stopped already). rabbitmqctl
  # would wait for the file to appear, forever.
  if [ -f "$dir/rabbitmq.pid" ]; then
    rabbit_env timeout 60 "$RABBIT_BIN/rabbitmqctl" -q stop "$dir/rabbitmq.pid" >/dev/null 2>&1 || true
  fi
  # The epmd it started stays up: stop the one on our own port.
  epmd -port "$((AMQP_PORT + 2))" -kill >/dev/null 2>&1 || true
}

amqp_url() { echo "amqp://guest:guest@127.0.0.1:$AMQP_PORT/"; }

# rabbitmqctl against the throwaway broker, as a script the tests can run
# (the broker-down test stops and starts its application).
rabbitmqctl_wrapper() {
  local w="$LOCAL_DIR/rabbitmq/rabbitmqctl"
  mkdir -p "$LOCAL_DIR/rabbitmq"
  { echo '#!/usr/bin/env bash'
    echo "PAYENGINE_AMQP_PORT=$AMQP_PORT source '$ROOT/scripts/lib.sh'"
    echo 'rabbit_env "$RABBIT_BIN/rabbitmqctl" "$@"'; } >"$w"
  chmod +x "$w"
  echo "$w"
}

# A libpq connection string for database $1 over the unix socket.
pg_url() {
  echo "host=$(pg_dir)/run port=$PG_PORT user=postgres dbname=${1:-postgres}"
}

pg_create_db() {
  local name="$1"
  PGOPTIONS="-c client_min_messages=warning" "$PG_BIN/psql" -q -X "$(pg_url postgres)" -c "DROP DATABASE IF EXISTS $name WITH (FORCE)" \
    -c "CREATE DATABASE $name" >/dev/null
}

# --- paysim and payengine side by side (demo, benchmarks, screenshot) -----
# Both read the key pairs of scripts/keys.sh from $KEYS. Extra PAYENGINE_*
# settings go in front of the call: `PAYENGINE_LOG_LEVEL=warn start_engine ...`.

# WeChat Pay as paysim plays it and payengine calls it: the merchant and the
# platform reuse the app and channel pairs; ids and serials are fixed.
WECHAT_MCH_ID=1900000001
WECHAT_APP_ID=wx0000000000000001
WECHAT_MERCHANT_SERIAL=MERCHANT_SERIAL_DEMO
WECHAT_PLATFORM_SERIAL=PLATFORM_SERIAL_DEMO

# start_paysim PORT LOG: paysim at real time on 127.0.0.1:PORT, as Alipay
# and WeChat Pay; sets PAYSIM_PID.
start_paysim() {
  PAYSIM_TIME_SCALE=1 \
  PAYSIM_WECHAT_PRIVATE_KEY_FILE="$KEYS/channel_private.pem" \
  PAYSIM_WECHAT_SERIAL="$WECHAT_PLATFORM_SERIAL" \
  PAYSIM_WECHAT_MERCHANT_PUBLIC_KEY_FILE="$KEYS/app_public.pem" \
  PAYSIM_WECHAT_MERCHANT_SERIAL="$WECHAT_MERCHANT_SERIAL" \
  PAYSIM_WECHAT_APIV3_KEY_FILE="$KEYS/wechat_apiv3.key" \
  PAYSIM_WECHAT_MCH_ID="$WECHAT_MCH_ID" \
  PAYSIM_WECHAT_APP_ID="$WECHAT_APP_ID" \
    "$BUILD_DIR/sim/paysim" --listen "127.0.0.1:$1" \
    --private-key-file "$KEYS/channel_private.pem" --app-public-key-file "$KEYS/app_public.pem" \
    >"$2" 2>&1 &
  PAYSIM_PID=$!
}

# start_engine PORT SIM_PORT DATABASE_URL ADMIN_TOKEN LOG [flags...]: payengine
# with paysim as its Alipay and WeChat Pay channels; waits until ready; sets
# ENGINE_PID.
# Everything runs on loopback, which outbound calls may reach only when
# allowed: PAYENGINE_OUTBOUND_ALLOW defaults to 127.0.0.0/8 here.
start_engine() {
  local port="$1" sim_port="$2" url="$3" token="$4" log_file="$5"
  shift 5
  PAYENGINE_DATABASE_URL="$url" PAYENGINE_LISTEN="127.0.0.1:$port" PAYENGINE_ADMIN_TOKEN="$token" \
  PAYENGINE_ALIPAY_GATEWAY_URL="http://127.0.0.1:$sim_port/gateway.do" \
  PAYENGINE_ALIPAY_APP_ID=2021000000000000 \
  PAYENGINE_ALIPAY_PRIVATE_KEY_FILE="$KEYS/app_private.pem" \
  PAYENGINE_ALIPAY_PUBLIC_KEY_FILE="$KEYS/channel_public.pem" \
  PAYENGINE_WECHAT_GATEWAY_URL="http://127.0.0.1:$sim_port" \
  PAYENGINE_WECHAT_MCH_ID="$WECHAT_MCH_ID" \
  PAYENGINE_WECHAT_APP_ID="$WECHAT_APP_ID" \
  PAYENGINE_WECHAT_PRIVATE_KEY_FILE="$KEYS/app_private.pem" \
  PAYENGINE_WECHAT_SERIAL="$WECHAT_MERCHANT_SERIAL" \
  PAYENGINE_WECHAT_PLATFORM_PUBLIC_KEY_FILE="$KEYS/channel_public.pem" \
  PAYENGINE_WECHAT_PLATFORM_SERIAL="$WECHAT_PLATFORM_SERIAL" \
  PAYENGINE_WECHAT_APIV3_KEY_FILE="$KEYS/wechat_apiv3.key" \
  PAYENGINE_OUTBOUND_ALLOW="${PAYENGINE_OUTBOUND_ALLOW-127.0.0.0/8}" \
    "$BUILD_DIR/payengine" "$@" >"$log_file" 2>&1 &
  ENGINE_PID=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && return 0; sleep 0.1; done
  tail -5 "$log_file" >&2
  return 1
}
