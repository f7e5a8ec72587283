#!/bin/bash
# replay.sh: requests/s of the agent's user-space pipeline (tracker, HTTP/1
# parsing, SSE, LLM usage extraction, JSON lines output) on one core, without
# BPF: tools/bench/replay.c feeds ring-buffer records of an OpenAI chat
# exchange to tracker_data() over and over, one new connection per exchange.
#
#   tools/bench/replay.sh [options] [CASE...]
#
#   CASE                http1 (~2 KiB JSON request, ~1 KiB JSON response) and/or
#                       sse (the same request, a 200-event SSE stream response);
#                       default: both
#   -t, --duration S    seconds per run, at least (2)
#   -r, --reps N        runs per case (5): the median, min and max are printed
#   -c, --cpu N         the CPU to run on (default: the last one)
#       --sink count    count the output lines and check every request record's
#                       token numbers (default; the bytes are then thrown away)
#       --sink null     write the records to /dev/null, check only the count
#   -v, --verbose       every run on stderr
#
# Builds build/libinfertrace.a (make) and build/tools/replay; needs no root.
# Exit status: 0, or 1 when a build failed or an exchange did not give the
# request record expected.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"

CC=${CC:-cc}
BIN=build/tools/replay
ARGS=()
CPU=""

while [ $# -gt 0 ]; do
	case "$1" in
	-c | --cpu)
		CPU=$2
		shift 2
		;;
	--cpu=*)
		CPU=${1#--cpu=}
		shift
		;;
	-h | --help)
		sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		ARGS+=("$1")
		shift
		;;
	esac
done
[ -n "$CPU" ] || CPU=$(($(nproc) - 1))

make --no-print-directory build/libinfertrace.a >&2
mkdir -p build/tools
if [ ! -x "$BIN" ] || [ tools/bench/replay.c -nt "$BIN" ] || [ build/libinfertrace.a -nt "$BIN" ]; then
	echo "  CC       $BIN" >&2
	$CC -O2 -g -Wall -Wextra -std=gnu11 -D_GNU_SOURCE -Iinclude -Isrc tools/bench/replay.c \
		build/libinfertrace.a -lbpf -lelf -lz -lcjson -lnghttp2 -lbrotlidec -lzstd -lhttp_parser \
		-o "$BIN"
fi

model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
echo "# replay: $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- src include 2>/dev/null || echo '+changes'), CPU $CPU of $(nproc) (${model:-unknown}), kernel $(uname -r)"
echo "# req/s: exchanges (one connection each: records, then close) per second on one core; us/req = 1e6 / median"
exec "$BIN" --header --cpu "$CPU" ${ARGS[@]+"${ARGS[@]}"}
