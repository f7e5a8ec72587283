"""The agent's command line: bad options, --help, --version.

Bad options must fail fast with status 2 and one line on stderr starting
with "infertrace:", before any probe is loaded (so these run in well under a
second each and leave nothing behind).
"""
import os
import re
import subprocess
import unittest

from helpers import AGENT, ROOT, check_eq, check_true, require_agent

TIMEOUT = 10

# Every option of `infertrace agent`, as (short, long); None: no short form.
OPTIONS = [("-o", None), ("-i", "--interval"), ("-p", "--pid"), ("-c", "--comm"),
           (None, "--capture-bytes"), (None, "--http-port"), (None, "--conn-idle"),
           ("-v", None), ("-h", "--help"), ("-V", "--version")]


def run_agent(*args):
    return subprocess.run([AGENT, "agent"] + list(args), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=TIMEOUT)


def makefile_version():
    with open(os.path.join(ROOT, "Makefile")) as f:
        m = re.search(r"^VERSION\s*:?=\s*(\S+)", f.read(), re.M)
    return m.group(1) if m else None


class Cli(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        require_agent()

    def check_usage_error(self, *args):
        res = run_agent(*args)
        what = "infertrace agent %s" % " ".join(args)
        lines = res.stderr.splitlines()
        check_eq(res.returncode, 2, what + ": exit status (stderr: %r)" % res.stderr)
        check_eq(len(lines), 1, what + ": stderr lines (stderr: %r)" % res.stderr)
        check_true(lines[0].startswith("infertrace:"), what + ": stderr starts with 'infertrace:'",
                   lines[0])
        check_eq(res.stdout, "", what + ": stdout")

    def test_capture_bytes_too_big(self):
        self.check_usage_error("--capture-bytes", "70000")

    def test_capture_bytes_negative(self):
        self.check_usage_error("--capture-bytes", "-1")

    def test_interval_zero(self):
        self.check_usage_error("--interval", "0")

    def test_interval_not_a_number(self):
        self.check_usage_error("--interval", "soon")

    def test_unknown_option(self):
        self.check_usage_error("--bogus")

    def test_pid_not_a_number(self):
        self.check_usage_error("-p", "notanumber")

    def test_http_port_out_of_range(self):
        self.check_usage_error("--http-port", "70000")

    def test_missing_argument(self):
        self.check_usage_error("--pid")

    def test_help(self):
        for flag in ("--help", "-h"):
            res = run_agent(flag)
            check_eq(res.returncode, 0, "infertrace agent %s: exit status" % flag)
            for short, long in OPTIONS:
                for name in (short, long):
                    if name:
                        check_true(re.search(r"(^|[\s,])%s\b" % re.escape(name), res.stdout),
                                   "infertrace agent %s mentions %s" % (flag, name), res.stdout)

    def test_version(self):
        for flag in ("--version", "-V"):
            res = run_agent(flag)
            check_eq(res.returncode, 0, "infertrace agent %s: exit status" % flag)
            check_eq(len(res.stdout.splitlines()), 1, "infertrace agent %s: one line" % flag)
            version = makefile_version()
            check_true(version and version in res.stdout,
                       "infertrace agent %s shows the Makefile's VERSION %s" % (flag, version),
                       res.stdout)


if __name__ == "__main__":
    unittest.main()
