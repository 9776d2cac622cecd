#!/usr/bin/env bash
# Installs nginx and caddy for the forward-auth tests of cmd/asymjwt when
# they are missing, with apt-get, as root or through passwordless sudo (as
# on GitHub's runners). The tests start and stop their own servers on
# loopback, with configurations in temp dirs; this only makes sure the
# binaries exist. The packaged services are not started. Under CI=true
# the gateway tests fail without them, so this script fails too when it
# cannot install them.
set -euo pipefail
missing=()
for bin in nginx caddy; do
	if ! command -v "$bin" >/dev/null 2>&1 && ! [ -x "/usr/sbin/$bin" ]; then
		missing+=("$bin")
	fi
done
if [ "${#missing[@]}" -eq 0 ]; then
	exit 0
fi
cannot() {
	echo "ensure-gateways: ${missing[*]} missing and $1; install them (apt-get install ${missing[*]}) to run the forward-auth gateway tests" >&2
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
echo "ensure-gateways: installing ${missing[*]} with apt-get" >&2
# Do not start the packaged services: the tests run their own servers.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
	"${as_root[@]}" sh -c "printf '#!/bin/sh\nexit 101\n' >$policy && chmod +x $policy"
	created_policy=1
fi
cleanup() { if [ "$created_policy" = 1 ]; then "${as_root[@]}" rm -f "$policy"; fi; }
trap cleanup EXIT
# Another apt-get (ensure-redis.sh, say) may hold the lock: wait for it.
"${as_root[@]}" apt-get -o DPkg::Lock::Timeout=300 update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
	apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
for bin in "${missing[@]}"; do
	command -v "$bin" || [ -x "/usr/sbin/$bin" ] || { echo "ensure-gateways: $bin still missing" >&2; exit 1; }
done
