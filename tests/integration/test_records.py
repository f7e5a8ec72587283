"""The agent's own records and the shape of every record.

One agent runs for a few intervals with a little traffic, then stops with
SIGTERM: its output must be JSON lines only, start with the start record, end
with the stop record, have interval records about every --interval, lose no
event, and give every record the keys the schema lists.
"""
import re
import subprocess
import time
import unittest

from helpers import (AGENT, AGENT_START_KEYS, AGENT_STAT_KEYS, CONNECTION_KEYS, USAGE_KEYS,
                     IntegrationCase, check_eq, check_keys, check_true, parse_time_ns,
                     summarize, unique_token, wait_for)


def agent_version():
    out = subprocess.run([AGENT, "agent", "--version"], capture_output=True, text=True, timeout=10).stdout
    m = re.search(r"(\d+\.\d+\.\d+\S*)", out)
    if not m:
        raise AssertionError("no version number in `infertrace agent --version` output %r" % out)
    return m.group(1)


class Records(IntegrationCase):

    def test_agent_records(self):
        t0 = time.time_ns()
        agent = self.start_agent()
        server = self.start_server("tls")
        token = unique_token()
        self.curl(server.url(2000, token))
        server.wait_entry(token)
        # Let at least two whole intervals pass.
        wait_for(lambda: len([r for r in agent.records("agent")
                              if r.get("event") == "interval"]) >= 2,
                 8, "two agent interval records", describe=agent.describe)
        check_eq(agent.stop(), 0, "agent exit status after SIGTERM")
        t1 = time.time_ns()
        recs = agent.records()

        for r in recs:
            check_true(r.get("type") in ("agent", "connection", "usage"),
                       "record type is agent, connection or usage", r)

        start = recs[0]
        check_eq((start.get("type"), start.get("event")), ("agent", "start"), "first record")
        check_keys(start, AGENT_START_KEYS, "start record")
        check_eq(start["schema_version"], 1, "start schema_version")
        check_eq(start["version"], agent_version(), "start version vs. --version")
        check_true(start["probes_attached"] > 0, "start probes_attached > 0", start)
        check_true(start["files_attached"] > 0, "start files_attached > 0", start)
        check_true(t0 <= parse_time_ns(start["time"], "start time") <= t1,
                   "start time within the test's run", start["time"])

        stop = recs[-1]
        check_eq((stop.get("type"), stop.get("event")), ("agent", "stop"), "last record")
        stats = [r for r in recs if r.get("type") == "agent" and r.get("event") in
                 ("interval", "stop")]
        check_eq(len([r for r in recs if r.get("event") == "stop"]), 1, "stop records")
        for r in stats:
            what = "agent %s record" % r["event"]
            check_keys(r, AGENT_STAT_KEYS, what)
            check_eq(r["lost"], 0, what + ": lost")
            check_true(r["probes_attached"] > 0, what + ": probes_attached > 0", r)
            check_true(r["rss_bytes"] > 0, what + ": rss_bytes > 0", r)
            a = parse_time_ns(r["interval_start"], what + " interval_start")
            b = parse_time_ns(r["interval_end"], what + " interval_end")
            check_true(a <= b, what + ": interval_start <= interval_end", r)
            if r["event"] == "interval":
                check_true(0.5e9 <= b - a <= 2.0e9,
                           what + ": an interval lasts about --interval 1 s",
                           (r["interval_start"], r["interval_end"]))
        check_true(sum(r["events"] for r in stats) > 0,
                   "agent records count some events (there was traffic)", summarize(stats))

        conns = [r for r in recs if r.get("type") == "connection"]
        check_true(len(conns) >= 2, "connection records (curl and server)", summarize(conns))
        for r in conns:
            check_keys(r, CONNECTION_KEYS, "connection record")
            for k in ("pid", "cgroup_id", "client.port", "server.port", "bytes_sent",
                      "bytes_received", "calls"):
                check_true(isinstance(r[k], int) and r[k] >= 0,
                           "connection %s is a non-negative integer" % k, r)
            check_true(r["role"] in ("client", "server", "unknown"), "connection role", r)
            check_true(r["tls.library"] in ("openssl", "gnutls", None), "tls.library", r)
            check_true(r["close_reason"] in ("closed", "idle", "exit", "shutdown"),
                       "close_reason", r)
            for k in ("time", "start_time", "end_time"):
                parse_time_ns(r[k], "connection " + k)
        for r in (r for r in recs if r.get("type") == "usage"):
            check_keys(r, USAGE_KEYS, "usage record")
            check_true(isinstance(r["partial"], bool), "usage partial is a boolean", r)


if __name__ == "__main__":
    unittest.main()
