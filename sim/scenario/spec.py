"""A scenario as plain data: the story of one run, validated and ready to play.

Made by :mod:`sim.scenario.loader` from a YAML file (or built directly by tests and
Hypothesis strategies); read by the world, the runner and the expectations. The ``world:`` section's
controller and cloud are plain data too (:class:`ControllerConfig`, :class:`CloudConfig`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Callable

from sim.models.club_site import LAYOUTS
from system.decisions.selectors import SelectorsFile


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


@dataclass(frozen=True)
class CloudConfig:
    """``world: {controller: {cloud: {...}}}``: how often the controller syncs and polls for jobs, the heartbeat
    alarm's period, a job's timeout, and how often the world compares the mirror with the device's store."""

    sync_every: float = 300.0
    poll_every: float = 30.0
    heartbeat_period: float = 300.0
    job_timeout: float = 3600.0
    check_every: float = 60.0


@dataclass(frozen=True)
class ControllerConfig:
    """``season``: the season file (``fixtures/seasons/*.toml``) the club site renders its pages from, the
    world's truth; ``layout``: how the site renders it (``sim.models.club_site.LAYOUTS``); ``selectors``: the
    selectors file (the same as ``hilsim controller --selectors``) the controller reads that layout with."""

    season: str
    format: str = "html"
    scrape_every: float = 3600.0
    push_every: float = 300.0
    cloud: CloudConfig | None = None
    selectors: SelectorsFile | None = None
    layout: str = LAYOUTS[0]
