"""Compare two traces event by event: a wall-clock run and its sim twin, or a recording and a replay.

Events are grouped into streams by kind and by the party they are about (the node of a
reading, the link of a link event), and each stream is walked in time order. Two
streams agree when they have the same events in the same order (same sequence number
or link) at times no more than ``tolerance`` seconds apart. Events in the last
``tolerance`` seconds of the shorter run are not compared, and an unpartnered event
within ``tolerance`` of that horizon is forgiven (its partner may lie just past it): a
run cut off a moment earlier is not a difference. The first place each stream parts is reported.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

DEFAULT_KINDS = ("reading.sampled", "reading.stored", "link.down", "link.up")


@dataclass(frozen=True)
class Difference:
    """Where stream ``stream`` parts: at its ``index``-th event, ``what`` differs; the two events (None: absent)."""

    stream: str
    index: int
    what: str
    a: dict | None
    b: dict | None

    def __str__(self) -> str:
        def show(e: dict | None) -> str:
            return "nothing" if e is None else f"t={e['t']:.3f} {_identity(e) or ''}".rstrip()

        return f"{self.stream} #{self.index + 1}: {self.what} (A: {show(self.a)}; B: {show(self.b)})"


def read_trace(path: Path) -> tuple[dict, list[dict]]:
    """(header, records) of a JSON Lines trace; ValueError naming the line that is not JSON."""
    records = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except ValueError:
                    raise ValueError(f"{path}:{number}: not JSON") from None
    if not records or records[0].get("kind") != "trace.header":
        raise ValueError(f"{path}: not a hilsim trace (no trace.header on line 1)")
    return records[0], records[1:]


def _party(e: dict) -> str:
    return str(e.get("node") or e.get("link") or e.get("src"))


def _identity(e: dict) -> str | None:
    if "seq" in e:
        return f"seq {e['seq']}"
    return None


def streams(records: list[dict], kinds: tuple[str, ...], horizon: float) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for e in records:
        if e.get("kind") in kinds and e["t"] <= horizon:
            out.setdefault(f"{_party(e)} {e['kind']}", []).append(e)
    for events in out.values():
        events.sort(key=lambda e: (e["t"], e.get("seq", 0)))
    return out


def diff(a: tuple[dict, list[dict]], b: tuple[dict, list[dict]], *, tolerance: float = 5.0,
         kinds: tuple[str, ...] = DEFAULT_KINDS) -> list[Difference]:
    """The first difference of each stream (empty: the traces agree within ``tolerance``)."""
    durations = [h.get("duration") for h, _ in (a, b)]
    horizon = (min(d for d in durations if d is not None) - tolerance if any(d is not None for d in durations)
               else float("inf"))
    sa, sb = streams(a[1], kinds, horizon), streams(b[1], kinds, horizon)
    found = []
    for name in sorted(set(sa) | set(sb)):
        ea, eb = sa.get(name, []), sb.get(name, [])
        for i in range(max(len(ea), len(eb))):
            x = ea[i] if i < len(ea) else None
            y = eb[i] if i < len(eb) else None
            if x is None or y is None:
                extra = x or y
                if extra["t"] > horizon - tolerance:
                    break
                found.append(Difference(name, i, f"count {len(ea)} vs {len(eb)}", x, y))
                break
            if _identity(x) != _identity(y):
                found.append(Difference(name, i, "order", x, y))
                break
            if abs(x["t"] - y["t"]) > tolerance:
                found.append(Difference(name, i, f"time apart {abs(x['t'] - y['t']):.3f} s > {tolerance:g} s", x, y))
                break
    return found
