#!/bin/bash
# tls-overhead.sh: what infertrace's OpenSSL uprobes cost a TLS application.
#
# Runs tools/bench/tls_loop (a TLS ping-pong over 127.0.0.1 between two
# processes) untraced and traced by `build/infertrace agent`, interleaved
# round by round (ABBA order) so machine noise hits both sides, and prints
# per message size: median round trips/s untraced and traced, their ratio,
# and the time added per SSL call (median traced ns/call minus median
# untraced ns/call; every call in both processes is probed).
#
#   sudo tools/bench/tls-overhead.sh [options]
#
#   -r, --rounds N          rounds per size, each one untraced + one traced run (5)
#   -t, --duration S        seconds per run (2)
#   -s, --sizes "A B .."    message sizes in bytes ("64 1024 16384")
#       --api ex|plain      SSL_write_ex/SSL_read_ex (default) or SSL_write/SSL_read
#       --capture-bytes N   passed to the agent as --capture-bytes N
#       --agent-args "ARGS" more agent arguments (split on spaces)
#       --agent PATH        agent binary (build/infertrace)
#       --cpus auto|none|C[,S]  tls_loop pinning: auto = client and server on
#                           the last CPU (steadiest on small VMs; the agent is
#                           left free to run elsewhere); none = unpinned
#       --start-timeout S   seconds to wait for the agent's start record (30)
#       --keep DIR          keep each traced run's agent output and stderr in DIR
#                           (default: a temporary directory, removed at exit)
#   -v, --verbose           print every run's JSON line on stderr
#
# Needs root (the agent loads BPF programs). Builds build/tools/tls_loop
# when it is missing or older than tools/bench/tls_loop.c; never builds the
# agent (run `make` first). Runs during which another infertrace agent was
# running (a test suite's, say) are marked * and counted at the end: its
# probes slow the "untraced" side too. Exit status: 0 ok, 1 agent failed to start or
# stop, or a benchmark run failed, 2 usage.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LOOP_SRC=$ROOT/tools/bench/tls_loop.c
LOOP=$ROOT/build/tools/tls_loop
AGENT=$ROOT/build/infertrace

ROUNDS=5
DURATION=2
SIZES="64 1024 16384"
API="ex"
CAPTURE=""
AGENT_ARGS=""
CPUS=auto
START_TIMEOUT=30
KEEP=""
VERBOSE=0

die() { echo "tls-overhead: $*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'; }
need() { [ $# -ge 2 ] || { echo "tls-overhead: $1 needs a value" >&2; exit 2; }; }

while [ $# -gt 0 ]; do
	case "$1" in
	-r|--rounds) need "$@"; ROUNDS=$2; shift ;;
	-t|--duration) need "$@"; DURATION=$2; shift ;;
	-s|--sizes) need "$@"; SIZES=$2; shift ;;
	--api) need "$@"; API=$2; shift ;;
	--capture-bytes) need "$@"; CAPTURE=$2; shift ;;
	--agent-args) need "$@"; AGENT_ARGS=$2; shift ;;
	--agent) need "$@"; AGENT=$2; shift ;;
	--cpus) need "$@"; CPUS=$2; shift ;;
	--start-timeout) need "$@"; START_TIMEOUT=$2; shift ;;
	--keep) need "$@"; KEEP=$2; shift ;;
	-v|--verbose) VERBOSE=1 ;;
	-h|--help) usage; exit 0 ;;
	*) echo "tls-overhead: unknown option '$1' (see --help)" >&2; exit 2 ;;
	esac
	shift
done

case "$ROUNDS" in ''|*[!0-9]*|0) echo "tls-overhead: --rounds must be a positive integer" >&2; exit 2 ;; esac
case "$API" in ex|plain) ;; *) echo "tls-overhead: --api must be ex or plain" >&2; exit 2 ;; esac
case "$CAPTURE" in ''|[0-9]*) ;; *) echo "tls-overhead: --capture-bytes must be a number" >&2; exit 2 ;; esac
case "$START_TIMEOUT" in ''|*[!0-9]*) echo "tls-overhead: --start-timeout must be whole seconds" >&2; exit 2 ;; esac
for s in $SIZES; do
	case "$s" in *[!0-9]*|0) echo "tls-overhead: bad size '$s'" >&2; exit 2 ;; esac
done

[ "$(id -u)" = 0 ] || die "must run as root (the agent loads BPF programs): sudo $0"

# --- tls_loop -------------------------------------------------------------
if [ ! -x "$LOOP" ] || [ "$LOOP_SRC" -nt "$LOOP" ]; then
	echo "tls-overhead: building $LOOP" >&2
	mkdir -p "$(dirname "$LOOP")"
	${CC:-cc} -O2 -Wall -Wextra "$LOOP_SRC" -lssl -lcrypto -o "$LOOP" ||
		die "building tls_loop failed (needs libssl-dev: apt-get install libssl-dev)"
fi

[ -x "$AGENT" ] || die "agent not found at $AGENT: build it with 'make' (or pass --agent PATH)"

