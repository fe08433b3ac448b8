"""Expectations: what a scenario promises, checked against the run's trace.

Each ``expect:`` key has a parser (YAML -> arguments) and a checker (arguments,
run -> Verdict). Checkers read the trace, where every kind is written at the
moment the thing happened, never the services' internal state.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, Mapping

from sim.scenario.yaml_value import YamlValue


@dataclass(frozen=True)
class Verdict:
    name: str
    ok: bool
    measured: str
    expected: str
    line: int = 0


@dataclass(frozen=True)
class ExpectationKind:
    """An ``expect:`` key: ``parse`` reads its YAML into arguments, ``check(args, run)`` returns
    ``(ok, measured, expected)``, the last two as text for the report."""

    parse: Callable[[YamlValue], Any]
    check: Callable[[Any, Any], tuple[bool, str, str]]
    # The trace kinds ``check`` reads, so a hash-only run keeps just those records (None: any kind).
    reads: frozenset[str] | None = None


def check_all(run, kinds: Mapping[str, ExpectationKind]) -> list[Verdict]:
    """A verdict per expectation of ``run.scenario``, in the file's order."""
    verdicts = []
    for exp in run.scenario.expect:
        ok, measured, expected = kinds[exp.kind].check(exp.args, run)
        verdicts.append(Verdict(exp.kind, ok, measured, expected, exp.line))
    return verdicts


def _count_limit(node: YamlValue) -> dict:
    """``key: 0`` or ``key: {max: 0, settle: 2m}``."""
    if isinstance(node.value, str):
        return {"max": node.integer("the limit", minimum=0), "settle": 60.0}
    body = node.keys("the limit", {"max": True, "settle": False})
    return {"max": body["max"].integer("max", minimum=0),
            "settle": body["settle"].duration("settle") if "settle" in body else 60.0}


def _minimum(node: YamlValue) -> dict:
    if isinstance(node.value, str):
        return {"min": node.integer("the minimum", minimum=0)}
    body = node.keys("the minimum", {"min": True})
    return {"min": body["min"].integer("min", minimum=0)}


def readings_lost(args, run):
    """Readings sampled (before the last ``settle`` seconds) that were never stored."""
    horizon = run.duration - args["settle"]
    sampled = {(r["node"], r["seq"]) for r in run.trace.of_kind("reading.sampled") if r["t"] <= horizon}
    stored = {(r["node"], r["seq"]) for r in run.trace.of_kind("reading.stored")}
    lost = len(sampled - stored)
    return lost <= args["max"], f"{lost} of {len(sampled)}", f"<= {args['max']}"


def readings_duplicated(args, run):
    """Readings stored more than once (exactly-once storage means 0)."""
    counts = Counter((r["node"], r["seq"]) for r in run.trace.of_kind("reading.stored"))
    extra = sum(n - 1 for n in counts.values() if n > 1)
    return extra <= args["max"], str(extra), f"<= {args['max']}"


def readings_stored(args, run):
    stored = len(run.trace.of_kind("reading.stored"))
    return stored >= args["min"], str(stored), f">= {args['min']}"


def readings_refused(args, run):
    refused = len(run.trace.of_kind("reading.refused"))
    return refused <= args["max"], str(refused), f"<= {args['max']}"


def sequence_gaps(args, run):
    """Sequence numbers missing between 1 and each node's highest stored one, not dropped by the node."""
    stored: dict[str, set[int]] = {}
    for r in run.trace.of_kind("reading.stored"):
        if r.get("seq") is not None:
            stored.setdefault(r["node"], set()).add(r["seq"])
    dropped = {(r["node"], r["seq"]) for r in run.trace.of_kind("reading.dropped")}
    gaps = sum(1 for node, seqs in stored.items() for seq in range(1, max(seqs) + 1)
               if seq not in seqs and (node, seq) not in dropped)
    return gaps <= args["max"], str(gaps), f"<= {args['max']}"


def sensor_errors(args, run):
    """Failed sensor reads the nodes noticed (``reading.failed``): shows a sensor fault took effect."""
    failed = len(run.trace.of_kind("reading.failed"))
    return failed >= args["min"], str(failed), f">= {args['min']}"


# The telemetry expectations, gathered by sim/scenario/vocabulary.py.
EXPECTATIONS = MappingProxyType({
    "readings_lost": ExpectationKind(_count_limit, readings_lost, frozenset({"reading.sampled", "reading.stored"})),
    "readings_duplicated": ExpectationKind(_count_limit, readings_duplicated, frozenset({"reading.stored"})),
    "readings_stored": ExpectationKind(_minimum, readings_stored, frozenset({"reading.stored"})),
    "readings_refused": ExpectationKind(_count_limit, readings_refused, frozenset({"reading.refused"})),
    "sequence_gaps": ExpectationKind(_count_limit, sequence_gaps, frozenset({"reading.stored", "reading.dropped"})),
    "sensor_errors": ExpectationKind(_minimum, sensor_errors, frozenset({"reading.failed"})),
})


def kinds_read(scenario: Any, kinds: Mapping[str, ExpectationKind]) -> frozenset[str] | bool:
    """The trace kinds the scenario's expectations read, for ``Trace(keep=...)``; True when one may read any."""
    needed: set[str] = set()
    for exp in scenario.expect:
        reads = kinds[exp.kind].reads
        if reads is None:
            return True
        needed |= reads
    return frozenset(needed)
