#!/usr/bin/env bash
# Installs redis-server for the redis module's tests when it is missing.
# The tests start and stop their own server on loopback; this only makes
# sure the binary exists. Under CI=true those tests fail without it.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "ensure-redis: redis-server missing and not root; install it (apt-get install redis-server) to run the redis tests" >&2
	exit 0
fi
echo "ensure-redis: installing redis-server with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Do not start the packaged service: the tests run their own server.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created_policy=1
fi
apt-get install -y -qq --no-install-recommends redis-server >/dev/null
if [ "$created_policy" = 1 ]; then rm -f "$policy"; fi
command -v redis-server
