#!/bin/sh
# Install the Debian packages infertrace needs to build and to run its tests.
# Runs as root (apt-get); called by `make` when build/.deps-ok is missing.
#
#   tools/deps.sh          install what is missing (quiet when nothing is)
#   tools/deps.sh --list   print the package list and exit
set -eu

BUILD_PKGS="make gcc binutils clang llvm pkg-config bpftool libbpf-dev libelf-dev zlib1g-dev libcjson-dev libnghttp2-dev libbrotli-dev libzstd-dev libhttp-parser-dev libcapstone-dev libmicrohttpd-dev libncurses-dev libcurl4-openssl-dev"
TEST_PKGS="libclang-rt-14-dev libcmocka-dev libssl-dev curl openssl gnutls-bin nodejs python3 iproute2 tmux prometheus rsyslog clickhouse-server"
PKGS="$BUILD_PKGS $TEST_PKGS"

if [ "${1:-}" = "--list" ]; then
	echo $PKGS
	exit 0
fi

missing=""
for p in $PKGS; do
	# nodejs: any node on PATH (e.g. a newer upstream build) will do
	if [ "$p" = nodejs ] && command -v node >/dev/null 2>&1; then continue; fi
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$st" in *" installed") ;; *) missing="$missing $p" ;; esac
done
[ -z "$missing" ] && exit 0

echo "infertrace: installing missing Debian packages:$missing" >&2
if [ "$(id -u)" != 0 ]; then
	echo "infertrace: installing packages needs root: run 'sudo make' (or 'sudo tools/deps.sh')" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2 || { echo "infertrace: apt-get update failed: check the network or /etc/apt/sources.list" >&2; exit 1; }
# The test receivers (prometheus, rsyslog, clickhouse-server) are started by
# the tests themselves: keep their packages from starting system services.
policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 0755 /usr/sbin/policy-rc.d &&
		policy=/usr/sbin/policy-rc.d
fi
rc=0
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing >&2 || rc=$?
[ -n "$policy" ] && rm -f "$policy"
if [ "$rc" != 0 ]; then
	echo "infertrace: apt-get install failed for:$missing" >&2
	exit 1
fi
