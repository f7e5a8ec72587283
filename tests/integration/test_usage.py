"""Usage records: per-process sums over intervals.

For each process, the bytes of its usage records (all intervals, the final
partial one included) must add up to the bytes of its connection records:
the two are different views of the same calls. A process that exits gets a
last usage record with partial: true, without waiting for the agent to stop.
"""
import json
import unittest

from helpers import (PYCLIENT, PYTHON, USAGE_KEYS, IntegrationCase, check_eq, check_keys,
                     check_true, comm_of, own_cgroup_id, parse_time_ns, run_client,
                     summarize, unique_token, wait_for)


def sums(records, keys=("bytes_sent", "bytes_received")):
    return {k: sum(r[k] for r in records) for k in keys}


class Usage(IntegrationCase):

    def test_usage_matches_connections(self):
        agent = self.start_agent()  # --interval 1
        server = self.start_server("tls")
        tokens = [unique_token() for _ in range(3)]
        sizes = [1000, 50000, 7]
        # Pauses of 1.2 s with 1 s intervals: the three connections fall in
        # different intervals, so the sums really add several records.
        pid, out, _ = run_client(self.procs, [PYTHON, PYCLIENT, "--pause", "1.2"]
                                 + [server.url(s, t) for s, t in zip(sizes, tokens)],
                                 what="pyclient.py with three requests")
        for line, size in zip(out.splitlines(), sizes):
            check_eq(json.loads(line)["body_bytes"], size, "body bytes pyclient.py read")

        conns = []
        for token in tokens:
            entry = server.wait_entry(token)
            conns.append(agent.expect_connection(
                pid=pid, comm=comm_of(PYTHON), role="client", client_port=entry["client_port"],
                server_port=server.port, tls="openssl", sent=entry["bytes_received"],
                received=entry["bytes_sent"], cgroup_id=own_cgroup_id()))

        # The client exited: its last usage record is partial, and comes now.
        def final_usage():
            mine = agent.records("usage", {"pid": pid})
            return mine if mine and mine[-1].get("partial") is True else None
        usage = wait_for(final_usage, 5, "a usage record with partial: true for exited pid %d" % pid,
                         describe=lambda: "usage records of pid %d:\n%s" % (
                             pid, summarize(agent.records("usage", {"pid": pid}))))

        for r in usage:
            check_keys(r, USAGE_KEYS, "usage record")
            check_eq(r["comm"], comm_of(PYTHON), "usage record comm")
            check_true(parse_time_ns(r["interval_start"]) <= parse_time_ns(r["interval_end"]),
                       "usage interval_start <= interval_end",
                       (r["interval_start"], r["interval_end"]))
        check_true(len(usage) >= 2, "usage records for a client active in >= 2 intervals",
                   summarize(usage))
        check_eq([r["partial"] for r in usage[:-1]], [False] * (len(usage) - 1),
                 "partial flags of the usage records before the last")
        check_eq(sums(usage), sums(conns), "client pid %d: usage sums vs. connection sums" % pid)
        check_true(sum(r["connections"] for r in usage) >= len(conns),
                   "client: sum of usage 'connections' >= %d connection records" % len(conns),
                   [r["connections"] for r in usage])

        # The server lives on: after the agent stops, its usage (final
        # interval included) must match its connection records too.
        check_eq(agent.stop(), 0, "agent exit status after SIGTERM")
        sconns = agent.records("connection", {"pid": server.pid})
        susage = agent.records("usage", {"pid": server.pid})
        check_eq(len(sconns), 3, "server connection records")
        check_eq(sums(susage), sums(sconns),
                 "server pid %d: usage sums vs. connection sums" % server.pid)
        check_eq(sums(sconns), {"bytes_sent": sum(e["bytes_sent"] for e in server.entries()),
                                "bytes_received": sum(e["bytes_received"]
                                                      for e in server.entries())},
                 "server connection sums vs. server log")


if __name__ == "__main__":
    unittest.main()
