#!/usr/bin/env bash
# Installs redis-server for the redis module's tests when it is missing,
# with apt-get, as root or through passwordless sudo (as on GitHub's
# runners). The tests start and stop their own server on loopback; this
# only makes sure the binary exists. The Sentinel tests run it as
# `redis-server --sentinel`, so the redis-sentinel package is not needed. Under CI=true the Redis tests fail
# without it, so this script fails too when it cannot install it.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then
	exit 0
fi
cannot() {
	echo "ensure-redis: redis-server is missing and $1; install it (apt-get install redis-server) to run the redis tests" >&2
	if [ "${CI:-}" = true ]; then exit 1; fi
	exit 0
}
if [ "$(id -u)" -eq 0 ]; then
	as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
	as_root=(sudo -n)
else
	cannot "this user cannot install packages"
fi
command -v apt-get >/dev/null 2>&1 || cannot "apt-get is not available"
echo "ensure-redis: installing redis-server with apt-get" >&2
# Do not start the packaged service: the tests run their own server.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
	"${as_root[@]}" sh -c "printf '#!/bin/sh\nexit 101\n' >$policy && chmod +x $policy"
	created_policy=1
fi
cleanup() { if [ "$created_policy" = 1 ]; then "${as_root[@]}" rm -f "$policy"; fi; }
trap cleanup EXIT
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
	apt-get install -y -qq --no-install-recommends redis-server >/dev/null
command -v redis-server
