#!/usr/bin/env bash
# Installs redis-server for the redis module's tests when it is missing
# (apt_install, scripts/lib-apt.sh). The tests start and stop their own server on
# loopback; this only makes sure the binary exists. The Sentinel tests run
# it as `redis-server --sentinel`, so the redis-sentinel package is not
# needed. Under CI=true the Redis tests fail without it, so this script
# fails too when it cannot install it.
set -euo pipefail
. "$(dirname "$0")/lib-apt.sh"
if command -v redis-server >/dev/null 2>&1; then
	exit 0
fi
apt_install ensure-redis redis-server redis-server
command -v redis-server
