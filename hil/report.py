"""The HTML report of a wall-clock run: what each part was, the verdicts, the sim's timeline plot.

A part is real hardware (a board on a serial port), virtual (a virtual board: our firmware under the
MicroPython Unix port, not hardware; on ``virtual:esp32`` its description says "ESP32 layer"), a real process (the broker), real code (the system's bridge in
the run's own process) or simulated. Each board's row says which power switch its power faults used
and how many cuts it took.
"""

from __future__ import annotations

import html
from pathlib import Path

from hil.backends import PART_KINDS
from sim.scenario.report import timeline_svg

_CLASS = {"real hardware": "real", "virtual": "virtual", "real process": "live", "real code": "live",
          "simulated": "sim"}


def _power(result, party: str) -> str:
    switch = getattr(result, "power", {}).get(party)
    if switch is None:
        return ""
    cuts = sum(1 for r in result.trace.records if r["kind"] == "power.off" and r.get("node") == party)
    return f"{switch} ({cuts} cut{'s' if cuts != 1 else ''})"


def write_hil_html(result, path: Path) -> None:
    """``result`` is a ``hil.wallclock.WallClockResult``; real hardware is listed first, simulated parts last."""
    parts = sorted(result.parts.items(), key=lambda item: (PART_KINDS.index(item[1][0]), item[0]))
    part_rows = "".join(
        f"<tr class={_CLASS[kind]}><td>{html.escape(party)}</td><td>{html.escape(kind)}</td>"
        f"<td>{html.escape(what)}</td><td>{html.escape(_power(result, party))}</td></tr>"
        for party, (kind, what) in parts)
    rows = "".join(
        f"<tr class={'pass' if v.ok else 'fail'}><td>{'PASS' if v.ok else 'FAIL'}</td><td>{html.escape(v.name)}</td>"
        f"<td>{html.escape(v.measured)}</td><td>{html.escape(v.expected)}</td><td>{v.line}</td></tr>"
        for v in result.verdicts)
    s = result.scenario
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(s.name)} (hardware in the loop)</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:2px 10px;text-align:left}}
.pass td:first-child{{color:green}}.fail td:first-child{{color:#c00;font-weight:bold}}
.real td:nth-child(2){{color:#fff;background:#2471a3;font-weight:bold}}
.virtual td:nth-child(2),.live td:nth-child(2){{color:#2471a3;font-weight:bold}}</style></head>
<body><h1>{html.escape(s.name)}</h1>
<p>{html.escape(s.file)} &middot; {s.duration:g} s of wall-clock time &middot; {len(result.trace.records)} trace
lines &middot; trace sha256 <code>{result.sha256}</code> (a wall-clock run is not reproducible by design)</p>
<h2>Parts</h2>
<table><tr><th>party</th><th>kind</th><th>what ran</th><th>power control</th></tr>{part_rows}</table>
<h2>Expectations</h2>
<table><tr><th></th><th>expectation</th><th>measured</th><th>expected</th><th>line</th></tr>{rows}</table>
<h2>Timeline</h2>{timeline_svg(result)}
</body></html>
"""
    path.write_text(page, encoding="utf-8")
