"""Run reports: JUnit XML for CI, an HTML page with the verdicts and a static timeline plot (the CI
artifact), the interactive timeline (:mod:`sim.scenario.timeline_html`) and the VCD waves
(:mod:`sim.scenario.vcd`). They read the trace only, so ``hilsim report`` rebuilds them from a trace file."""

from __future__ import annotations

import html
import io
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

from sim.scenario.runner import Outcome

# Pairs of trace kinds that open and close an interval drawn as a bar per source, with colour and legend.
INTERVALS = {"link.down": "link.up", "relay.on": "relay.off", "broker.stopped": "broker.started",
             "sensor.faulted": "sensor.restored", "wifi.disconnected": "wifi.connected",
             "power.lost": "power.restored"}
LOOK = {"link.down": ("tab:red", "link down"), "relay.on": ("tab:orange", "light on"),
        "broker.stopped": ("tab:purple", "broker down"), "sensor.faulted": ("tab:brown", "sensor fault"),
        "wifi.disconnected": ("tab:pink", "WiFi lost"), "power.lost": ("black", "power off")}


def write_junit(result: Outcome, path: Path) -> None:
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


def timeline_svg(result: Outcome) -> str:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    records = result.trace.records
    # hours for a day or so, days for a season
    unit, unit_name = (86400.0, "days") if result.duration > 3 * 86400 else (3600.0, "hours")
    span = result.duration / unit
    bars = intervals(records, result.duration)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 5), sharex=True,
                                      gridspec_kw={"height_ratios": [2, 1]})
    sources = sorted(bars)
    shown = set()
    for row, src in enumerate(sources):
        for start, end, kind in bars[src]:
            colour, label = LOOK[kind]
            top.broken_barh([(start / unit, max((end - start) / unit, span / 500))], (row - 0.4, 0.8),
                            color=colour, label=None if kind in shown else label)
            shown.add(kind)
    top.set_yticks(range(len(sources)), sources)
    top.set_title("faults and outputs")
    if shown:
        top.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    width = max(result.duration / 200, 60.0)
    bins = int(result.duration // width) + 1
    counts: dict[str, list[int]] = defaultdict(lambda: [0] * bins)
    for r in records:
        if r["kind"] in ("reading.stored", "reading.refused", "alert.fired") and r["t"] <= result.duration:
            counts[r["kind"]][int(r["t"] // width)] += 1
    for kind, per_bin in sorted(counts.items()):
        bottom.step([i * width / unit for i in range(bins)], per_bin, where="post", label=kind, linewidth=1)
    if counts:
        bottom.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    bottom.set_xlabel(f"{unit_name} since start")
    bottom.set_ylabel(f"per {_span(width)}")
    bottom.set_xlim(0, span)
    out = io.StringIO()
    fig.tight_layout()
    fig.savefig(out, format="svg")
    plt.close(fig)
    svg = out.getvalue()
    return svg[svg.index("<svg"):]


def _span(seconds: float) -> str:
    """A duration as people say it: minutes, hours, or days."""
    if seconds >= 3 * 86400:
        return f"{seconds / 86400:g} d"
    return f"{seconds / 3600:g} h" if seconds >= 3 * 3600 else f"{seconds / 60:g} min"


# The measured text of an expectation ``hilsim report`` could not judge from a trace alone (it reads the world).
NOT_JUDGED = "not judged from the trace alone (it reads the run's world): see hilsim replay"


def status(verdict) -> str:
    """PASS, FAIL, or N/J for an expectation not judged (``hilsim report`` without the run's verdicts)."""
    return "N/J" if verdict.measured == NOT_JUDGED else "PASS" if verdict.ok else "FAIL"


def write_html(result: Outcome, path: Path, *, links: bool = False) -> None:
    """report.html: the verdicts and the static timeline; ``links`` to timeline.html and waves.vcd beside it."""
    rows = "".join(
        f"<tr class={status(v).lower().replace('/', '')}><td>{status(v)}</td><td>{html.escape(v.name)}</td>"
        f"<td>{html.escape(v.measured)}</td><td>{html.escape(v.expected)}</td><td>{v.line}</td></tr>"
        for v in result.verdicts
    )
    s = result.scenario
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(s.name)}</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:2px 10px;text-align:left}}
.pass td:first-child{{color:green}}.fail td:first-child{{color:#c00;font-weight:bold}}.nj td:first-child{{color:#888}}</style></head>
<body><h1>{html.escape(s.name)}</h1>
<p>{html.escape(s.file)} &middot; seed {s.seed} &middot; start {s.start.isoformat()} &middot;
{_span(s.duration)} simulated &middot; {len(result.trace.records)} trace lines</p>
<p>trace sha256: <code>{result.sha256}</code></p>
<table><tr><th></th><th>expectation</th><th>measured</th><th>expected</th><th>line</th></tr>{rows}</table>
<h2>Timeline</h2>{_LINKS if links else ""}
{timeline_svg(result)}
</body></html>
"""
    path.write_text(page, encoding="utf-8")


TIMELINE, WAVES = "timeline.html", "waves.vcd"
_LINKS = f"""
<p><a href="{TIMELINE}">Interactive timeline</a> (zoom, hover a mark for its trace lines) &middot;
<a href="{WAVES}">waves.vcd</a> (relay, link, WiFi and power states for a waveform viewer)</p>"""


def write_reports(result: Outcome, out: Path, *, html: bool = True) -> list[Path]:
    """waves.vcd, and with ``html`` report.html and timeline.html, in ``out``: the paths written."""
    from sim.scenario.timeline_html import write_timeline
    from sim.scenario.vcd import write_vcd

    records, header = result.trace.records, result.trace.header
    write_vcd(records, header, out / WAVES)
    written = [out / WAVES]
    if html:
        write_html(result, out / "report.html", links=True)
        write_timeline(records, header, result.duration, result.scenario.name, out / TIMELINE)
        written += [out / "report.html", out / TIMELINE]
    return written
