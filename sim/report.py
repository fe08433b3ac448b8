"""Run reports: JUnit XML for CI, and an HTML page with the verdicts and a timeline plot."""

from __future__ import annotations

import html
import io
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

from sim.runner import RunResult

# Pairs of trace kinds that open and close an interval drawn as a bar per source.
INTERVALS = {"link.down": "link.up", "relay.on": "relay.off", "broker.stopped": "broker.started"}


def write_junit(result: RunResult, path: Path) -> None:
    """One test suite per scenario, one test case per expectation."""
    failures = sum(not v.ok for v in result.verdicts)
    suite = ET.Element("testsuite", name=result.scenario.name, tests=str(len(result.verdicts)),
                       failures=str(failures), errors="0")
    ET.SubElement(ET.SubElement(suite, "properties"), "property", name="trace_sha256", value=result.sha256)
    for v in result.verdicts:
        case = ET.SubElement(suite, "testcase", classname=Path(result.scenario.file).stem,
                             name=f"{v.name} (line {v.line})")
        if not v.ok:
            ET.SubElement(case, "failure", message=f"measured {v.measured}, expected {v.expected}")
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)


def intervals(records: list[dict], horizon: float) -> dict[str, list[tuple[float, float, str]]]:
    """(start, end, kind) bars per source from opening/closing trace kinds."""
    open_at: dict[tuple[str, str], float] = {}
    bars: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
    closing = {v: k for k, v in INTERVALS.items()}
    for r in records:
        kind, src = r["kind"], r["src"]
        if kind in INTERVALS:
            open_at.setdefault((src, kind), r["t"])
        elif kind in closing and (src, closing[kind]) in open_at:
            bars[src].append((open_at.pop((src, closing[kind])), r["t"], closing[kind]))
    for (src, kind), t in open_at.items():
        bars[src].append((t, horizon, kind))
    return bars


def timeline_svg(result: RunResult) -> str:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    records = result.trace.records
    hours = result.duration / 3600
    bars = intervals(records, result.duration)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 5), sharex=True,
                                      gridspec_kw={"height_ratios": [2, 1]})
    colours = {"link.down": "tab:red", "relay.on": "tab:orange", "broker.stopped": "tab:purple"}
    sources = sorted(bars)
    for row, src in enumerate(sources):
        for start, end, kind in bars[src]:
            top.broken_barh([(start / 3600, max((end - start) / 3600, hours / 500))], (row - 0.4, 0.8),
                            color=colours[kind])
    top.set_yticks(range(len(sources)), sources)
    top.set_title("faults and outputs (red: link down, orange: light on, purple: broker down)")
    width = max(result.duration / 200, 60.0)
    counts: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for r in records:
        if r["kind"] in ("reading.stored", "reading.refused", "alert.fired"):
            counts[r["kind"]][int(r["t"] // width)] += 1
    for kind, per_bin in sorted(counts.items()):
        xs = sorted(per_bin)
        bottom.plot([x * width / 3600 for x in xs], [per_bin[x] for x in xs], label=kind, linewidth=1)
    if counts:
        bottom.legend(loc="upper right", fontsize=8)
    bottom.set_xlabel("hours since start")
    bottom.set_ylabel(f"per {width / 60:.0f} min")
    bottom.set_xlim(0, hours)
    out = io.StringIO()
    fig.tight_layout()
    fig.savefig(out, format="svg")
    plt.close(fig)
    svg = out.getvalue()
    return svg[svg.index("<svg"):]


def write_html(result: RunResult, path: Path) -> None:
    rows = "".join(
        f"<tr class={'pass' if v.ok else 'fail'}><td>{'PASS' if v.ok else 'FAIL'}</td><td>{html.escape(v.name)}</td>"
        f"<td>{html.escape(v.measured)}</td><td>{html.escape(v.expected)}</td><td>{v.line}</td></tr>"
        for v in result.verdicts
    )
    s = result.scenario
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(s.name)}</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:2px 10px;text-align:left}}
.pass td:first-child{{color:green}}.fail td:first-child{{color:#c00;font-weight:bold}}</style></head>
<body><h1>{html.escape(s.name)}</h1>
<p>{html.escape(s.file)} &middot; seed {s.seed} &middot; start {s.start.isoformat()} &middot;
{s.duration / 3600:.2f} h simulated &middot; {len(result.trace.records)} trace lines</p>
<p>trace sha256: <code>{result.sha256}</code></p>
<table><tr><th></th><th>expectation</th><th>measured</th><th>expected</th><th>line</th></tr>{rows}</table>
<h2>Timeline</h2>{timeline_svg(result)}
</body></html>
"""
    path.write_text(page, encoding="utf-8")
