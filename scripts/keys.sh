#!/usr/bin/env bash
# RSA key pairs for the demo and benchmarks: the merchant app's (payengine
# signs requests with it) and the channel's (paysim signs responses and
# notifications with it). Written once under .local/keys.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
KEYS="$LOCAL_DIR/keys"
mkdir -p "$KEYS"
for who in app channel; do
  if [ ! -f "$KEYS/${who}_private.pem" ]; then
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$KEYS/${who}_private.pem" 2>/dev/null
    openssl pkey -in "$KEYS/${who}_private.pem" -pubout -out "$KEYS/${who}_public.pem"
  fi
done
echo "$KEYS"
