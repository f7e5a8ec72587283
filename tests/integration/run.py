#!/usr/bin/python3
"""Runner of the infertrace integration tests (stdlib unittest, no pytest).

  /usr/bin/python3 tests/integration/run.py [PATTERN...]

Discovers tests/integration/test_*.py and runs them one by one, printing each
test's name and ok/FAIL/ERROR, with the assertion message right under a
failure (the full tracebacks follow at the end). The last line is always

  integration: N passed, N failed

which tests/run.sh reads. Patterns (arguments, or the TESTS environment
variable, separated by spaces or commas) select tests as unittest's -k does:
a substring of the test's id (module.Class.method), or an fnmatch pattern
when it has a wildcard. Skipped tests count as failed: these tests skip
nothing on purpose, so a skip means something was not tested.

Each test runs under an alarm (TEST_TIMEOUT seconds, default 180) so that one
hung test fails instead of hanging the suite.
"""
import fnmatch
import os
import signal
import sys
import time
import unittest

# No __pycache__ in the source tree.
sys.dont_write_bytecode = True

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

TEST_TIMEOUT = int(os.environ.get("TEST_TIMEOUT", "180"))


class TestTimeout(AssertionError):
    pass


def on_alarm(signum, frame):
    raise TestTimeout("test ran past TEST_TIMEOUT=%ds" % TEST_TIMEOUT)


class Result(unittest.TextTestResult):
    """Counts passes and failures itself (class fixtures that fail are not in
    testsRun) and shows why a test failed next to its name."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.passed = 0
        self.failed = 0

    def startTest(self, test):
        signal.alarm(TEST_TIMEOUT)
        super().startTest(test)

    def stopTest(self, test):
        signal.alarm(0)
        super().stopTest(test)

    def _why(self, err):
        msg = str(err[1]).strip() or err[0].__name__
        lines = msg.splitlines()
        if len(lines) > 25:
            lines = lines[:25] + ["... (%d more lines in the report below)" % (len(lines) - 25)]
        self.stream.writeln("    " + "\n    ".join(lines))
        self.stream.flush()

    def addSuccess(self, test):
        self.passed += 1
        super().addSuccess(test)

    def addFailure(self, test, err):
        self.failed += 1
        super().addFailure(test, err)
        self._why(err)

    def addError(self, test, err):
        self.failed += 1
        super().addError(test, err)
        self._why(err)

    def addSkip(self, test, reason):
        self.failed += 1
        super().addSkip(test, reason)

    def addExpectedFailure(self, test, err):
        self.passed += 1
        super().addExpectedFailure(test, err)

    def addUnexpectedSuccess(self, test):
        self.failed += 1
        super().addUnexpectedSuccess(test)


def flatten(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from flatten(t)
        else:
            yield t


def selected(test_id, patterns):
    if not patterns:
        return True
    for p in patterns:
        if any(c in p for c in "*?["):
            if fnmatch.fnmatchcase(test_id, p if p.startswith("*") else "*" + p + "*"):
                return True
        elif p in test_id:
            return True
    return False


def main():
    patterns = sys.argv[1:] or os.environ.get("TESTS", "").replace(",", " ").split()
    if os.geteuid() != 0:
        print("integration tests need root (they load eBPF programs): run as root", flush=True)
        print("integration: 0 passed, 1 failed")
        return 1

    signal.signal(signal.SIGALRM, on_alarm)
    loader = unittest.TestLoader()
    discovered = loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    # Modules that fail to import show up as tests named
    # unittest.loader._FailedTest.<module>: always run (they fail).
    tests = [t for t in flatten(discovered)
             if selected(t.id(), patterns) or t.id().startswith("unittest.loader")]
    if patterns and not tests:
        print("no integration test matches %s" % " ".join(patterns), flush=True)
        print("integration: 0 passed, 1 failed")
        return 1

    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2, descriptions=False,
                                     resultclass=Result)
    t0 = time.monotonic()
    result = runner.run(unittest.TestSuite(tests))
    print("integration tests took %.0fs" % (time.monotonic() - t0))
    print("integration: %d passed, %d failed" % (result.passed, result.failed), flush=True)
    return 0 if result.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
