"""hil/trace_diff.py and ``hilsim diff``: streams paired by sequence number, times taken from each node's boot,
times and values compared up to a tolerance, every difference reported."""

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
    assert diff(a, b, tolerance=5.0).differences == []


def test_every_difference_of_every_stream_is_reported():
    a = trace(sampled("node-1", [5, 10, 15, 20, 25]) + sampled("node-2", [5, 10, 15]) + sampled("node-3", [5]))
    b = trace(sampled("node-1", [5, 10, 15]) + sampled("node-2", [5, 30, 40]) +
              [(5, "node-3", "reading.sampled", {"node": "node-3", "seq": 2})])
    found = diff(a, b, tolerance=2.0)
    assert [(d.stream, d.index + 1, d.what) for d in found.differences] == [
        ("node-1 reading.sampled", 4, "only in A"), ("node-1 reading.sampled", 5, "only in A"),
        ("node-2 reading.sampled", 2, "time apart 20.000 s > 2 s"),
        ("node-2 reading.sampled", 3, "time apart 25.000 s > 2 s"),
        ("node-3 reading.sampled", 1, "only in A"), ("node-3 reading.sampled", 1, "only in B")]
    assert str(found.differences[0]) == "node-1 reading.sampled #4: only in A (A: t=20.000 seq 4; B: nothing)"
    assert found.streams == {"node-1 reading.sampled": (5, 3, 2), "node-2 reading.sampled": (3, 3, 2),
                             "node-3 reading.sampled": (1, 1, 2)}
    assert found.summary().startswith("6 differences in 3 of 3 streams: node-1 reading.sampled 5 vs 3 events, "
                                      "2 differ;")


def test_times_are_taken_from_each_nodes_boot():
    """A board boots 2.5 s into a wall-clock run and samples every 5 s from its boot; the sim node from 0."""
    board = trace([(2.5, "node-1", "board.booted", {"node": "node-1", "boot": 7})]
                  + sampled("node-1", [7.5, 12.5, 17.5]) + sampled("node-2", [5, 10]))
    sim = trace(sampled("node-1", [5, 10, 15]) + sampled("node-2", [5, 10]))
    assert diff(board, sim, tolerance=0.5).differences == []
    unbooted = trace(sampled("node-1", [7.5, 12.5, 17.5]) + sampled("node-2", [5, 10]))
    assert [d.what for d in diff(unbooted, sim, tolerance=0.5).differences] == ["time apart 2.500 s > 0.5 s"] * 3


def test_values_are_compared_exactly_or_within_their_tolerance_and_a_reboot_pairs_by_occurrence():
    def recorded(values):
        return trace([(t, "node-1", "reading.recorded", {"node": "node-1", "seq": seq, "boot": boot, "ts": 1e9 + t,
                                                          "temperature": temp, "humidity": 40.0})
                      for t, seq, boot, temp in values])

    kinds = ("reading.recorded",)
    a = recorded([(5, 1, 1, 21.5), (10, 2, 1, 21.6), (15, 1, 2, 21.7)])  # rebooted: seq 1 again
    b = recorded([(5, 1, 8, 21.5), (10, 2, 8, 21.75), (15, 1, 9, 21.9)])  # other boot numbers: not values
    found = diff(a, b, kinds=kinds).differences
    assert [(d.index + 1, d.what) for d in found] == [(2, "temperature 21.6 vs 21.75"),
                                                      (3, "temperature 21.7 vs 21.9")]
    assert [d.what for d in diff(a, b, kinds=kinds, values={"temperature": 0.15}).differences] == [
        "temperature 21.7 vs 21.9 (> 0.15)"]
    assert diff(a, b, kinds=kinds, values={"temperature": 0.25}).differences == []


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
    assert parted.returncode == 1 and "node-1 reading.sampled #2: only in A" in parted.stdout
    broken = hilsim(a, str(bad))
    assert broken.returncode == 2 and "bad.jsonl:1: not JSON" in broken.stderr
    wrong = hilsim(a, b, "--tolerance", "temperature=warm")
    assert wrong.returncode == 2 and wrong.stderr.strip() == (
        "Error: --tolerance: 'temperature=warm': want FIELD=NUMBER such as temperature=0.2")

    many = write("many.jsonl", trace(sampled("node-1", [5 + i for i in range(30)])))
    limited = hilsim(many, c, "--limit", "3")
    lines = limited.stdout.splitlines()
    assert limited.returncode == 1 and len(lines) == 5, limited.stdout
    assert lines[:3] == [f"node-1 reading.sampled #{n}: only in A (A: t={4 + n:.3f} seq {n}; B: nothing)"
                         for n in (2, 3, 4)]
    assert lines[3] == "... and 26 more (--limit)"
    assert lines[4] == "29 differences in 1 of 1 streams: node-1 reading.sampled 30 vs 1 events, 29 differ"
