"""The words a scenario file may use, gathered in one place and handed to the loader.

Each part of the world declares its own words as plain constants (nothing is
registered on import): :mod:`sim.scenario.world` and :mod:`sim.scenario.controller_party` their
``world:`` keys and whole-scenario checks, :mod:`sim.scenario.faults` the timeline events,
:mod:`sim.scenario.expect` and :mod:`sim.scenario.light_check` the expectations. This module puts them
together; a user who adds a world event builds a ``Vocabulary`` with one more entry::

    words = default_vocabulary()
    mine = replace(words, timeline={**words.timeline, "earthquake": parse_earthquake})
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from sim.scenario import cloud_party, controller_party, expect, faults, light_check, world
from sim.scenario.expect import ExpectationKind
from sim.scenario.spec import Scenario, WorldKey
from sim.scenario.yaml_value import YamlValue


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
        world={**world.WORLD_KEYS, **controller_party.WORLD_KEYS},
        timeline={**faults.TELEMETRY_EVENTS, **faults.CONTROLLER_EVENTS, **cloud_party.CLOUD_EVENTS},
        expectations={**expect.EXPECTATIONS, **light_check.EXPECTATIONS, **cloud_party.EXPECTATIONS},
        checks=(controller_party.check, world.check_parties),
    )
