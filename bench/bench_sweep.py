"""Sweep throughput: seeds per core-hour for a 10-node, 24-hour scenario, and the speed-up with 2 workers.

    python -m bench.bench_sweep [--quick]

The same seeds are swept on a local pool of 1 worker, then of 2 (``sim.scenario.sweep``, as ``hilsim sweep``
runs them); both must give the same hashes. Seeds per core-hour come from the 1-worker run (one core busy);
the speed-up is the ratio of the two wall times, on a machine that may be shared.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from sim.scenario import sweep

WORLD = """\
name: {nodes} nodes for {hours} h, a reading every 10 s, a broker restart and a link outage
seed: 1
start: 2026-03-14T00:00:00+01:00
duration: {hours}h
world: {{nodes: {nodes}, sample_every: 10s}}
timeline:
  - at: +1h
    broker: {{restart: true, down_for: 30s}}
  - at: +90m
    link: {{name: node-2~broker, down_for: 10m}}
expect:
  - readings_lost: 0
  - readings_duplicated: 0
"""


def measure(nodes: int = 10, hours: int = 24, seeds: int = 4) -> dict:
    """Sweep ``seeds`` seeds of a ``nodes`` x ``hours`` scenario on 1 worker, then on 2."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "sweep-bench.yaml"
        path.write_text(WORLD.format(nodes=nodes, hours=hours))
        runs = sweep.plan([str(path)], list(range(1, seeds + 1)))
        walls, hashes, ok = {}, {}, True
        for workers in (1, 2):
            with sweep.executor(None, workers) as (pool, _count):
                started = time.perf_counter()
                rows = sweep.sweep(runs, pool, size=1)
                walls[workers] = time.perf_counter() - started
            hashes[workers] = [row["sha256"] for row in rows]
            ok = ok and all(row["ok"] for row in rows)
    return {"nodes": nodes, "hours": hours, "seeds": seeds, "wall_1": walls[1], "wall_2": walls[2],
            "seeds_per_core_hour": seeds / (walls[1] / 3600), "speedup": walls[1] / walls[2],
            "same_hashes": hashes[1] == hashes[2], "ok": ok}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10 nodes x 2 h instead of 24 h")
    m = measure(hours=2 if parser.parse_args().quick else 24)
    print(f"{m['nodes']} nodes x {m['hours']} h, {m['seeds']} seeds: {m['seeds_per_core_hour']:.0f} seeds per "
          f"core-hour (1 worker {m['wall_1']:.1f} s), 2 workers {m['wall_2']:.1f} s: speed-up {m['speedup']:.2f}x, "
          f"same hashes: {m['same_hashes']}, all pass: {m['ok']}")


if __name__ == "__main__":
    main()
