"""Expectations: what a scenario promises, checked against the run's trace.

Each ``expect:`` key has a parser (YAML -> arguments), all of them here, and a checker
(arguments, run -> Verdict): the telemetry's here, the alarm light's in
:mod:`sim.scenario.light_check`, the cloud's in :mod:`sim.scenario.cloud_check`. Checkers read
the trace, where every kind is written at the moment the thing happened, and the world's own
truth, never the services' internal state; the readings' checkers match the world's record of
what each sensor sampled against the bridge's store, the system's product
(:mod:`sim.scenario.reading_check`). :data:`EXPECTATIONS` joins them, for the loader's vocabulary.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, Mapping

from sim.scenario import cloud_check, light_check, reading_check
from sim.scenario.yaml_value import YamlValue
from system.decisions.jobs_protocol import STATES


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
    """Readings sampled (before the last ``settle`` seconds) that were never stored, counted from the
    world's record of what each sensor sampled (:mod:`sim.scenario.reading_check`). Readings a power cut
    took from a node's RAM are the node's loss: named in the measure, counted by ``readings_lost_in_node``."""
    seen = reading_check.tally(run, args["settle"])
    in_node = f" ({seen.lost_in_node} more lost in a node's RAM at a power cut)" if seen.lost_in_node else ""
    return seen.lost <= args["max"], f"{seen.lost} of {seen.sampled}{in_node}", f"<= {args['max']}"


def readings_lost_in_node(args, run):
    """Readings a node had sampled but not yet delivered when its power was cut: its RAM buffer's loss."""
    seen = reading_check.tally(run, args["settle"])
    return seen.lost_in_node <= args["max"], f"{seen.lost_in_node} of {seen.sampled}", f"<= {args['max']}"


def readings_duplicated(args, run):
    """Readings stored more than once (exactly-once storage means 0): rows that stand for no sample
    of the world's record (:mod:`sim.scenario.reading_check`)."""
    extra = reading_check.tally(run, args["settle"]).surplus
    return extra <= args["max"], str(extra), f"<= {args['max']}"


def readings_stored(args, run):
    stored = len(run.trace.of_kind("reading.stored"))
    return stored >= args["min"], str(stored), f">= {args['min']}"


def readings_refused(args, run):
    refused = len(run.trace.of_kind("reading.refused"))
    return refused <= args["max"], str(refused), f"<= {args['max']}"


def sequence_gaps(args, run):
    """Sequence numbers missing between 1 and the highest stored one of each boot of each node, not
    dropped by the node (a drop names no boot: it excuses that seq in every boot of its node)."""
    stored: dict[tuple[str, Any], set[int]] = {}
    for r in run.trace.of_kind("reading.stored"):
        if r.get("seq") is not None:
            stored.setdefault((r["node"], r.get("boot")), set()).add(r["seq"])
    dropped = {(r["node"], r["seq"]) for r in run.trace.of_kind("reading.dropped")}
    gaps = sum(1 for (node, _boot), seqs in stored.items() for seq in range(1, max(seqs) + 1)
               if seq not in seqs and (node, seq) not in dropped)
    return gaps <= args["max"], str(gaps), f"<= {args['max']}"


def sensor_errors(args, run):
    """Failed sensor reads the nodes noticed (``reading.failed``): shows a sensor fault took effect."""
    failed = len(run.trace.of_kind("reading.failed"))
    return failed >= args["min"], str(failed), f">= {args['min']}"


def _flag(node: YamlValue) -> dict:
    if isinstance(node.value, str):
        if not node.boolean("light_follows_schedule"):
            raise node.error("write 'light_follows_schedule: true' (or leave it out)")
        return {"tolerance": 0.0}
    body = node.keys("light_follows_schedule", {"tolerance": True})
    return {"tolerance": body["tolerance"].duration("tolerance")}


def _period(node: YamlValue) -> dict:
    body = node.keys("the period", {"from": True, "until": True})
    lo, hi = body["from"].moment("from"), body["until"].moment("until")
    if hi <= lo:
        raise node.error("'until' must come after 'from'")
    return {"from": lo, "until": hi}


def _true(what: str) -> Callable[[YamlValue], bool]:
    def parse(node: YamlValue) -> bool:
        if not node.boolean(what):
            raise node.error(f"write '{what}: true' (or leave it out)")
        return True

    return parse


def _sync_args(node: YamlValue) -> dict:
    body = node.keys("cloud_in_sync", {"within": True, "after": True})
    return {"within": body["within"].duration("within"), "after": body["after"].moment("after")}


def _job_args(node: YamlValue) -> dict:
    body = node.keys("job_state", {"job": True, "state": True, "at": False})
    state = body["state"].text("state")
    if state not in STATES:
        raise body["state"].error(f"state is one of {', '.join(STATES)}")
    return {"job": body["job"].integer("job", minimum=1), "state": state,
            "at": body["at"].moment("at") if "at" in body else None}


def _count(node: YamlValue) -> dict:
    if isinstance(node.value, str) and node.value.strip().lower() in ("true", "yes"):
        return {"min": 1}
    body = node.keys("the count", {"min": True})
    return {"min": body["min"].integer("min", minimum=0)}


# Every expectation: its parser and its checker, for the loader's vocabulary.
EXPECTATIONS = MappingProxyType({
    "readings_lost": ExpectationKind(_count_limit, readings_lost, frozenset({"reading.sampled", "reading.stored"})),
    "readings_lost_in_node": ExpectationKind(_count_limit, readings_lost_in_node,
                                             frozenset({"reading.sampled", "reading.stored"})),
    "readings_duplicated": ExpectationKind(_count_limit, readings_duplicated,
                                           frozenset({"reading.sampled", "reading.stored"})),
    "readings_stored": ExpectationKind(_minimum, readings_stored, frozenset({"reading.stored"})),
    "readings_refused": ExpectationKind(_count_limit, readings_refused, frozenset({"reading.refused"})),
    "sequence_gaps": ExpectationKind(_count_limit, sequence_gaps, frozenset({"reading.stored", "reading.dropped"})),
    "sensor_errors": ExpectationKind(_minimum, sensor_errors, frozenset({"reading.failed"})),
    "light_follows_schedule": ExpectationKind(_flag, light_check.light_follows_schedule),
    "light_on": ExpectationKind(_period, light_check.light_on),
    "light_off": ExpectationKind(_period, light_check.light_off),
    "alerts_fired_once": ExpectationKind(_true("alerts_fired_once"), light_check.alerts_fired_once),
    "cloud_in_sync": ExpectationKind(_sync_args, cloud_check.cloud_in_sync),
    "job_state": ExpectationKind(_job_args, cloud_check.job_state),
    "alarm_raised": ExpectationKind(_count, cloud_check.alarm_raised),
    "alarm_cleared": ExpectationKind(_count, cloud_check.alarm_cleared),
    "jobs_executed_once": ExpectationKind(_true("jobs_executed_once"), cloud_check.jobs_executed_once),
    "jobs_reported_once": ExpectationKind(_true("jobs_reported_once"), cloud_check.jobs_reported_once),
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
