"""A scenario as plain data: the story of one run, validated and ready to play.

Made by :mod:`sim.scenario.loader` from a YAML file (or built directly by tests and
Hypothesis strategies); read by the world, the runner and the expectations.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Callable


@dataclass(frozen=True)
class WorldKey:
    """A ``world:`` key: ``parse`` reads its YAML value (a ``sim.scenario.yaml_value.YamlValue``), ``default`` stands
    where the file leaves it out."""

    parse: Callable[[Any], Any]
    default: Any


@dataclass(frozen=True)
class TimedEvent:
    """A world event of the timeline: ``at`` seconds after the start, the fault object, its line."""

    at: float
    fault: Any
    line: int


@dataclass(frozen=True)
class Expectation:
    """One promise of the ``expect:`` section: its kind, its parsed arguments, its line."""

    kind: str
    args: Any
    line: int


@dataclass(frozen=True)
class Scenario:
    name: str
    seed: int
    start: datetime
    duration: float
    world: dict[str, Any]
    timeline: tuple[TimedEvent, ...] = ()
    expect: tuple[Expectation, ...] = ()
    file: str = "<scenario>"

    @property
    def start_epoch(self) -> float:
        return self.start.timestamp()

    def with_seed(self, seed: int) -> "Scenario":
        return replace(self, seed=seed)