if pgrep -f 'infertrace agent' >/dev/null 2>&1; then
	echo "tls-overhead: warning: an infertrace agent is already running; untraced runs will be traced by it" >&2
fi

case "$CPUS" in
auto) n=$(nproc); LOOP_CPU=(--cpus "$((n - 1))") ;;
none) LOOP_CPU=() ;;
*) LOOP_CPU=(--cpus "$CPUS") ;;
esac

AGENT_CMD=("$AGENT" agent)
[ -n "$CAPTURE" ] && AGENT_CMD+=(--capture-bytes "$CAPTURE")
# shellcheck disable=SC2206 # split on purpose
[ -n "$AGENT_ARGS" ] && AGENT_CMD+=($AGENT_ARGS)

TMP=$(mktemp -d /tmp/tls-overhead.XXXXXX)
[ -n "$KEEP" ] && mkdir -p "$KEEP"
AGENT_PID=""
OUTF=""

# Alive and not a zombie.
alive() {
	local st
	kill -0 "$1" 2>/dev/null || return 1
	st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
	[ "$st" != Z ]
}

cleanup() {
	local i
	if [ -n "$AGENT_PID" ] && kill -0 "$AGENT_PID" 2>/dev/null; then
		kill -TERM "$AGENT_PID" 2>/dev/null || true
		for ((i = 0; i < 50; i++)); do alive "$AGENT_PID" || break; sleep 0.1; done
		kill -KILL -- "-$AGENT_PID" 2>/dev/null || true
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'echo "tls-overhead: interrupted" >&2; exit 130' INT TERM

# start_agent TAG: start the agent writing to $OUTF (a fresh file); return
# once its start record is there; exit the script with the agent's stderr if
# it dies or times out first.
start_agent() {
	local tag=$1 err=$TMP/agent.err i limit rc
	if [ -n "$KEEP" ]; then OUTF=$KEEP/$tag.jsonl; else OUTF=$TMP/agent.jsonl; fi
	rm -f "$OUTF"
	# Own process group, so an abnormal exit can kill all of it.
	setsid "${AGENT_CMD[@]}" -o "$OUTF" 2>"$err" &
	AGENT_PID=$!
	limit=$((START_TIMEOUT * 20))
	for ((i = 0; i < limit; i++)); do
		if grep -Eq '"event"[[:space:]]*:[[:space:]]*"start"' "$OUTF" 2>/dev/null; then
			return 0
		fi
		if ! alive "$AGENT_PID"; then
			rc=0
			wait "$AGENT_PID" || rc=$?
			AGENT_PID=""
			echo "tls-overhead: the agent failed to start (exit status $rc): ${AGENT_CMD[*]} -o $OUTF" >&2
			[ -s "$err" ] && { echo "--- agent stderr (last 20 lines):" >&2; tail -n 20 "$err" >&2; }
			[ -s "$OUTF" ] && { echo "--- agent output:" >&2; head -c 2000 "$OUTF" >&2; echo >&2; }
			exit 1
		fi
		sleep 0.05
	done
	echo "tls-overhead: the agent printed no start record within ${START_TIMEOUT}s: ${AGENT_CMD[*]} -o $OUTF" >&2
	[ -s "$err" ] && { echo "--- agent stderr (last 20 lines):" >&2; tail -n 20 "$err" >&2; }
	exit 1
}

# stop_agent TAG: SIGTERM, wait up to 15 s, then SIGKILL and fail.
stop_agent() {
	local tag=$1 rc=0 dog
	kill -TERM "$AGENT_PID" 2>/dev/null || true
	( sleep 15; kill -KILL "$AGENT_PID" 2>/dev/null ) &
	dog=$!
	wait "$AGENT_PID" || rc=$?
	kill "$dog" 2>/dev/null || true
	wait "$dog" 2>/dev/null || true
	AGENT_PID=""
	if [ -n "$KEEP" ]; then cp "$TMP/agent.err" "$KEEP/$tag.stderr"; fi
	if [ "$rc" = 137 ]; then
		die "the agent did not exit within 15 s of SIGTERM (killed)"
	elif [ "$rc" != 0 ]; then
		echo "tls-overhead: warning: the agent exited with status $rc after SIGTERM" >&2
		[ -s "$TMP/agent.err" ] && tail -n 5 "$TMP/agent.err" >&2
	fi
}

# json_num JSON KEY
json_num() { sed -n "s/.*\"$2\":\([-0-9.eE+]*\).*/\1/p" <<<"$1"; }

# Other infertrace agents (e.g. a test suite's) trace our "untraced" runs too.
OTHERS=0
others_running() {
	local p
	for p in $(pgrep -f 'infertrace agent' 2>/dev/null); do
		[ "$p" != "$AGENT_PID" ] && [ "$p" != "$$" ] && return 0
	done
	return 1
}

# run_loop SIZE -> one JSON line in $RESULT; MARK is " *" when another agent
# ran before or after it
run_loop() {
	MARK=""
	others_running && MARK=" *"
	RESULT=$("$LOOP" -s "$1" -t "$DURATION" --api "$API" "${LOOP_CPU[@]}") ||
		die "tls_loop -s $1 failed"
	others_running && MARK=" *"
	[ -n "$MARK" ] && OTHERS=$((OTHERS + 1))
	[ "$VERBOSE" = 1 ] && echo "    $RESULT" >&2
	return 0
}

# spread: (max - min) / median, in percent
spread() { tr ' ' '\n' | awk 'NF' | sort -g | awk '{ v[NR] = $1 } END {
	if (NR == 0) { print "nan"; exit }
	m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
	printf "%.0f%%", (m > 0 ? 100 * (v[NR] - v[1]) / m : 0) }'; }

median() { tr ' ' '\n' | awk 'NF' | sort -g | awk '{ v[NR] = $1 } END {
	if (NR == 0) { print "nan"; exit }
	if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "tls-overhead: $(uname -r), $(nproc) CPUs, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "tls-overhead: tls_loop --api $API -t $DURATION ${LOOP_CPU[*]}; agent: ${AGENT_CMD[*]} -o FILE; $ROUNDS rounds" >&2

declare -A U_RPS T_RPS U_NS T_NS SEEN LOST
for size in $SIZES; do
	U_RPS[$size]="" T_RPS[$size]="" U_NS[$size]="" T_NS[$size]="" SEEN[$size]="" LOST[$size]=""
	for ((r = 1; r <= ROUNDS; r++)); do
		if ((r % 2)); then order="u t"; else order="t u"; fi
		for side in $order; do
			if [ "$side" = u ]; then
				run_loop "$size"
				rps=$(json_num "$RESULT" round_trips_per_s)
				ns=$(json_num "$RESULT" ns_per_ssl_call)
				U_RPS[$size]+=" $rps" U_NS[$size]+=" $ns"
				printf '  size %-6s round %d untraced %10.1f rt/s %9.1f ns/call%s\n' "$size" "$r" "$rps" "$ns" "$MARK" >&2
			else
				tag=s$size-r$r
				start_agent "$tag"
				run_loop "$size"
				stop_agent "$tag"
				rps=$(json_num "$RESULT" round_trips_per_s)
				ns=$(json_num "$RESULT" ns_per_ssl_call)
				calls=$(json_num "$RESULT" ssl_calls)
				# the agent's last own record has its totals since start
				last=$(grep -E '"type"[[:space:]]*:[[:space:]]*"agent"' "$OUTF" | tail -n 1 | tr -d ' ')
				seen=$(json_num "$last" calls)
				lost=$(json_num "$last" lost)
				spc=$(awk -v a="$seen" -v c="$calls" 'BEGIN { printf "%.2f", (c > 0 ? a / c : 0) }')
				T_RPS[$size]+=" $rps" T_NS[$size]+=" $ns" SEEN[$size]+=" $spc" LOST[$size]+=" ${lost:-0}"
				printf '  size %-6s round %d traced   %10.1f rt/s %9.1f ns/call  agent: calls %s (%s per timed call) lost %s%s\n' \
					"$size" "$r" "$rps" "$ns" "${seen:-?}" "$spc" "${lost:-?}" "$MARK" >&2
			fi
		done
	done
done

echo
printf '%-7s %-5s %14s %14s %7s %12s %10s %6s  %s\n' size api "untraced rt/s" "traced rt/s" ratio "+ns/SSLcall" seen/call lost "spread u/t" 
for size in $SIZES; do
	u=$(median <<<"${U_RPS[$size]}")
	t=$(median <<<"${T_RPS[$size]}")
	un=$(median <<<"${U_NS[$size]}")
	tn=$(median <<<"${T_NS[$size]}")
	l=$(median <<<"${SEEN[$size]}")
	lo=$(median <<<"${LOST[$size]}")
	sp="$(spread <<<"${U_RPS[$size]}")/$(spread <<<"${T_RPS[$size]}")"
	awk -v s="$size" -v a="$API" -v u="$u" -v t="$t" -v un="$un" -v tn="$tn" -v l="$l" -v lo="$lo" -v sp="$sp" 'BEGIN {
		printf "%-7s %-5s %14.1f %14.1f %7.3f %12.1f %10.2f %6d  %s\n", s, a, u, t, (u > 0 ? t / u : 0), tn - un, l, lo, sp }'
done
echo "(medians of $ROUNDS runs of ${DURATION}s each; ratio = traced/untraced round trips/s;"
echo " +ns/SSLcall = median traced minus median untraced wall time per SSL call, 4 calls per round trip"
echo " across client and server; seen/call = TLS calls the agent counted (its last \"agent\" record)"
echo " per timed SSL call, about 1 (warmup and other processes add a little); lost = ring-buffer losses;"
echo " spread = (max - min) / median of round trips/s, untraced/traced: ratios inside it are noise)"
if [ "$OTHERS" -gt 0 ]; then
	echo "tls-overhead: warning: another infertrace agent was running around $OTHERS run(s) (marked * above):"
	echo " its probes slowed those runs too; rerun on a quiet machine for clean numbers"
fi
