#!/usr/bin/env bash
# Installs every dependency from Debian packages (skipping what is present)
# and builds payengine in Release. Idempotent.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
install_packages
build Release
