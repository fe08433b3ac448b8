"""``eventually``: after the last fault of the timeline heals, an inner expectation holds within a bound.

``eventually: {within: 5m, readings_flow: true}`` judges the inner expectation on the run *as it stood*
``within`` after the last fault healed: a view of the run cut there (its trace up to then, the bridge's
rows received by then, its duration ending then). Any expectation can be the inner one; with
``readings_lost: {max: 0, settle: 1m}`` it says the backlog was flushed in time, with ``readings_flow``
that every node's readings reach the store again.

When a fault heals (:func:`heal_time`): at its ``at`` plus how long it lasts (``duration``, ``down_for``, a
brown-out's dips, a clogging's steps); a fault with no end (``down: true``, a fault without ``for``) never
heals, and the ``eventually`` fails saying so. One-off acts (a user's action, a fixture change, an
adversary's act, a cloud store lost or restored, the mirror lost, a clock's jump) heal when they happen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

INSTANT = ("UserAction", "FixtureChange", "AdversaryAct", "CloudStoreFault", "LinkUp")


def lasting(fault: Any) -> float:
    """How long ``fault`` lasts once applied (s); inf when it has no end."""
    name = type(fault).__name__
    if name in INSTANT:
        return 0.0
    if name == "BrownOut":
        return (fault.dips - 1) * fault.every + fault.off_for  # the last dip's end
    if name == "Clogging":
        return 2 * (fault.count - 1) * fault.step + fault.hold  # the last link unclogged
    if (name, getattr(fault, "how", None)) == ("ClockShift", "jump") or \
            (name, getattr(fault, "action", None)) in (("CloudFault", "up"), ("CloudFault", "lose_mirror")):
        return 0.0  # a clock that jumps stays there (the system lives with it); the mirror lost, once
    for key in ("duration", "down_for"):
        if hasattr(fault, key):
            value = getattr(fault, key)
            return math.inf if value is None else float(value)
    return 0.0


def heal_time(scenario: Any) -> float:
    """When the last fault of ``scenario``'s timeline has healed (seconds since the start; 0 without faults)."""
    return max((event.at + lasting(event.fault) for event in scenario.timeline), default=0.0)


class _TraceView:
    """A trace's records up to a moment."""

    def __init__(self, trace: Any, until: float):
        self.trace, self.until = trace, until

    @property
    def records(self) -> list[dict]:
        return [r for r in self.trace.records if r["t"] <= self.until]

    def of_kind(self, *kinds: str) -> list[dict]:
        return [r for r in self.trace.of_kind(*kinds) if r["t"] <= self.until]


@dataclass
class RunView:
    """``run`` as it stood ``duration`` seconds after its start."""

    scenario: Any
    trace: Any
    duration: float
    world: Any = None


def cut(run: Any, at: float) -> RunView:
    return RunView(run.scenario, _TraceView(run.trace, at), at, getattr(run, "world", None))


def eventually(args: dict, run: Any, kinds: Any):
    """The inner expectation, judged on ``run`` cut at the last heal plus ``within``."""
    heal = heal_time(run.scenario)
    if math.isinf(heal):
        return False, "a fault never heals", f"{args['inner']} within {args['within']:g} s of the heal"
    at = heal + args["within"]
    if at > run.duration:
        return False, f"the run ends {at - run.duration:g} s too early to judge", \
            f"{args['inner']} within {args['within']:g} s of the heal"
    ok, measured, expected = kinds[args["inner"]].check(args["args"], cut(run, at))
    return ok, f"{measured} at {at:g} s (healed at {heal:g} s)", f"{args['inner']} {expected}"


def readings_flow(args: dict, run: Any):
    """Every node that made a reading in the run's last ``window`` seconds had one stored in them."""
    lo = run.duration - args["window"]
    sampled = {r["node"] for r in run.trace.of_kind("reading.sampled") if lo <= r["t"] <= run.duration}
    stored = {r["node"] for r in run.trace.of_kind("reading.stored") if lo <= r["t"] <= run.duration}
    quiet = sorted(sampled - stored)
    shown = f" (none from {', '.join(quiet[:3])})" if quiet else ""
    return bool(sampled) and not quiet, f"{len(sampled & stored)} of {len(sampled)} nodes stored{shown}", \
        f"every sampling node, in the last {args['window']:g} s"
