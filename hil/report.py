"""The HTML report of a wall-clock run: which parts were real, the verdicts, the sim's timeline plot."""

from __future__ import annotations

import html
from pathlib import Path

from sim.scenario.report import timeline_svg


def write_hil_html(result, path: Path) -> None:
    """``result`` is a ``hil.wallclock.WallClockResult``; real parts are listed first and marked REAL."""
    parts = sorted(result.real.items(), key=lambda item: (not item[1].startswith("REAL"), item[0]))
    part_rows = "".join(
        f"<tr class={'real' if what.startswith('REAL') else 'sim'}><td>{html.escape(party)}</td>"
        f"<td>{'real' if what.startswith('REAL') else 'simulated'}</td>"
        f"<td>{html.escape(what.removeprefix('REAL: '))}</td></tr>" for party, what in parts)
    rows = "".join(
        f"<tr class={'pass' if v.ok else 'fail'}><td>{'PASS' if v.ok else 'FAIL'}</td><td>{html.escape(v.name)}</td>"
        f"<td>{html.escape(v.measured)}</td><td>{html.escape(v.expected)}</td><td>{v.line}</td></tr>"
        for v in result.verdicts)
    s = result.scenario
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(s.name)} (hardware in the loop)</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:2px 10px;text-align:left}}
.pass td:first-child{{color:green}}.fail td:first-child{{color:#c00;font-weight:bold}}
.real td:nth-child(2){{color:#fff;background:#2471a3;font-weight:bold}}</style></head>
<body><h1>{html.escape(s.name)}</h1>
<p>{html.escape(s.file)} &middot; {s.duration:g} s of wall-clock time &middot; {len(result.trace.records)} trace
lines &middot; trace sha256 <code>{result.sha256}</code> (a wall-clock run is not reproducible by design)</p>
<h2>Parts</h2>
<table><tr><th>party</th><th></th><th>what ran</th></tr>{part_rows}</table>
<h2>Expectations</h2>
<table><tr><th></th><th>expectation</th><th>measured</th><th>expected</th><th>line</th></tr>{rows}</table>
<h2>Timeline</h2>{timeline_svg(result)}
</body></html>
"""
    path.write_text(page, encoding="utf-8")
