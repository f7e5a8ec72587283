#!/bin/bash
# The single test entry of infertrace: `make check` runs it after building
# build/infertrace, the cmocka unit tests (build/tests/test_*) and the helper
# programs (build/tools/*).
#
#   tests/run.sh                 every unit test binary, then every integration test
#   TESTS=pattern tests/run.sh   only the integration tests whose id
#                                (module.Class.method) matches (substring, or
#                                fnmatch pattern with * ? [); several: "a b" or "a,b"
#
# Needs root: the integration tests load eBPF programs. The last line is
# always "N passed, N failed" (every test counted); the exit status is
# non-zero when anything failed.
set -u

cd "$(dirname "$0")/.." || exit 1

if [ "$(id -u)" != 0 ]; then
	echo "tests/run.sh: the tests load eBPF programs and must run as root: sudo make check" >&2
	exit 1
fi

passed=0
failed=0
log=$(mktemp /tmp/infertrace-tests.XXXXXX)
trap 'rm -f "$log"' EXIT

# --- unit tests (cmocka) -----------------------------------------------------
# cmocka prints per group "[  PASSED  ] N test(s)." and, when some fail,
# "[  FAILED  ] N test(s), listed below:". A binary that crashes, hangs or
# prints neither line counts as one failed test; so does one that exits
# non-zero without reporting a failure.
units=0
for t in build/tests/test_*; do
	case "$t" in *.d | *.o) continue ;; esac # make's dependency files
	if [ ! -f "$t" ] || [ ! -x "$t" ]; then continue; fi
	units=$((units + 1))
	echo "=== unit: $t"
	timeout 120 "$t" >"$log" 2>&1
	rc=$?
	cat "$log"
	p=$(sed -n 's/^\[  PASSED  \] \([0-9][0-9]*\) test(s)\..*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
	f=$(sed -n 's/^\[  FAILED  \] \([0-9][0-9]*\) test(s), listed below:.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
	if [ "$rc" -ge 124 ] || { [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; }; then
		echo "*** $t: crashed, timed out or printed no cmocka summary (exit status $rc): counted as 1 failed"
		f=$((f + 1))
	elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "*** $t: exit status $rc without a failed test: counted as 1 failed"
		f=$((f + 1))
	fi
	echo "=== unit: $t: $p passed, $f failed"
	passed=$((passed + p))
	failed=$((failed + f))
done
[ "$units" -gt 0 ] || echo "=== unit: no build/tests/test_* binaries (build them with make check)"

# --- fuzz targets (libFuzzer): saved reproducers, then a bounded run each -----
# Each counts as one test: tests/fuzz/README.md; `make fuzz` runs them longer.
for t in regress proto llm stream; do
	echo "=== fuzz: $t"
	if [ "$t" = regress ]; then
		make -s fuzz-regress >"$log" 2>&1
	else
		make -s "fuzz-smoke-$t" FUZZ_SECONDS="${FUZZ_SECONDS:-8}" >"$log" 2>&1
	fi
	rc=$?
	tail -n 6 "$log"
	if [ "$rc" -eq 0 ]; then
		passed=$((passed + 1))
	else
		echo "*** fuzz $t failed (exit status $rc); log above and in build/fuzz/logs/"
		failed=$((failed + 1))
	fi
done

# --- integration tests -------------------------------------------------------
# Debian's python on purpose: a pyenv python may come first on PATH.
echo "=== integration: /usr/bin/python3 tests/integration/run.py"
TESTS="${TESTS:-}" /usr/bin/python3 tests/integration/run.py 2>&1 | tee "$log"
line=$(grep -E '^integration: [0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
if [ -n "$line" ]; then
	p=$(echo "$line" | sed -E 's/^integration: ([0-9]+) passed, ([0-9]+) failed$/\1/')
	f=$(echo "$line" | sed -E 's/^integration: ([0-9]+) passed, ([0-9]+) failed$/\2/')
else
	echo "*** the integration runner ended without its summary line: counted as 1 failed"
	p=0
	f=1
fi
passed=$((passed + p))
failed=$((failed + f))

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
