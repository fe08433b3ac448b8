"""Compare two traces event by event: a wall-clock run and its sim twin, or a recording and a replay.

The rules, in one place:

- Events are grouped into **streams** by kind and by the party they are about (the node of a
  reading, the link of a link event).
- **Boot offset.** A node's times are taken from its boot: its first ``board.booted`` or
  ``power.on`` line (a board boots a second or two into a wall-clock run, a recording may start
  before the boot), else the start of the run. Link events keep the run's clock.
- **Pairing.** Within a stream, events pair by sequence number (the k-th ``seq 3`` with the k-th
  ``seq 3``, as a rebooted node counts from 1 again), events without one by their order.
- **Differences**, each reported: an event only one trace has; a pair more than ``tolerance``
  seconds apart; a pair whose numeric fields differ by more than that field's tolerance (exact by
  default; fields of timing and identity such as ``ts``, ``lag`` and ``boot`` are never compared).
- **The end of the shorter run** is not a difference: events in its last ``tolerance`` seconds
  are not compared, so a run cut off a moment earlier does not count.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

DEFAULT_KINDS = ("reading.sampled", "reading.stored", "link.down", "link.up")
BOOT_KINDS = ("board.booted", "power.on")
# never compared as values: the time fields, the pairing keys, and counters that differ between runs by design
NOT_VALUES = frozenset({"t", "ts", "lag", "boot", "seq", "attempts", "delay", "uptime"})


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


@dataclass
class Comparison:
    """Every difference found, in stream order, and per stream (A's events, B's events, differences)."""

    differences: list[Difference] = field(default_factory=list)
    streams: dict[str, tuple[int, int, int]] = field(default_factory=dict)

    def summary(self) -> str:
        """One line: the total, then each stream's event counts and differences."""
        parts = [f"{name} {na} vs {nb} events, {nd} differ" for name, (na, nb, nd) in sorted(self.streams.items())]
        return (f"{len(self.differences)} difference{'s' if len(self.differences) != 1 else ''} in "
                f"{sum(1 for *_, nd in self.streams.values() if nd)} of {len(self.streams)} streams: "
                + "; ".join(parts))


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


def boot_offsets(records: list[dict]) -> dict[str, float]:
    """Node -> the time of its first boot line in ``records``."""
    offsets: dict[str, float] = {}
    for e in records:
        if e.get("kind") in BOOT_KINDS:
            offsets.setdefault(str(e.get("node") or e.get("src")), e["t"])
    return offsets


def streams(records: list[dict], kinds: tuple[str, ...]) -> dict[str, list[dict]]:
    """Stream name -> its events, ``t`` taken from the node's boot (:func:`boot_offsets`), in time order."""
    offsets = boot_offsets(records)
    out: dict[str, list[dict]] = {}
    for e in records:
        if e.get("kind") in kinds:
            offset = offsets.get(str(e.get("node")), 0.0)
            out.setdefault(f"{_party(e)} {e['kind']}", []).append({**e, "t": e["t"] - offset})
    for events in out.values():
        events.sort(key=lambda e: (e["t"], e.get("seq", 0)))
    return out


def _horizon(node: object, runs: list[tuple[float | None, dict[str, float]]], tolerance: float) -> float:
    # the end of the shorter run on the node's clock, less the tolerance
    ends = [duration - offsets.get(str(node), 0.0) for duration, offsets in runs if duration is not None]
    return min(ends) - tolerance if ends else float("inf")


def _pair(ea: list[dict], eb: list[dict]) -> list[tuple[int, dict | None, dict | None]]:
    # (index, a, b) in A's order, then B's leftovers: by (seq, occurrence), or by position without seq
    def key(events: list[dict]) -> dict[tuple, int]:
        seen: Counter = Counter()
        keys = {}
        for i, e in enumerate(events):
            ident = e.get("seq", None)
            seen[ident] += 1
            keys[(ident, seen[ident]) if ident is not None else (None, i)] = i
        return keys

    ka, kb = key(ea), key(eb)
    pairs = [(i, ea[i], eb[kb[k]] if k in kb else None) for k, i in ka.items()]
    pairs += [(i, None, eb[i]) for k, i in kb.items() if k not in ka]
    return pairs


def _values(x: dict, y: dict, values: Mapping[str, float]) -> str | None:
    parted = []
    for name in sorted(set(x) & set(y) - NOT_VALUES):
        u, v = x[name], y[name]
        numbers = all(isinstance(n, (int, float)) and not isinstance(n, bool) for n in (u, v))
        if numbers and abs(u - v) > values.get(name, 0.0) + 1e-9:
            parted.append(f"{name} {u:g} vs {v:g}" + (f" (> {values[name]:g})" if name in values else ""))
    return ", ".join(parted) or None


def _compare(name: str, ea: list[dict], eb: list[dict], horizon: float, tolerance: float,
             values: Mapping[str, float]) -> list[Difference]:
    found = []
    for index, x, y in _pair(ea, eb):
        if x is None or y is None:
            if (x or y)["t"] <= horizon - tolerance:  # one just short of the horizon may pair past it
                found.append(Difference(name, index, "only in A" if y is None else "only in B", x, y))
            continue
        if abs(x["t"] - y["t"]) > tolerance:
            found.append(Difference(name, index, f"time apart {abs(x['t'] - y['t']):.3f} s > {tolerance:g} s", x, y))
        parted = _values(x, y, values)
        if parted:
            found.append(Difference(name, index, parted, x, y))
    return found


def diff(a: tuple[dict, list[dict]], b: tuple[dict, list[dict]], *, tolerance: float = 5.0,
         kinds: tuple[str, ...] = DEFAULT_KINDS, values: Mapping[str, float] | None = None) -> Comparison:
    """Every difference between traces ``a`` and ``b`` (header, records) by the module's rules; ``values`` maps
    a field to how far its values may differ."""
    sa, sb = streams(a[1], kinds), streams(b[1], kinds)
    runs = [(header.get("duration"), boot_offsets(records)) for header, records in (a, b)]
    result = Comparison()
    for name in sorted(set(sa) | set(sb)):
        ea, eb = sa.get(name, []), sb.get(name, [])
        horizon = _horizon((ea or eb)[0].get("node"), runs, tolerance)
        found = _compare(name, [e for e in ea if e["t"] <= horizon], [e for e in eb if e["t"] <= horizon], horizon,
                         tolerance, values or {})
        result.differences += found
        result.streams[name] = (len(ea), len(eb), len(found))
    return result
