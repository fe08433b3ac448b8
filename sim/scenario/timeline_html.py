"""The interactive timeline: one self-contained HTML file (Bokeh, its JavaScript inlined) that opens offline.

One lane per party (links, nodes, broker, bridge, controller and light, club site, cloud, user,
adversary, world). Kinds are read generically: a ``fault.*`` line is marked in its target's lane,
any other kind in its source's lane, so a new fault kind shows up without a change here. Spans:
outages (``link.down`` .. ``link.up`` and the other opening/closing pairs), latency windows (from a
``link.changed`` to the next one on that link) and light windows (``relay.on`` .. ``relay.off``).
Hovering a mark shows the trace lines around it. Routine kinds (readings, metrics) are not marked one
by one: a second plot shows readings per time bin, and marks are capped, so a fleet of 1,000 stays light.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

from system.trace import dumps

# Kinds of routine traffic: counted, not marked (any kind past ROUTINE_COUNT lines is too, unless a fault's).
ROUTINE = frozenset({"reading.sampled", "reading.published", "reading.stored", "metrics.pushed",
                     "metrics.received", "mirror.checked", "sync.applied", "request.served"})
ROUTINE_COUNT = 2000
MAX_MARKS = 4000
CONTEXT = 2  # trace lines either side of a mark in its tooltip
# Kinds of the faults that trace their effects rather than a fault.* line (prefixes).
FAULT_PREFIXES = ("fault.", "link.", "broker.stopped", "broker.started", "sensor.", "wifi.", "power.",
                  "fixture.", "site.", "user.", "adversary.", "clock.", "disk.")
SPANS = {"link.down": ("link.up", "outage_windows", "crimson"),
         "broker.stopped": ("broker.started", "outage_windows", "purple"),
         "sensor.faulted": ("sensor.restored", "outage_windows", "sienna"),
         "wifi.disconnected": ("wifi.connected", "outage_windows", "hotpink"),
         "power.lost": ("power.restored", "outage_windows", "black"),
         "relay.on": ("relay.off", "light_windows", "orange")}
LANES = ("links", "nodes", "broker", "bridge", "controller / light", "club site", "cloud", "user",
         "adversary", "world")


def lane_of(party: str) -> str:
    """The lane of a party named in the trace (a source, or a fault's target)."""
    if "~" in party:
        return "links"
    head = party.split("/")[0]
    if head.startswith("node"):
        return "nodes"
    named = {"broker": "broker", "bridge": "bridge", "controller": "controller / light", "club-site": "club site",
             "cloud": "cloud", "user": "user", "adversary": "adversary"}
    return named.get(head, "adversary" if "adversary" in head else "world")


def _party(record: dict) -> str:
    target = record.get("target")
    return target if record["kind"].startswith("fault.") and isinstance(target, str) else record.get("src", "")


def _is_fault(kind: str) -> bool:
    return kind.startswith(FAULT_PREFIXES)


def _context(records: list[dict], index: int) -> str:
    """The trace lines around record ``index``, the marked one flagged, each cut to a readable width."""
    low, high = max(0, index - CONTEXT), min(len(records), index + CONTEXT + 1)
    cut = (line if len(line) <= 140 else line[:137] + "..." for line in map(dumps, records[low:high]))
    return "\n".join(("> " if low + i == index else "  ") + line for i, line in enumerate(cut))


def marked(records: list[dict]) -> list[int]:
    """Indexes of the records marked on the timeline: every non-routine kind, faults always, capped."""
    counts = Counter(r["kind"] for r in records)
    routine = {k for k, n in counts.items() if (k in ROUTINE or n > ROUTINE_COUNT) and not _is_fault(k)}
    faults = [i for i, r in enumerate(records) if _is_fault(r["kind"])]
    rest = [i for i, r in enumerate(records) if r["kind"] not in routine and not _is_fault(r["kind"])]
    room = max(0, MAX_MARKS - len(faults))
    if len(rest) > room:  # thin evenly: the cap keeps the page light for a fleet
        rest = [rest[int(j * len(rest) / room)] for j in range(room)] if room else []
    return sorted(faults[:MAX_MARKS] + rest)


def spans(records: list[dict], horizon: float) -> dict[str, list[tuple[float, float, str, str, str]]]:
    """(start, end, lane, label, colour) per renderer name: outages, latency and light windows."""
    out: dict[str, list] = defaultdict(list)
    closing = {close: (open_, name, colour) for open_, (close, name, colour) in SPANS.items()}
    open_at: dict[tuple[str, str], float] = {}
    changed: dict[str, tuple[float, dict]] = {}
    for r in records:
        kind, src, t = r["kind"], r.get("src", ""), r["t"]
        if kind in SPANS:
            open_at.setdefault((src, kind), t)
        elif kind in closing and (src, closing[kind][0]) in open_at:
            opened, name, colour = closing[kind]
            out[name].append((open_at.pop((src, opened)), t, lane_of(src), f"{src}: {opened}", colour))
        elif kind == "link.changed":
            if src in changed:  # the next change on that link restores it: one window
                start, was = changed.pop(src)
                out["latency_windows"].append((start, t, "links", _latency_label(src, was), "goldenrod"))
            else:
                changed[src] = (t, r)
    for (src, kind), t in open_at.items():
        _, name, colour = SPANS[kind]
        out[name].append((t, horizon, lane_of(src), f"{src}: {kind} (to the end)", colour))
    for src, (t, was) in changed.items():
        out["latency_windows"].append((t, horizon, "links", _latency_label(src, was), "goldenrod"))
    return out


def _latency_label(src: str, record: dict) -> str:
    extra = ", ".join(f"{k} {v}" for k, v in sorted(record.items()) if k not in ("t", "src", "kind"))
    return f"{src}: {extra}"


def start_ms(header: dict) -> float:
    """The run's start as Bokeh's datetime axis counts (ms), in the scenario's own wall-clock time."""
    start = datetime.fromisoformat(str(header.get("start")))
    offset = start.utcoffset().total_seconds() if start.utcoffset() else 0.0
    return (start.timestamp() + offset) * 1000.0


def _mark_data(records: list[dict], base: float) -> dict[str, dict[str, list]]:
    """Column data of the two mark renderers: ``faults`` and ``events``."""
    data: dict[str, dict[str, list]] = {name: defaultdict(list) for name in ("faults", "events")}
    for i in marked(records):
        r = records[i]
        columns = data["faults" if _is_fault(r["kind"]) else "events"]
        columns["x"].append(base + r["t"] * 1000.0)
        columns["lane"].append(lane_of(_party(r)))
        columns["kind"].append(r["kind"])
        columns["party"].append(_party(r))
        columns["context"].append(_context(records, i))
    return {name: {k: list(v) for k, v in columns.items()} or _EMPTY_MARKS() for name, columns in data.items()}


def _EMPTY_MARKS() -> dict[str, list]:
    return {"x": [], "lane": [], "kind": [], "party": [], "context": []}


def _span_data(rows: list[tuple[float, float, str, str, str]], base: float) -> dict[str, list]:
    return {"left": [base + a * 1000.0 for a, _, _, _, _ in rows],
            "right": [base + b * 1000.0 for _, b, _, _, _ in rows],
            "lane": [lane for _, _, lane, _, _ in rows], "label": [label for _, _, _, label, _ in rows],
            "colour": [colour for _, _, _, _, colour in rows]}


def _counts(records: list[dict], duration: float, base: float) -> dict[str, list]:
    """Readings stored and refused, and alerts fired, per bin (about 400 bins: downsampled for a fleet)."""
    width = max(duration / 400, 60.0)
    bins = int(duration // width) + 1
    per = {kind: [0] * bins for kind in ("reading.stored", "reading.refused", "alert.fired")}
    for r in records:
        if r["kind"] in per and 0 <= r["t"] <= duration:
            per[r["kind"]][int(r["t"] // width)] += 1
    return {"x": [base + i * width * 1000.0 for i in range(bins)], "stored": per["reading.stored"],
            "refused": per["reading.refused"], "alerts": per["alert.fired"]}


def timeline_document(records: list[dict], header: dict, duration: float, title: str):
    """The Bokeh layout: lanes of spans and marks above, readings per bin below, one shared time axis."""
    from bokeh.layouts import column
    from bokeh.models import ColumnDataSource, HoverTool, Range1d

    base = start_ms(header)
    lanes = [lane for lane in LANES]
    x_range = Range1d(base, base + duration * 1000.0, bounds=(base, base + duration * 1000.0),
                      min_interval=60_000, name="time")
    top = _figure(title, x_range, lanes)
    span_rows = spans(records, duration)
    for name in ("outage_windows", "latency_windows", "light_windows"):
        height = {"light_windows": 0.5, "latency_windows": 0.6}.get(name, 0.8)
        glyph = top.hbar(y="lane", left="left", right="right", height=height, color="colour", alpha=0.45,
                         source=ColumnDataSource(_span_data(span_rows.get(name, []), base)), name=name,
                         legend_label=name.replace("_", " "))
        top.add_tools(HoverTool(renderers=[glyph], tooltips=[("", "@label")]))
    marks = _mark_data(records, base)
    style = {"faults": ("triangle", "red", 11), "events": ("circle", "steelblue", 7)}
    for name, (marker, colour, size) in style.items():
        glyph = top.scatter(x="x", y="lane", marker=marker, size=size, color=colour, alpha=0.8, name=name,
                            source=ColumnDataSource(marks[name]), legend_label=name)
        top.add_tools(HoverTool(renderers=[glyph], tooltips=_TOOLTIP, formatters={"@x": "datetime"}))
    top.legend.click_policy = "hide"
    return column(top, _counts_figure(records, duration, base, x_range), sizing_mode="stretch_width")


_TOOLTIP = """<div><b>@kind</b> &middot; @party &middot; @x{%F %T}</div>
<pre style="font-size:10px;max-width:900px;white-space:pre-wrap">@context</pre>"""


def _figure(title: str, x_range, lanes: list[str]):
    from bokeh.models import WheelZoomTool
    from bokeh.plotting import figure

    top = figure(title=title, x_range=x_range, y_range=list(reversed(lanes)), x_axis_type="datetime",
                 height=420, sizing_mode="stretch_width", tools="xpan,xbox_zoom,reset,save")
    wheel = WheelZoomTool(dimensions="width")
    top.add_tools(wheel)
    top.toolbar.active_scroll = wheel
    return top


def _counts_figure(records: list[dict], duration: float, base: float, x_range):
    from bokeh.models import ColumnDataSource
    from bokeh.plotting import figure

    bottom = figure(x_range=x_range, x_axis_type="datetime", height=170, sizing_mode="stretch_width",
                    tools="xpan,reset", title="per time bin")
    source = ColumnDataSource(_counts(records, duration, base), name="counts")
    for field, colour in (("stored", "seagreen"), ("refused", "firebrick"), ("alerts", "darkorange")):
        bottom.step(x="x", y=field, source=source, color=colour, mode="after", legend_label=field)
    bottom.legend.location = "top_left"
    return bottom


def write_timeline(records: list[dict], header: dict, duration: float, title: str, path: Path) -> None:
    """timeline.html: the whole page, Bokeh's JavaScript inlined, so it opens offline."""
    from bokeh.embed import file_html
    from bokeh.resources import INLINE

    layout = timeline_document(records, header, duration, title)
    path.write_text(file_html(layout, INLINE, title=f"{title}: timeline"), encoding="utf-8")
