"""Cost of a run's reports on the fleet-1000 scenario (an hour of 1,000 nodes, about 250,000 trace lines):
the interactive timeline (Bokeh), the static report page (matplotlib) and waves.vcd, with their sizes.

    python -m bench.bench_reports
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from sim.scenario import loader
from sim.scenario.report import write_html
from sim.scenario.runner import run_scenario
from sim.scenario.timeline_html import marked, write_timeline
from sim.scenario.vcd import write_vcd

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    result = run_scenario(loader.load(ROOT / "scenarios/fleet-1000.yaml"))
    records, header = result.trace.records, result.trace.header
    print(f"fleet-1000: {len(records)} trace lines, {len(marked(records))} marks on the timeline")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        steps = {"timeline.html": lambda p: write_timeline(records, header, result.duration, "fleet-1000", p),
                 "report.html": lambda p: write_html(result, p),
                 "waves.vcd": lambda p: write_vcd(records, header, p)}
        for name, write in steps.items():
            started = time.perf_counter()
            write(out / name)
            print(f"{name:14} {time.perf_counter() - started:6.2f} s  {(out / name).stat().st_size / 1e6:6.2f} MB")


if __name__ == "__main__":
    main()
