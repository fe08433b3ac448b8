"""The words a scenario file may use, gathered in one place and handed to the loader.

Each part of the world declares its own words as plain constants (nothing is
registered on import): :mod:`sim.world` and :mod:`sim.controller_world` their
``world:`` keys and whole-scenario checks, :mod:`sim.faults` the timeline events,
:mod:`sim.expect` and :mod:`sim.light_check` the expectations. This module puts them
together; a user who adds a world event builds a ``Vocabulary`` with one more entry::

    words = default_vocabulary()
    mine = replace(words, timeline={**words.timeline, "earthquake": parse_earthquake})
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from sim import cloud_world, controller_world, expect, faults, light_check, world
from sim.expect import ExpectationKind
from sim.scenario import Scenario, WorldKey
from sim.yaml_value import YamlValue


@dataclass(frozen=True)
class Vocabulary:
    """``world`` keys (parser and default), ``timeline`` event parsers, ``expectations`` (parser and
    checker), and ``checks`` run on the whole parsed scenario before anything runs."""

    world: Mapping[str, WorldKey]
    timeline: Mapping[str, Callable[[YamlValue], Any]]
    expectations: Mapping[str, ExpectationKind]
    checks: tuple[Callable[[Scenario], None], ...]


def default_vocabulary() -> Vocabulary:
    """Everything hilsim's world knows: telemetry, the match-day controller and its cloud."""
    return Vocabulary(
        world={**world.WORLD_KEYS, **controller_world.WORLD_KEYS},
        timeline={**faults.TELEMETRY_EVENTS, **faults.CONTROLLER_EVENTS, **cloud_world.CLOUD_EVENTS},
        expectations={**expect.EXPECTATIONS, **light_check.EXPECTATIONS, **cloud_world.EXPECTATIONS},
        checks=(controller_world.check, world.check_parties),
    )
