"""Hypothesis draws of every fault kind: one timeline event, as the YAML-shaped dict a scenario file holds.

:func:`draws` gives, for a world (:class:`WorldInfo`, read from a loaded scenario), a strategy per fault
kind whose events are valid there: they name its nodes, links and parties, fall inside its run (``at`` as
an offset like ``+35m``), and load through the real parser (:mod:`sim.scenario.faults`). A campaign joins
them into schedules (swarm testing: first which kinds, then the events). For example::

    info = WorldInfo.from_scenario(load("scenarios/quickstart.yaml"))
    event = draws(info)["partition"].example()   # {"at": "+12m", "partition": {"between": [...], "for": "4m"}}

A kind is left out where the world cannot have it (no sensor faults without nodes, no club site without a
controller, no cloud faults without a cloud). Every fault kind of the vocabulary has a draw here; the
test ``tests/test_faults_draws.py`` checks each one loads and runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from sim.models.club_pages import GARBLES, LAYOUTS
from sim.models.club_season import load_season
from sim.scenario.faults import ACTS, SENSOR_FAULTS
from sim.scenario.loader import link_names, node_names, powered_parties
from sim.scenario.spec import Scenario


@dataclass(frozen=True)
class WorldInfo:
    """What a draw needs to know of a world: its nodes, links, parties, start and duration, and (with a
    controller) the games on the club's page and whether it has a cloud."""

    nodes: tuple[str, ...]
    links: tuple[str, ...]
    parties: tuple[str, ...]
    start: datetime
    duration: float
    powered: tuple[str, ...] = ()
    games: tuple[str, ...] = ()
    cloud: bool = False

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> "WorldInfo":
        world = scenario.world
        controller = world.get("controller")
        parties = node_names(world) + ["broker", "bridge"]
        games: tuple[str, ...] = ()
        if controller is not None:
            parties += ["controller", "club-site"] + (["cloud"] if controller.cloud is not None else [])
            games = tuple(sorted({g.title for g in load_season(controller.season)}))
        return cls(tuple(node_names(world)), tuple(link_names(world)), tuple(parties), scenario.start,
                   scenario.duration, tuple(powered_parties(world)), games,
                   controller is not None and controller.cloud is not None)

    @property
    def controller(self) -> bool:
        return "controller" in self.parties


def _seconds(lo: int, hi: int) -> SearchStrategy[str]:
    return st.integers(lo, hi).map(lambda s: f"{s}s")


def _minutes(lo: int, hi: int) -> SearchStrategy[str]:
    return st.integers(lo, hi).map(lambda m: f"{m}m")


