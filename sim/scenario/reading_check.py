"""The readings oracle: which of the samples a node made are in the bridge's store, judged without
the system's identity rule.

A simulated node's samples are the world's own record (:mod:`sim.models.sample_ledger`): each is a
DHT22 frame, numbered by the sensor, with the time the firmware made it a reading and its values.
A stored row is matched to a sample of the same node by its values (temperature and humidity, in tenths) and by
time: a row stands for a sample only if the bridge received it at or after the sample was made.
Each row stands for one sample at most, and each sample for one row. Neither ``seq`` nor ``boot``
takes part, so a bridge that keys readings wrongly (by ``(node, seq)``, dropping the readings after
a reboot as duplicates) shows as lost samples, not as a match.

When two samples of a node carry the same values and the store has fewer rows of them than
samples, the oracle cannot tell which one is missing: it counts the earliest. Counts are exact
(a maximum matching: the rows that can stand for a later sample can stand for an earlier one).

Outcomes, per sample made before the horizon:

- stored;
- lost in the node: not stored, and still in the node's RAM (unacknowledged) when its power was
  cut. A node's buffer cannot outlive its power; this is the node's loss, reported apart;
- lost: not stored, for any other reason (the ring overflowed, the bridge dropped it).

Rows that stand for no sample are surplus (a reading stored twice under two identities).

Nodes without a ledger (a board, or a run whose world is not at hand, as on the wall clock) are
judged from the trace by ``(node, boot, seq)``, the firmware's own account of what it sampled.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from sim.models.sample_ledger import Sample


@dataclass(frozen=True)
class Tally:
    """What became of the samples made before the horizon, and the rows that stand for none."""

    sampled: int = 0
    lost: int = 0
    lost_in_node: int = 0
    surplus: int = 0

    def __add__(self, other: "Tally") -> "Tally":
        return Tally(self.sampled + other.sampled, self.lost + other.lost,
                     self.lost_in_node + other.lost_in_node, self.surplus + other.surplus)


def tally(run: Any, settle: float, node: str | None = None) -> Tally:
    """The readings of ``run`` sampled before its last ``settle`` seconds, matched against its store (of
    ``node`` alone, if given). Rows received after the run's end (a view of it cut short) do not count."""
    world = getattr(run, "world", None)
    ledgers = getattr(world, "ledgers", {}) if world is not None else {}
    total = Tally()
    if ledgers:
        horizon = world.rt.start + run.duration - settle
        for name, ledger in ledgers.items():
            if node is None or name == node:
                total += match_node(ledger.samples(), _rows(run, name), horizon)
    return total + _by_trace(run, run.duration - settle, skip=set(ledgers), node=node)


def _rows(run: Any, node: str) -> list[tuple[float, int, int]]:
    """Node ``node``'s stored rows ``(received, h10, t10)``, up to the run's end."""
    end = run.world.rt.start + run.duration + 1e-6
    return [(r["received"], round(r["humidity"] * 10), round(r["temperature"] * 10))
            for r in run.world.readings.rows(node) if r["received"] <= end]


def delays(run: Any) -> dict[str, list[float]]:
    """Per simulated node, each stored sample's delay: from when the world made it to when the bridge received
    its row (s). A sample takes the earliest free row of its values received at or after it (samples in
    time order): a maximum matching, as :func:`match_node`'s; lost samples have no delay."""
    out: dict[str, list[float]] = {}
    for name, ledger in getattr(run.world, "ledgers", {}).items():
        free: dict[tuple[int, int], list[float]] = defaultdict(list)
        for received, h10, t10 in sorted(_rows(run, name)):
            free[(h10, t10)].append(received)
        used: dict[tuple[int, int], int] = defaultdict(int)
        found = out.setdefault(name, [])
        for sample in sorted(ledger.samples(), key=lambda s: s.t):
            times, key = free.get((sample.h10, sample.t10), []), (sample.h10, sample.t10)
            while used[key] < len(times) and times[used[key]] < sample.t:
                used[key] += 1  # a row received before the sample was made stands for an earlier one
            if used[key] < len(times):
                found.append(times[used[key]] - sample.t)
                used[key] += 1
    return out


def match_node(samples: list[Sample], rows: list[tuple[float, int, int]], horizon: float) -> Tally:
    """Match one node's ``samples`` with its stored ``rows`` ``(received, h10, t10)``; samples made
    after ``horizon`` (epoch s) count as neither sampled nor lost, but rows may stand for them."""
    by_values: dict[tuple[int, int], list[float]] = defaultdict(list)
    for received, h10, t10 in rows:
        by_values[(h10, t10)].append(received)
    groups: dict[tuple[int, int], list[Sample]] = defaultdict(list)
    for sample in samples:
        groups[(sample.h10, sample.t10)].append(sample)
    unmatched: list[Sample] = []
    surplus = sum(len(times) for values, times in by_values.items() if values not in groups)
    for values, group in groups.items():
        times = sorted(by_values.get(values, ()), reverse=True)
        free, j = 0, 0
        for sample in sorted(group, key=lambda s: s.t, reverse=True):  # latest first: the fewest rows fit it
            while j < len(times) and times[j] >= sample.t:
                free, j = free + 1, j + 1
            if free:
                free -= 1
            else:
                unmatched.append(sample)
        surplus += free + len(times) - j
    counted = [s for s in samples if s.t <= horizon]
    missing = [s for s in unmatched if s.t <= horizon]
    in_node = sum(1 for s in missing if s.in_ram_at_cut)
    return Tally(len(counted), len(missing) - in_node, in_node, surplus)


def _by_trace(run: Any, horizon: float, skip: set[str], node: str | None = None) -> Tally:
    """Nodes without a ledger, from the trace: sampled and stored ``(node, boot, seq)``."""
    key = lambda r: (r["node"], r.get("boot"), r["seq"])  # noqa: E731
    mine = lambda r: r["node"] not in skip and (node is None or r["node"] == node)  # noqa: E731
    sampled = {key(r) for r in run.trace.of_kind("reading.sampled") if r["t"] <= horizon and mine(r)}
    stored = Counter(key(r) for r in run.trace.of_kind("reading.stored") if r.get("seq") is not None and mine(r))
    return Tally(len(sampled), len(sampled - set(stored)), 0, sum(n - 1 for n in stored.values() if n > 1))
