"""A telemetry fleet of N nodes for T seconds, end to end, in a process of its own.

Nodes sample every 10 s (the quickstart's kind, no faults): firmware, link, broker
model, bridge and SQLite all run; the trace is hashed but not written (``--hash-only``).
Run in a child process so its peak memory is its own::

    python -m bench.fleet NODES SECONDS     # prints one JSON line
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from sim.scenario.loader import parse
from sim.scenario.runner import run_scenario

ROOT = Path(__file__).resolve().parent.parent


def fleet_scenario(nodes: int, seconds: int) -> str:
    """The scenario text: ``nodes`` nodes sampling every 10 s for ``seconds``, promising no loss."""
    return (f"name: fleet of {nodes}\nseed: 1\nstart: 2026-03-14T08:00:00+01:00\nduration: {seconds}s\n"
            f"world:\n  nodes: {nodes}\n  sample_every: 10s\nexpect:\n  - readings_lost: 0\n")


def measure(nodes: int, seconds: int) -> dict:
    """Run the fleet here; wall and CPU seconds, readings stored, kernel events, peak RSS."""
    scenario = parse(fleet_scenario(nodes, seconds))
    wall0, cpu0 = time.perf_counter(), time.process_time()
    result = run_scenario(scenario, hash_only=True)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    stored = result.trace.counts["reading.stored"]
    events = next(result.world.rt.env._eid)  # simpy numbers every scheduled event
    return {"nodes": nodes, "seconds": seconds, "wall": wall, "cpu": cpu, "stored": stored,
            "events": events, "ok": result.ok, "sha256": result.sha256,
            "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}


def measure_in_child(nodes: int, seconds: int) -> dict:
    """``measure`` in a fresh interpreter, so peak memory belongs to this run alone."""
    out = subprocess.run([sys.executable, "-m", "bench.fleet", str(nodes), str(seconds)], cwd=ROOT,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    print(json.dumps(measure(int(sys.argv[1]), int(sys.argv[2]))))
