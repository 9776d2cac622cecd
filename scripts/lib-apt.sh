# shellcheck shell=bash
# Sourced by the ensure-*.sh scripts: apt_install, the one way they
# install a test server that is missing.
#
# apt_install TAG WHAT PACKAGE... installs PACKAGE... with apt-get, as
# root or through passwordless sudo (as on GitHub's runners), without
# starting the packaged services (the tests start and stop their own
# servers), waiting for another apt-get's lock. When it cannot install,
# it says so ("TAG: WHAT missing and ...") and ends the calling script:
# exit 0, or 1 under CI=true, where the tests that need the server fail
# without it.
apt_install() {
	local tag=$1 what=$2
	shift 2
	cannot() {
		echo "$tag: $what missing and $1; install it (apt-get install ${pkgs[*]}) to run its tests" >&2
		if [ "${CI:-}" = true ]; then exit 1; fi
		exit 0
	}
	pkgs=("$@")
	if [ "$(id -u)" -eq 0 ]; then
		as_root=()
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		as_root=(sudo -n)
	else
		cannot "this user cannot install packages"
	fi
	command -v apt-get >/dev/null 2>&1 || cannot "apt-get is not available"
	echo "$tag: installing ${pkgs[*]} with apt-get" >&2
	# Do not start the packaged services: the tests run their own servers.
	policy=/usr/sbin/policy-rc.d
	created_policy=0
	if [ ! -e "$policy" ]; then
		"${as_root[@]}" sh -c "printf '#!/bin/sh\nexit 101\n' >$policy && chmod +x $policy"
		created_policy=1
	fi
	trap 'if [ "$created_policy" = 1 ]; then "${as_root[@]}" rm -f "$policy"; fi' EXIT
	# Another apt-get (another ensure-*.sh, say) may hold the lock: wait for it.
	"${as_root[@]}" apt-get -o DPkg::Lock::Timeout=300 update -qq
	"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
		apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
}
