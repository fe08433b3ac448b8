"""The new timeline words are refused when they cannot happen, at load, with the file, the line and why; and a
wall-clock run refuses the faults its real parts cannot suffer before anything starts."""

from __future__ import annotations

import pytest

from hil.backends import backend_table
from sim.scenario.loader import check_backends, parse
from system.errors import ScenarioError

TELEMETRY = """\
name: refusals
start: 2026-03-14T08:00:00+01:00
duration: 1h
world: {nodes: 2}
timeline:
  - at: +1m
    EVENT
"""
CONTROLLER = """\
name: refusals with a controller
start: 2025-08-17T08:00:00+02:00
duration: 2h
world:
  nodes: 0
  controller:
    season: fixtures/seasons/kaagent-2025-26.toml
    cloud: {}
timeline:
  - at: +1m
    EVENT
"""


@pytest.mark.parametrize("event, line, words", [
    ("partition: {between: [node-1, bridge], for: 5m}", 7, "node-1 and bridge meet only through the broker"),
    ("partition: {between: [bridge], for: 5m}", 7, "a partition is between two parties"),
    ("partition: {between: [node-3, broker]}", 6, "no link 'node-3~broker' in this world"),
    ("brownout: {party: node-1, dips: 3, off_for: 2s, every: 1s}", 7, "each dip \\(off_for\\) must end before the next"),
    ("clock: {node: node-1, skew: 5m}", 7, "a skew needs 'for'"),
    ("clock: {node: node-1, jump: 5m, for: 1h}", 7, "a jump lasts until SNTP"),
    ("clock: {node: node-9, jump: -1h}", 6, "no node 'node-9' in this world"),
    ("adversary: {forge: node-7}", 6, "no party 'node-7' to attack in this world"),
    ("adversary: {forge: node-1, steal_client_id: bridge}", 7, "an adversary event names one act"),
    ("disk: {full: true}", 6, "this event needs a controller in the world"),
    ("link: {name: node-1~broker, duplicate: 2}", 7, "duplicate is a fraction between 0 and 1"),
    ("power: {party: cloud, off_for: 1m}", 6, "no party 'cloud' with a power control"),
    ("site: {retry_after: 5m}", 7, "retry_after goes with errors"),
])
def test_a_telemetry_world_refuses_what_cannot_happen_in_it(event, line, words):
    """A word's own mistake names the line of its key; what the world lacks names the event's line."""
    with pytest.raises(ScenarioError, match=f"bad.yaml:{line}: {words}"):
        parse(TELEMETRY.replace("EVENT", event), "bad.yaml")


@pytest.mark.parametrize("event, line, words", [
    ("cloud: {restore: lastnight}", 10, "no snapshot 'lastnight' taken earlier in the timeline"),
    ("fixture: {reinstate: \"KAA Gent - Royal Antwerp FC\"}", 10,
     "reinstate: 'KAA Gent - Royal Antwerp FC' is not cancelled earlier in the timeline"),
    ("site: {timeouts: true, retry_after: 5m}", 11, "retry_after goes with errors"),
])
def test_a_controller_world_refuses_a_restore_or_reinstatement_with_nothing_before_it(event, line, words):
    with pytest.raises(ScenarioError, match=f"bad.yaml:{line}: {words}"):
        parse(CONTROLLER.replace("EVENT", event), "bad.yaml")


def test_the_backup_every_cloud_has_is_the_store_as_provisioned():
    scenario = parse(CONTROLLER.replace("EVENT", "cloud: {restore: start}"), "ok.yaml")
    assert scenario.timeline[0].fault.name == "start"


@pytest.mark.parametrize("event, real, words", [
    ("link: {name: node-1~broker, jitter: 1s, duplicate: 0.1}", {}, "node-1~broker is a TCP fault proxy without "
                                                                   "duplication"),
    ("clock: {node: node-1, jump: -1h}", {"node-1": "virtual"}, "node-1 is a virtual board without a clock shift"),
    ("adversary: {forge: node-1}", {}, "adversary is a wall-clock run without an adversary device"),
    ("power: {party: bridge, off_for: 1m}", {}, "bridge is the Bridge on a live MQTT client without a power control"),
])
def test_a_wall_clock_run_refuses_at_load_what_its_real_parts_cannot_suffer(event, real, words):
    scenario = parse(TELEMETRY.replace("EVENT", event), "hil.yaml")
    with pytest.raises(ScenarioError, match=f"hil.yaml:6: {words}"):
        check_backends(scenario, backend_table(scenario, real, None))


@pytest.mark.parametrize("event", ["link: {name: node-1~broker, latency: 100ms, jitter: 1s, for: 5m}",
                                   "clog: {links: 2}", "partition: {between: [bridge, broker], for: 1m}",
                                   "broker: {restart: true, persistence: false, down_for: 5s}",
                                   "clock: {node: node-2, skew: 10m, for: 5m}"])
def test_a_wall_clock_run_takes_the_faults_its_proxies_broker_and_simulated_nodes_can_suffer(event):
    scenario = parse(TELEMETRY.replace("EVENT", event), "hil.yaml")
    check_backends(scenario, backend_table(scenario, {}, None))
