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

from sim.scenario import cloud_check, light_check, liveness, reading_check, trace_check
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


def _lost_limit(node: YamlValue) -> dict:
    """``readings_lost: 0``, ``{max: 0, settle: 2m}``, or of one node: ``{node: node-2, max: 0}``."""
    if isinstance(node.value, str):
        return {**_count_limit(node), "node": None}
    body = node.keys("readings_lost", {"max": True, "settle": False, "node": False})
    limit = _count_limit(YamlValue({k: v for k, v in body.items() if k != "node"}, node.line, node.ctx))
    return {**limit, "node": body["node"].text("node") if "node" in body else None}


def _minimum(node: YamlValue) -> dict:
    if isinstance(node.value, str):
        return {"min": node.integer("the minimum", minimum=0)}
    body = node.keys("the minimum", {"min": True})
    return {"min": body["min"].integer("min", minimum=0)}


def readings_lost(args, run):
    """Readings sampled (before the last ``settle`` seconds) that were never stored, counted from the
    world's record of what each sensor sampled (:mod:`sim.scenario.reading_check`). Readings a power cut
    took from a node's RAM are the node's loss: named in the measure, counted by ``readings_lost_in_node``."""
    seen = reading_check.tally(run, args["settle"], args.get("node"))
    in_node = f" ({seen.lost_in_node} more lost in a node's RAM at a power cut)" if seen.lost_in_node else ""
    whose = f"{args['node']}'s " if args.get("node") else ""
    return seen.lost <= args["max"], f"{seen.lost} of {whose}{seen.sampled}{in_node}", f"<= {args['max']}"


def max_delivery_delay(args, run):
    """The longest time from when the world made a sample to when the bridge stored it (lost samples aside:
    ``readings_lost`` counts those)."""
    found = [(d, node) for node, ds in reading_check.delays(run).items() for d in ds]
    if not found:
        return False, "no sample stored", f"<= {args['max']:g} s"
    worst, node = max(found)
    return worst <= args["max"] + 1e-6, f"{worst:.3g} s ({node}, {len(found)} samples)", f"<= {args['max']:g} s"


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
    """``{from: "16:29", until: "16:41"}``, or relative to a game's kickoff (the world's truth, after every
    fixture change): ``{game: "KAA Gent - Club Brugge", from: kickoff-4h, until: kickoff-3h50m}``."""
    body = node.keys("the period", {"from": True, "until": True, "game": False})
    game = body["game"].text("game") if "game" in body else None
    read = _from_kickoff if game is not None else (lambda v, what: v.moment(what))
    lo, hi = read(body["from"], "from"), read(body["until"], "until")
    if hi <= lo:
        raise node.error("'until' must come after 'from'")
    return {"from": lo, "until": hi, "game": game}


def _from_kickoff(node: YamlValue, what: str) -> float:
    """``kickoff``, ``kickoff-4h``, ``kickoff+30m``: seconds from the kickoff."""
    raw = node.text(what).replace(" ", "")
    if not raw.startswith("kickoff"):
        raise node.error(f"with 'game', {what} is relative to its kickoff: kickoff-4h, kickoff+30m; got {raw!r}")
    rest = raw[len("kickoff"):]
    if not rest:
        return 0.0
    if rest[0] not in "+-":
        raise node.error(f"{what} must be kickoff, kickoff-4h or kickoff+30m, got {raw!r}")
    seconds = YamlValue(rest[1:], node.line, node.ctx).duration(what)
    return seconds if rest[0] == "+" else -seconds


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


def _delay(node: YamlValue) -> dict:
    body = node.keys("max_delivery_delay", {"max": True})
    return {"max": body["max"].duration("max")}


def _pushed(node: YamlValue) -> dict:
    """``{job: controller, metric: events_added, min: 1}`` (and/or ``max``)."""
    body = node.keys("pushed", {"job": True, "metric": True, "min": False, "max": False})
    if "min" not in body and "max" not in body:
        raise node.error("pushed needs 'min' or 'max'")
    bound = lambda key: body[key].number(key) if key in body else None  # noqa: E731
    return {"job": body["job"].text("job"), "metric": body["metric"].text("metric"),
            "min": bound("min"), "max": bound("max")}


def _trace(node: YamlValue) -> dict:
    """``{kind: relay.on, count: 3}``, ``{kind: ..., none: true, where: {reason: acl}, from: "08:00", until: ...}``."""
    body = node.keys("trace", {"kind": True, "count": False, "min": False, "max": False, "none": False,
                               "where": False, "from": False, "until": False})
    bounds = [k for k in ("count", "min", "max", "none") if k in body]
    if len(bounds) != 1:
        raise node.error("trace needs exactly one of count, min, max, none")
    if bounds[0] == "none":
        _true("none")(body["none"])
        bound = ("count", 0)
    else:
        bound = (bounds[0], body[bounds[0]].integer(bounds[0], minimum=0))
    where = {k: v.text(k) for k, v in body["where"].mapping("where").items()} if "where" in body else {}
    moment = lambda key: body[key].moment(key) if key in body else None  # noqa: E731
    return {"kind": body["kind"].text("kind"), "bound": bound, "where": where,
            "from": moment("from"), "until": moment("until")}


def _flow(node: YamlValue) -> dict:
    if isinstance(node.value, str):
        _true("readings_flow")(node)
        return {"window": 120.0}
    body = node.keys("readings_flow", {"window": True})
    return {"window": body["window"].duration("window")}


def _eventually(node: YamlValue) -> dict:
    """``{within: 5m, <one expectation>: <its arguments>}``."""
    body = node.keys("eventually", {"within": True, **{k: False for k in EXPECTATIONS if k != "eventually"}})
    inner = [k for k in body if k != "within"]
    if len(inner) != 1:
        raise node.error("eventually needs 'within' and exactly one expectation, e.g. readings_flow: true")
    return {"within": body["within"].duration("within"), "inner": inner[0],
            "args": EXPECTATIONS[inner[0]].parse(body[inner[0]])}


# Every expectation: its parser and its checker, for the loader's vocabulary.
EXPECTATIONS = MappingProxyType({
    "readings_lost": ExpectationKind(_lost_limit, readings_lost, frozenset({"reading.sampled", "reading.stored"})),
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
    "max_delivery_delay": ExpectationKind(_delay, max_delivery_delay, frozenset()),
    "no_alert_twice": ExpectationKind(_true("no_alert_twice"), light_check.no_alert_twice),
    "pushed": ExpectationKind(_pushed, trace_check.pushed, frozenset()),
    "trace": ExpectationKind(_trace, trace_check.trace),
    "readings_flow": ExpectationKind(_flow, liveness.readings_flow, frozenset({"reading.sampled", "reading.stored"})),
    "eventually": ExpectationKind(_eventually, lambda args, run: liveness.eventually(args, run, EXPECTATIONS)),
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
