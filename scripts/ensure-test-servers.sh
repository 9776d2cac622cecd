#!/usr/bin/env bash
# Installs with apt-get the servers that the tests start on loopback by
# themselves, when they are missing: redis-server (the redis module, its
# Cluster and Sentinel tests, the CLI's --redis tests), PostgreSQL (the
# sql module: initdb and postgres, run by sql/pgtest), nginx and caddy
# (the forward-auth gateway tests). As root, or through passwordless sudo
# as on GitHub's runners; the packaged services are not started. Under
# CI=true the tests fail without these servers, so this script fails too
# when it cannot install them; elsewhere it warns and the tests skip.
set -euo pipefail
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
missing=()
have redis-server || missing+=(redis-server)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || have initdb || missing+=(postgresql)
have nginx || missing+=(nginx)
have caddy || missing+=(caddy)
if [ "${#missing[@]}" -eq 0 ]; then
	exit 0
fi
cannot() {
	echo "ensure-test-servers: ${missing[*]} missing and $1; install them (apt-get install ${missing[*]}) to run the tests that need them" >&2
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
echo "ensure-test-servers: installing ${missing[*]} with apt-get" >&2
# Do not start the packaged services: the tests run their own servers.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
	"${as_root[@]}" sh -c "printf '#!/bin/sh\nexit 101\n' >$policy && chmod +x $policy"
	created_policy=1
fi
cleanup() { if [ "$created_policy" = 1 ]; then "${as_root[@]}" rm -f "$policy"; fi; }
trap cleanup EXIT
# Another apt-get may hold the lock: wait for it.
"${as_root[@]}" apt-get -o DPkg::Lock::Timeout=300 update -qq || cannot "apt-get update failed"
# One package at a time: one the distribution lacks keeps out no other.
failed=()
for pkg in "${missing[@]}"; do
	"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
		apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "$pkg" >/dev/null || failed+=("$pkg")
done
if [ "${#failed[@]}" -ne 0 ]; then
	missing=("${failed[@]}")
	cannot "apt-get could not install them"
fi
