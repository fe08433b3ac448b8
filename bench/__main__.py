"""One table of hilsim's performance figures, each with its target, the machine and the date.

    python -m bench                   # every row (about ten minutes on two cores)
    python -m bench --quick           # a smaller W1 and fleet, one live round (about two minutes)
    python -m bench --only w1,scaling # some rows: kernel, trace, w1, scaling, w2, live, acl, scenarios, sweep

Rows: the sim kernel's cost per event against raw simpy; a trace line's cost by encoder; W1, a 100-node day end to end
(firmware, links, broker model, bridge, SQLite; trace hashed, not written); the scaling
of a 10-minute fleet from 10 to 10,000 nodes (each size in a fresh process, for its peak
memory), drawn as ``bench/scaling.png``; W2, the controller's season; the live bridge's
ingest from a real Mosquitto against paho alone; the topic ACL's cost on live ingest through
``hilsim broker``; the shipped scenarios; sweep throughput (seeds per core-hour of a 10-node day, the
speed-up with 2 workers). The machine is
shared, so every comparison is a ratio measured within the same run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import platform
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from bench import acl_ingest, bench_runtime, bench_sweep, bench_trace, fleet, live_ingest

ROOT = Path(__file__).resolve().parent.parent
ROWS = ("kernel", "trace", "w1", "scaling", "w2", "live", "acl", "scenarios", "sweep")
GIB = 1024 ** 3
MIB = 1024 ** 2


@dataclass
class Row:
    figure: str
    measured: str
    target: str = ""
    met: bool | None = None  # None: a figure without a target


def machine() -> str:
    model = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores {model}, Python {platform.python_version()}".replace("  ", " ")


def kernel_rows(quick: bool) -> list[Row]:
    procs, sleeps, rounds = (100, 1000, 5) if quick else (100, 2000, 9)
    pairs = [(bench_runtime.timed(bench_runtime.raw_simpy, procs, sleeps),
              bench_runtime.timed(bench_runtime.sim_runtime, procs, sleeps)) for _ in range(rounds)]
    ratio = statistics.median(o / r for r, o in pairs)
    per_event = min(o for _, o in pairs) / (procs * sleeps) * 1e9
    return [Row("kernel cost per event vs raw simpy", f"{ratio:.2f}x ({per_event:.0f} ns/event)", "<= 1.5x",
                ratio <= 1.5)]


def trace_rows(quick: bool) -> list[Row]:
    found = bench_trace.measure(5000 if quick else 20000)
    reference = next(iter(found.values()))
    return [Row(f"trace line: {name}", f"{ns:.0f} ns ({reference / ns:.1f}x faster than the reference)"
                if ns < reference else f"{ns:.0f} ns") for name, ns in found.items()]


def w1_rows(quick: bool) -> list[Row]:
    seconds = 3600 if quick else 86400
    m = fleet.measure_in_child(100, seconds)
    label = "W1 100 nodes x " + ("1 h (quick)" if quick else "24 h")
    per_reading = m["wall"] / m["stored"]
    wall_for_day = per_reading * 864_000
    rows = [Row(f"{label}: wall", f"{m['wall']:.1f} s ({m['cpu']:.1f} s CPU), {m['stored']:,} readings",
                "<= 30 s for 864,000" if not quick else "", None if quick else m["wall"] <= 30),
            Row(f"{label}: peak memory", f"{m['peak_rss'] / MIB:.0f} MiB", "<= 1 GiB", m["peak_rss"] <= GIB),
            Row(f"{label}: events per reading", f"{m['events'] / m['stored']:.1f}"),
            Row(f"{label}: sim seconds per wall second", f"{seconds / m['wall']:.0f}"),
            Row(f"{label}: wall per reading", f"{per_reading * 1e6:.0f} us (a day: {wall_for_day:.0f} s)",
                "<= 35 us", per_reading <= 30 / 864_000)]
    if not m["ok"]:
        rows.append(Row(f"{label}: readings_lost", "FAILED", "0", False))
    return rows


def scaling_rows(quick: bool) -> tuple[list[Row], list[dict]]:
    sizes = (10, 100, 1000) if quick else (10, 100, 1000, 10000)
    runs = [fleet.measure_in_child(n, 600) for n in sizes]
    rows = []
    for m in runs:
        rows.append(Row(f"scaling {m['nodes']:,} nodes x 10 min",
                        f"{m['wall']:.1f} s wall, {m['wall'] / m['stored'] * 1e6:.0f} us/reading "
                        f"({m['cpu'] / m['stored'] * 1e6:.0f} us CPU), peak {m['peak_rss'] / MIB:.0f} MiB"))
    base = next(m for m in runs if m["nodes"] == 100)
    top = runs[-1]
    ratio = (top["wall"] / top["stored"]) / (base["wall"] / base["stored"])
    cpu_ratio = (top["cpu"] / top["stored"]) / (base["cpu"] / base["stored"])
    rows.append(Row(f"scaling: wall per reading at {top['nodes']:,} / at 100 nodes",
                    f"{ratio:.2f}x ({cpu_ratio:.2f}x in CPU time)", "<= 1.3x", ratio <= 1.3))
    return rows, runs


def w2_rows(quick: bool) -> list[Row]:
    from sim.scenario.loader import load
    from sim.scenario.runner import run_scenario

    scenario = load(ROOT / "scenarios" / "season-2025-26.yaml")
    walls = []
    for _ in range(1 if quick else 2):
        gc.collect()
        t0 = time.perf_counter()
        result = run_scenario(scenario, hash_only=True)
        walls.append(time.perf_counter() - t0)
    best = min(walls)
    return [Row("W2 controller season (10 months)", f"{best:.1f} s {'PASS' if result.ok else 'FAIL'}", "<= 5 s",
                best <= 5)]


def live_rows(quick: bool) -> list[Row]:
    m = live_ingest.measure(5000 if quick else 20000, 1 if quick else 2)
    return [Row(f"live bridge ingest, Mosquitto loopback QoS 1, {m['readings']:,} readings, no loss",
                f"{m['bridge_rate']:,.0f}/s vs paho alone {m['paho_rate']:,.0f}/s: {m['ratio']:.2f}",
                ">= 0.5", m["ratio"] >= 0.5)]


def acl_rows(quick: bool) -> list[Row]:
    """The shipped ACL against ``--no-acl`` on the same ingest, alternating fresh brokers."""
    m = acl_ingest.measure(2000 if quick else 4000, 1 if quick else 2)
    return [Row(f"live ingest through hilsim broker, {acl_ingest.NODES} nodes QoS 1: with the ACL / without",
                f"{m['acl']:,.0f}/s vs {m['no-acl']:,.0f}/s: {m['ratio']:.2f}", ">= 0.9", m["ratio"] >= 0.9)]


def scenario_rows() -> list[Row]:
    from sim.scenario.loader import load
    from sim.scenario.runner import run_scenario

    rows = []
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        scenario = load(path)
        t0 = time.perf_counter()
        result = run_scenario(scenario)
        wall = time.perf_counter() - t0
        rows.append(Row(f"scenario {path.name}", f"{wall:.1f} s ({scenario.duration / wall:,.0f} sim s per s) "
                        f"{'PASS' if result.ok else 'FAIL'}"))
    return rows


def sweep_rows(quick: bool) -> list[Row]:
    """Seeds per core-hour of a 10-node day (2 h with --quick) on one worker, and the speed-up with two."""
    m = bench_sweep.measure(hours=2 if quick else 24)
    label = f"sweep {m['nodes']} nodes x {m['hours']} h, {m['seeds']} seeds"
    verdict = "" if m["ok"] and m["same_hashes"] else " (FAILED: a run failed or the hashes differ)"
    return [Row(f"{label}: seeds per core-hour", f"{m['seeds_per_core_hour']:.0f} (1 worker: {m['wall_1']:.1f} s)"
                + verdict),
            Row(f"{label}: speed-up with 2 workers", f"{m['speedup']:.2f}x ({m['wall_2']:.1f} s)")]


def plot(runs: list[dict], path: Path) -> None:
    """Wall per reading and peak memory against fleet size, log axes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    nodes = [m["nodes"] for m in runs]
    fig, left = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    left.plot(nodes, [m["wall"] / m["stored"] * 1e6 for m in runs], "o-", color="tab:blue", label="wall per reading")
    left.plot(nodes, [m["cpu"] / m["stored"] * 1e6 for m in runs], "o--", color="tab:cyan", label="CPU per reading")
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xlabel("nodes (10 simulated minutes, a reading every 10 s)")
    left.set_ylabel("microseconds per stored reading")
    right = left.twinx()
    right.plot(nodes, [m["peak_rss"] / MIB for m in runs], "s-", color="tab:red", label="peak memory")
    right.set_yscale("log")
    right.set_ylabel("peak RSS (MiB)")
    lines = left.get_lines() + right.get_lines()
    left.legend(lines, [line.get_label() for line in lines], loc="upper left")
    left.set_title("hilsim fleet scaling")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def table(rows: list[Row], where: str, when: str) -> str:
    head = "| figure | measured | target | met | machine | date |\n|---|---|---|---|---|---|\n"
    mark = {True: "yes", False: "**no**", None: ""}
    return head + "".join(f"| {r.figure} | {r.measured} | {r.target} | {mark[r.met]} | {where} | {when} |\n"
                          for r in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller W1 and fleet, one live round")
    parser.add_argument("--only", default=",".join(ROWS), help=f"comma-separated rows of: {', '.join(ROWS)}")
    parser.add_argument("--save", type=Path, default=Path(__file__).resolve().parent / "latest.md",
                        help="also write the table (markdown) to this file [default: bench/latest.md]")
    args = parser.parse_args()
    wanted = [w.strip() for w in args.only.split(",") if w.strip()]
    unknown = set(wanted) - set(ROWS)
    if unknown:
        parser.error(f"unknown rows {sorted(unknown)}; rows are {', '.join(ROWS)}")
    rows: list[Row] = []
    for name in ROWS:
        if name not in wanted:
            continue
        if name == "kernel":
            rows += kernel_rows(args.quick)
        elif name == "trace":
            rows += trace_rows(args.quick)
        elif name == "w1":
            rows += w1_rows(args.quick)
        elif name == "scaling":
            found, runs = scaling_rows(args.quick)
            rows += found
            plot(runs, Path(__file__).resolve().parent / "scaling.png")
        elif name == "w2":
            rows += w2_rows(args.quick)
        elif name == "live":
            rows += live_rows(args.quick)
        elif name == "acl":
            rows += acl_rows(args.quick)
        elif name == "scenarios":
            rows += scenario_rows()
        elif name == "sweep":
            rows += sweep_rows(args.quick)
    text = table(rows, machine(), dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d"))
    print(text, end="")
    args.save.write_text(text)


if __name__ == "__main__":
    main()
