#!/usr/bin/env bash
# RSA key pairs for the demo and benchmarks: the merchant app's (payengine
# signs requests with it) and the channel's (paysim signs responses and
# notifications with it). WeChat Pay reuses them (the app pair as the
# merchant's key, the channel pair as the platform's) and adds a random
# 32-character APIv3 key (wechat_apiv3.key). Written once under .local/keys.
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
if [ ! -f "$KEYS/wechat_apiv3.key" ]; then
  # 32 hex characters (128 random bits), no newline: the key is the file's bytes.
  (umask 077 && printf '%s' "$(openssl rand -hex 16)" >"$KEYS/wechat_apiv3.key")
fi
echo "$KEYS"
