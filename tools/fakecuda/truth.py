#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Read the ground truth that fakecuda writes to $FAKECUDA_TRUTH.

The file holds JSON lines from every process that loaded the fake driver
(see README.md, "Ground truth"): "init" when a process calls cuInit, one
"busy" line per operation the virtual device completed (or cut at exit),
one "summary" when the process exits through exit().

    from truth import Truth, union_ns
    t = Truth(path)
    t.busy(pid=1234, kind="kernel")      # busy lines
    t.summary(1234)["launches"]
    union_ns(t.intervals(pid=1234))      # busy time of a process, overlaps merged

As a program: `truth.py FILE` prints one JSON line per process with its
totals. Standard library only.
"""
import json
import sys
from collections import defaultdict


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def union_ns(intervals):
    """Total length of the union of (start, end) intervals."""
    total, cur_s, cur_e = 0, None, None
    for s, e in sorted(intervals):
        if cur_e is None or s > cur_e:
            if cur_e is not None:
                total += cur_e - cur_s
            cur_s, cur_e = s, e
        elif e > cur_e:
            cur_e = e
    if cur_e is not None:
        total += cur_e - cur_s
    return total


def overlap_ns(a, b):
    """Time covered by both interval sets (each merged first)."""
    return union_ns(a) + union_ns(b) - union_ns(list(a) + list(b))


class Truth:
    def __init__(self, path):
        self.lines = load(path)
        self.inits = {r["pid"]: r for r in self.lines if r.get("type") == "init"}
        self.summaries = {r["pid"]: r for r in self.lines if r.get("type") == "summary"}
        self._busy = [r for r in self.lines if r.get("type") == "busy"]

    def pids(self):
        return sorted({r["pid"] for r in self.lines})

    def busy(self, pid=None, kind=None, **match):
        out = []
        for r in self._busy:
            if pid is not None and r["pid"] != pid:
                continue
            if kind is not None and r["kind"] != kind:
                continue
            if any(r.get(k) != v for k, v in match.items()):
                continue
            out.append(r)
        return out

    def intervals(self, pid=None, kind=None, **match):
        return [(r["start_ns"], r["end_ns"]) for r in self.busy(pid, kind, **match)]

    def streams(self, pid=None):
        """{(pid, stream_id): [busy lines in seq order]}"""
        by = defaultdict(list)
        for r in self.busy(pid):
            by[(r["pid"], r["stream_id"])].append(r)
        for ops in by.values():
            ops.sort(key=lambda r: r["seq"])
        return dict(by)

    def summary(self, pid):
        return self.summaries.get(pid)

    def report(self, pid):
        busy = self.busy(pid)
        kinds = defaultdict(int)
        for r in busy:
            kinds[r["kind"]] += 1
        return {
            "pid": pid,
            "ops": len(busy),
            "by_kind": dict(kinds),
            "streams": len(self.streams(pid)),
            "busy_sum_ns": sum(r["end_ns"] - r["start_ns"] for r in busy),
            "busy_union_ns": union_ns(self.intervals(pid)),
            "first_start_ns": min((r["start_ns"] for r in busy), default=None),
            "last_end_ns": max((r["end_ns"] for r in busy), default=None),
            "truncated": sum(1 for r in busy if r.get("truncated")),
            "has_summary": pid in self.summaries,
        }


def main(argv):
    if len(argv) != 2:
        print("usage: truth.py FILE", file=sys.stderr)
        return 1
    t = Truth(argv[1])
    for pid in t.pids():
        print(json.dumps(t.report(pid)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
