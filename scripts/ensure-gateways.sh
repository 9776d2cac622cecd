#!/usr/bin/env bash
# Installs nginx and caddy for the forward-auth tests of cmd/asymjwt when
# they are missing (apt_install, scripts/lib-apt.sh). The tests start and stop their
# own servers on loopback, with configurations in temp dirs; this only
# makes sure the binaries exist. The packaged services are not started.
# Under CI=true the gateway tests fail without them, so this script fails
# too when it cannot install them.
set -euo pipefail
. "$(dirname "$0")/lib-apt.sh"
missing=()
for bin in nginx caddy; do
	if ! command -v "$bin" >/dev/null 2>&1 && ! [ -x "/usr/sbin/$bin" ]; then
		missing+=("$bin")
	fi
done
if [ "${#missing[@]}" -eq 0 ]; then
	exit 0
fi
apt_install ensure-gateways "${missing[*]}" "${missing[@]}"
for bin in "${missing[@]}"; do
	command -v "$bin" || [ -x "/usr/sbin/$bin" ] || { echo "ensure-gateways: $bin still missing" >&2; exit 1; }
done
