#!/usr/bin/env bash
# Installs PostgreSQL (Debian's postgresql package: initdb, postgres) for
# the sql module's tests when it is missing, with apt-get, as root or
# through passwordless sudo (as on GitHub's runners). The tests start and
# stop their own server in a temporary directory (sql/pgtest); this only
# makes sure the binaries exist, and does not start the packaged service.
# Under CI=true the PostgreSQL tests fail without it, so this script fails
# too when it cannot install it.
set -euo pipefail
if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null 2>&1; then
	exit 0
fi
cannot() {
	echo "ensure-postgres: PostgreSQL is missing and $1; install it (apt-get install postgresql) to run the sql tests" >&2
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
echo "ensure-postgres: installing postgresql with apt-get" >&2
# Do not start the packaged service (nor create its cluster's server):
# the tests run their own server.
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
	apt-get install -y -qq --no-install-recommends postgresql >/dev/null
ls /usr/lib/postgresql/*/bin/initdb
