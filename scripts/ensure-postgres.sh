#!/usr/bin/env bash
# Installs PostgreSQL (Debian's postgresql package: initdb, postgres) for
# the sql module's tests when it is missing (apt_install, scripts/lib-apt.sh). The
# tests start and stop their own server in a temporary directory
# (sql/pgtest); this only makes sure the binaries exist, and does not
# start the packaged service. Under CI=true the PostgreSQL tests fail
# without it, so this script fails too when it cannot install it.
set -euo pipefail
. "$(dirname "$0")/lib-apt.sh"
if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null 2>&1; then
	exit 0
fi
apt_install ensure-postgres PostgreSQL postgresql
ls /usr/lib/postgresql/*/bin/initdb