def _event(world: WorldInfo, key: str, body: SearchStrategy[dict]) -> SearchStrategy[dict]:
    """``{"at": "+Nm", key: body}`` at a whole minute inside the run (the last minute left free)."""
    last = max(0, int(world.duration // 60) - 1)
    return st.builds(lambda m, b: {"at": f"+{m}m", key: b}, st.integers(0, last), body)


def _fraction() -> SearchStrategy[float]:
    return st.integers(0, 20).map(lambda n: n / 100)


def _link_draws(world: WorldInfo) -> dict[str, SearchStrategy[dict]]:
    links = st.sampled_from(world.links)
    pairs = [[name.split("~")[0], "broker"] for name in world.links if name.endswith("~broker")]
    if world.controller:
        pairs.append(["controller", "club-site"])
    found = {
        "link_down": _event(world, "link", st.fixed_dictionaries({"name": links, "down_for": _minutes(1, 20)})),
        "link_degraded": _event(world, "link", st.fixed_dictionaries(
            {"name": links, "latency": st.sampled_from(["50ms", "500ms", "2s"]), "for": _minutes(1, 20)},
            optional={"loss": _fraction()})),
        "link_noise": _event(world, "link", st.fixed_dictionaries(
            {"name": links, "jitter": st.sampled_from(["100ms", "1s", "5s"]), "duplicate": _fraction(),
             "for": _minutes(1, 20)}, optional={"latency": st.sampled_from(["10ms", "200ms"]), "loss": _fraction()})),
        "partition": _event(world, "partition", st.fixed_dictionaries(
            {"between": st.sampled_from(pairs), "for": _minutes(1, 20)})),
        "clog": _event(world, "clog", st.fixed_dictionaries(
            {"links": st.integers(1, max(1, len(world.links))), "step": _seconds(1, 30), "hold": _seconds(5, 300)})),
        "broker_restart": _event(world, "broker", st.fixed_dictionaries(
            {"restart": st.just(True), "down_for": _seconds(0, 120)})),
        "broker_wipe": _event(world, "broker", st.fixed_dictionaries(
            {"restart": st.just(True), "persistence": st.just(False), "down_for": _seconds(0, 120)})),
        "power": _event(world, "power", st.fixed_dictionaries(
            {"party": st.sampled_from(world.powered), "off_for": _seconds(1, 600)})),
        "brownout": _event(world, "brownout", st.fixed_dictionaries(
            {"party": st.sampled_from(world.powered), "dips": st.integers(1, 5),
             "off_for": st.sampled_from(["100ms", "300ms"]), "every": st.sampled_from(["1s", "2s"])})),
        "adversary": _event(world, "adversary", st.sampled_from(ACTS).flatmap(lambda act: st.fixed_dictionaries(
            {act: st.sampled_from([p for p in world.parties if p not in ("club-site", "cloud")]),
             "count": st.integers(1, 5)}))),
    }
    return found


def _node_draws(world: WorldInfo) -> dict[str, SearchStrategy[dict]]:
    nodes = st.sampled_from(world.nodes)
    shift = st.builds(lambda sign, m: f"{sign}{m}m", st.sampled_from(["", "-"]), st.integers(1, 120))
    return {
        "sensor": _event(world, "sensor", st.fixed_dictionaries(
            {"node": nodes, "fault": st.sampled_from(SENSOR_FAULTS), "for": _minutes(1, 30)},
            optional={"rate": st.integers(1, 10).map(lambda n: n / 10)})),
        "wifi_weak": _event(world, "wifi", st.fixed_dictionaries(
            {"node": nodes, "rssi": st.integers(-100, -60), "for": _minutes(1, 30)})),
        "wifi_drop": _event(world, "wifi", st.fixed_dictionaries({"node": nodes, "drop_for": _minutes(1, 20)})),
        "clock_jump": _event(world, "clock", st.fixed_dictionaries({"node": nodes, "jump": shift})),
        "clock_skew": _event(world, "clock", st.fixed_dictionaries(
            {"node": nodes, "skew": shift, "for": _minutes(1, 60)})),
    }


def _kickoff(world: WorldInfo) -> SearchStrategy[str]:
    """A kickoff during or just after the run, in the start's UTC offset."""
    base = world.start.timestamp()
    return st.integers(0, int(world.duration) + 86_400).map(
        lambda s: datetime.fromtimestamp(base + s - s % 900, world.start.tzinfo).isoformat())


def _controller_draws(world: WorldInfo) -> dict[str, SearchStrategy[dict]]:
    games = st.sampled_from(world.games)
    found = {
        "internet": _event(world, "internet", st.fixed_dictionaries({"down_for": _minutes(1, 120)})),
        "fixture": _event(world, "fixture", st.one_of(
            st.fixed_dictionaries({"reschedule": games, "kickoff": _kickoff(world)}),
            st.fixed_dictionaries({"cancel": games}), st.fixed_dictionaries({"postpone": games}),
            st.fixed_dictionaries({"add": games, "kickoff": _kickoff(world), "competition": st.just("Play-offs")}))),
        "site": _event(world, "site", st.one_of(
            st.fixed_dictionaries({"errors": st.sampled_from([500, 503]), "for": _minutes(1, 180)}),
            st.fixed_dictionaries({"errors": st.just(429), "retry_after": _minutes(1, 120), "for": _minutes(1, 180)}),
            st.fixed_dictionaries({"timeouts": st.just(True), "for": _minutes(1, 180)}),
            st.fixed_dictionaries({"garble": st.sampled_from(GARBLES), "for": _minutes(1, 180)}),
            st.fixed_dictionaries({"layout": st.sampled_from(LAYOUTS)}))),
        "user": _event(world, "user", st.one_of(
            st.fixed_dictionaries({"snooze": games}, optional={"for": _minutes(1, 30),
                                                                "racing_scrape": st.booleans()}),
            st.fixed_dictionaries({"add_alert": games, "before": _minutes(10, 300)},
                                  optional={"for": _minutes(1, 30)}),
            st.fixed_dictionaries({"create_event": st.sampled_from(["Concert", "Open day"]),
                                   "start": _kickoff(world)}))),
        "disk_full": _event(world, "disk", st.fixed_dictionaries({"full": st.just(True), "for": _minutes(1, 240)})),
    }
    if world.cloud:
        found.update({
            "cloud_down": _event(world, "cloud", st.fixed_dictionaries({"down_for": _minutes(1, 120)})),
            "cloud_lose_mirror": _event(world, "cloud", st.just({"lose_mirror": True})),
            "cloud_lose_store": _event(world, "cloud", st.just({"lose_store": True})),
            "cloud_restore": _event(world, "cloud", st.just({"restore": "start"})),
            "cloud_snapshot": _event(world, "cloud", st.just({"snapshot": "nightly"})),
        })
    return found


def draws(world: WorldInfo) -> dict[str, SearchStrategy[dict[str, Any]]]:
    """Fault kind -> a strategy of one timeline event valid in ``world`` (see the module's docstring)."""
    found = _link_draws(world)
    if world.nodes:
        found.update(_node_draws(world))
    if world.controller:
        found.update(_controller_draws(world))
    return found
