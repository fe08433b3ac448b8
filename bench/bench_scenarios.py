"""Wall time of the shipped scenarios, and simulated time per wall second.

    python bench/bench_scenarios.py [SCENARIO ...]

Targets: the 10-month season "in well under a minute" (issue 4); the telemetry
outage scenario (3 nodes x 6 h) in a few seconds.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from sim.scenario.runner import run_scenario
from sim.scenario.loader import load

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ["scenarios/quickstart.yaml", "scenarios/telemetry-outages.yaml", "scenarios/season-2025-26.yaml"]


def main() -> None:
    paths = sys.argv[1:] or [str(ROOT / p) for p in DEFAULT]
    print(f"{'scenario':<32} {'simulated':>10} {'wall s':>8} {'sim/wall':>10} {'trace lines':>12}  verdict")
    for path in paths:
        scenario = load(path)
        t0 = time.perf_counter()
        result = run_scenario(scenario)
        wall = time.perf_counter() - t0
        days = scenario.duration / 86400
        print(f"{Path(path).name:<32} {days:>8.2f} d {wall:>8.2f} {scenario.duration / wall:>10.0f} "
              f"{len(result.trace.records):>12}  {'PASS' if result.ok else 'FAIL'}")


if __name__ == "__main__":
    main()
