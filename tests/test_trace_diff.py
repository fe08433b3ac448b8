"""hil/trace_diff.py and ``hilsim diff``: streams compared by order, count and time, up to a tolerance."""

from __future__ import annotations

import json
import subprocess
import sys

from hil.trace_diff import diff

from processes import ROOT


def trace(events: list[tuple[float, str, str, dict]], duration: float = 100.0) -> tuple[dict, list[dict]]:
    return {"kind": "trace.header", "duration": duration}, [{"t": t, "src": src, "kind": kind, **fields}
                                                           for t, src, kind, fields in events]


def sampled(node: str, times: list[float]) -> list[tuple[float, str, str, dict]]:
    return [(t, node, "reading.sampled", {"node": node, "seq": i + 1}) for i, t in enumerate(times)]


def test_the_same_events_a_little_apart_agree_and_the_run_end_is_not_a_difference():
    a = trace(sampled("node-1", [5, 10, 15, 97]) + [(30, "world", "link.down", {"link": "node-1~broker"})])
    b = trace(sampled("node-1", [6.5, 11.4, 16.0]) + [(31, "world", "link.down", {"link": "node-1~broker"})])
    assert diff(a, b, tolerance=5.0) == []


def test_where_streams_part_by_count_order_and_time():
    a = trace(sampled("node-1", [5, 10, 15, 20]) + sampled("node-2", [5, 10]) + sampled("node-3", [5]))
    b = trace(sampled("node-1", [5, 10, 15]) + sampled("node-2", [5, 30]) +
              [(5, "node-3", "reading.sampled", {"node": "node-3", "seq": 2})])
    found = {d.stream: d for d in diff(a, b, tolerance=2.0)}
    assert found["node-1 reading.sampled"].what == "count 4 vs 3" and found["node-1 reading.sampled"].index == 3
    assert found["node-2 reading.sampled"].what.startswith("time apart 20.000 s")
    assert found["node-3 reading.sampled"].what == "order"
    assert "node-1 reading.sampled #4: count 4 vs 3 (A: t=20.000 seq 4; B: nothing)" == str(
        found["node-1 reading.sampled"])


def test_hilsim_diff_exits_0_when_traces_agree_1_when_they_part_2_for_a_file_that_is_no_trace(tmp_path):
    def write(name, t):
        header, records = t
        path = tmp_path / name
        path.write_text("\n".join(json.dumps(r) for r in [header, *records]) + "\n")
        return str(path)

    a = write("a.jsonl", trace(sampled("node-1", [5, 10])))
    b = write("b.jsonl", trace(sampled("node-1", [6, 11])))
    c = write("c.jsonl", trace(sampled("node-1", [5])))
    bad = tmp_path / "bad.jsonl"
    bad.write_text("hello\n")

    def hilsim(*args):
        return subprocess.run([sys.executable, "-m", "hilsim", "diff", *args], capture_output=True, text=True,
                              cwd=ROOT, timeout=60)

    same = hilsim(a, b, "--tolerance", "2s")
    assert same.returncode == 0 and "no difference beyond 2 s" in same.stdout
    parted = hilsim(a, c)
    assert parted.returncode == 1 and "node-1 reading.sampled #2: count 2 vs 1" in parted.stdout
    broken = hilsim(a, str(bad))
    assert broken.returncode == 2 and "bad.jsonl:1: not JSON" in broken.stderr
