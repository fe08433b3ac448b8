"""Hypothesis draws of every fault kind (sim/scenario/fault_draws.py): each drawn event loads through the real
parser, and a world with it runs to its end without an internal error."""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.scenario.fault_draws import WorldInfo, draws
from sim.scenario.loader import parse
from sim.scenario.runner import run_scenario

CONTROLLER_WORLD = """\
name: draws in a world with everything
seed: 1
start: 2025-08-17T15:00:00+02:00
duration: 1h
world:
  nodes: 2
  controller:
    season: fixtures/seasons/kaagent-2025-26.toml
    cloud: {}
"""
TELEMETRY_WORLD = """\
name: draws in a telemetry world
start: 2026-03-14T08:00:00+01:00
duration: 30m
world: {nodes: 3}
"""
# Every kind the vocabulary has (an independent list: a kind added without a draw fails the first test)
KINDS = {"adversary", "broker_restart", "broker_wipe", "brownout", "clock_jump", "clock_skew", "clog", "cloud_down",
         "cloud_lose_mirror", "cloud_lose_store", "cloud_restore", "cloud_snapshot", "disk_full", "fixture",
         "internet", "link_degraded", "link_down", "link_noise", "partition", "power", "sensor", "site", "user",
         "wifi_drop", "wifi_weak"}
BASE = {"controller": CONTROLLER_WORLD, "telemetry": TELEMETRY_WORLD}
INFO = {name: WorldInfo.from_scenario(parse(text, f"{name}.yaml")) for name, text in BASE.items()}
DRAWS = {name: draws(info) for name, info in INFO.items()}


def with_event(world: str, event: dict) -> str:
    return BASE[world] + yaml.safe_dump({"timeline": [event]}, sort_keys=False)


def test_every_timeline_word_has_a_draw_and_a_world_without_a_controller_draws_none_of_its_kinds():
    assert set(DRAWS["controller"]) == KINDS
    assert set(DRAWS["telemetry"]) == KINDS - {"cloud_down", "cloud_lose_mirror", "cloud_lose_store", "cloud_restore",
                                               "cloud_snapshot", "disk_full", "fixture", "internet", "site", "user"}
    info = INFO["telemetry"]
    assert info.nodes == ("node-1", "node-2", "node-3") and info.duration == 1800.0
    assert info.links == ("bridge~broker", "node-1~broker", "node-2~broker", "node-3~broker")


kind_and_world = st.sampled_from(sorted(BASE)).flatmap(
    lambda world: st.tuples(st.just(world), st.sampled_from(sorted(DRAWS[world]))))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_drawn_event_loads_at_its_time_inside_the_run(data):
    world, kind = data.draw(kind_and_world)
    event = data.draw(DRAWS[world][kind])
    scenario = parse(with_event(world, event), "drawn.yaml")
    (timed,) = scenario.timeline
    assert 0 <= timed.at < scenario.duration
    assert event["at"].startswith("+")


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_a_world_runs_any_drawn_fault_to_its_end(data):
    world, kind = data.draw(kind_and_world)
    event = data.draw(DRAWS[world][kind])
    scenario = parse(with_event(world, event), "drawn.yaml")
    result = run_scenario(scenario)  # an internal error in any party ends the run with it
    announced = getattr(scenario.timeline[0].fault, "trace_kind", None)
    if announced is not None:  # the new faults say so in the trace, once, when they happen
        assert result.trace.counts[announced] == 1
