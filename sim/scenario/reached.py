""""Sometimes" states: what a run reached, and what a library of runs never did.

A run reaches ``fault:<Kind>`` for each fault of its timeline that was applied (its ``at`` inside the
run), ``fault:<Kind>@<party>`` for the party or link it hit, and ``expect:<kind>`` for each expectation it
exercised with a non-trivial measure (and an ``eventually``'s inner one with it): one whose measured text
holds a number other than 0 (``0 of 1062``
readings lost judged 1062 samples; ``0 jobs run, 0 more than once`` judged nothing). A state a library
never reaches is a promise its stories never put to the test (as Antithesis's ``sometimes`` assertions).
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from typing import Any, Iterable, Mapping

from sim.scenario import faults

_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?")


def fault_kinds() -> list[str]:
    """Every fault kind of the vocabulary: the fault classes of :mod:`sim.scenario.faults`."""
    return sorted(name for name in faults.__all__ if dataclasses.is_dataclass(getattr(faults, name))
                  and hasattr(getattr(faults, name), "control"))


def all_states(expectations: Iterable[str]) -> list[str]:
    """Every state a library may reach: each fault kind, each expectation of ``expectations``."""
    return [f"fault:{k}" for k in fault_kinds()] + [f"expect:{k}" for k in sorted(expectations)]


def exercised(measured: str) -> bool:
    """A measure that judged something: it names a number other than 0."""
    return any(float(n) != 0 for n in _NUMBER.findall(measured))


def reached(run: Any) -> Counter[str]:
    """The states ``run`` (an outcome with its scenario, duration and verdicts) reached, with how often."""
    found: Counter[str] = Counter()
    for event in run.scenario.timeline:
        if event.at < run.duration:
            kind = type(event.fault).__name__
            found[f"fault:{kind}"] += 1
            found[f"fault:{kind}@{event.fault.target}"] += 1
    for exp, verdict in zip(run.scenario.expect, run.verdicts):
        if exercised(verdict.measured):
            found[f"expect:{verdict.name}"] += 1
            if verdict.name == "eventually":  # its inner expectation was exercised too
                found[f"expect:{exp.args['inner']}"] += 1
    return found


def unreached(counts: Iterable[Mapping[str, int]], expectations: Iterable[str]) -> list[str]:
    """The states of :func:`all_states` that no run of ``counts`` (each a :func:`reached`) reached."""
    seen = {state for found in counts for state, n in found.items() if n}
    return [state for state in all_states(expectations) if state not in seen]


def fault_party_table(counts: Iterable[Mapping[str, int]]) -> dict[str, Counter[str]]:
    """Per fault kind, how often it hit each party or link, over the runs of ``counts``."""
    table: dict[str, Counter[str]] = {}
    for found in counts:
        for state, n in found.items():
            if state.startswith("fault:") and "@" in state:
                kind, party = state[len("fault:"):].split("@", 1)
                table.setdefault(kind, Counter())[party] += n
    return table
