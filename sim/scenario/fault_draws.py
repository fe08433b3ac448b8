"""Hypothesis strategies for timeline events: one strategy per fault kind, over the parties of one world.

Each strategy draws one timeline event in the shape a scenario file writes it (plain data, ready for YAML),
so a drawn schedule is a ``timeline:`` a user can read, edit and run::

    {"at": "+35m", "link": {"name": "node-2~broker", "down_for": "5m"}}

Times are whole seconds after the start (``+2100s``), durations whole seconds (``300s``); every drawn
fault heals by itself (a duration, never ``down: true``), so a campaign can ask what holds after the last
one healed. :mod:`sim.scenario.campaign` combines these per kind (swarm testing: which kinds, then a
schedule of them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from sim.scenario.loader import link_names, node_names

SENSOR_KINDS = ("stuck", "spike", "drift", "timeout", "checksum", "disconnected")


@dataclass(frozen=True)
class WorldInfo:
    """What a strategy may name in one world: its nodes, links and parties, its start and length (s)."""

    nodes: tuple[str, ...]
    links: tuple[str, ...]
    parties: tuple[str, ...]
    start: datetime
    duration: float

    @classmethod
    def from_scenario(cls, scenario: Any) -> "WorldInfo":
        """The world of a loaded :class:`~sim.scenario.spec.Scenario`."""
        world = scenario.world
        nodes = tuple(node_names(world))
        parties = nodes + ("broker", "bridge")
        if world.get("controller") is not None:
            parties += ("controller", "club-site", "internet")
            if world["controller"].cloud is not None:
                parties += ("cloud",)
        return cls(nodes, tuple(link_names(world)), parties, scenario.start, scenario.duration)


def _seconds(lo: int, hi: int) -> SearchStrategy[str]:
    return st.integers(lo, hi).map(lambda s: f"{s}s")


def _at(world: WorldInfo) -> SearchStrategy[str]:
    return st.integers(0, max(0, int(world.duration) - 1)).map(lambda s: f"+{s}s")


def _event(world: WorldInfo, key: str, body: SearchStrategy[dict]) -> SearchStrategy[dict]:
    return st.tuples(_at(world), body).map(lambda pair: {"at": pair[0], key: pair[1]})


def draws(world: WorldInfo) -> dict[str, SearchStrategy[dict]]:
    """Fault kind -> a strategy of one timeline event of that kind, for the kinds this world can suffer."""
    found: dict[str, SearchStrategy[dict]] = {}
    links = [name for name in world.links if name.endswith("~broker")]
    if links:
        down = st.fixed_dictionaries({"name": st.sampled_from(links), "down_for": _seconds(5, 1200)})
        found["link"] = _event(world, "link", down)
    if "broker" in world.parties:
        found["broker"] = _event(world, "broker", st.fixed_dictionaries(
            {"restart": st.just(True), "down_for": _seconds(0, 120)}))
    if world.nodes:
        found["sensor"] = _event(world, "sensor", st.fixed_dictionaries(
            {"node": st.sampled_from(world.nodes), "fault": st.sampled_from(SENSOR_KINDS),
             "for": _seconds(30, 1800)}))
    powered = list(world.nodes) + (["controller"] if "controller" in world.parties else [])
    if powered:
        found["power"] = _event(world, "power", st.fixed_dictionaries(
            {"party": st.sampled_from(powered), "off_for": _seconds(1, 600)}))
    if "internet" in world.parties:
        found["internet"] = _event(world, "internet", st.fixed_dictionaries({"down_for": _seconds(60, 3 * 3600)}))
    return found
