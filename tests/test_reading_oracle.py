"""The readings oracle (``sim/scenario/reading_check.py``): samples counted by the sensor's own frame
numbers and matched to the store by values and time, so a bridge that keys readings wrongly cannot
hide a loss; a node's power cut in a scenario loses nothing (``scenarios/node-reboots.yaml``)."""

import pytest

from sim.models.sample_ledger import Sample
from sim.scenario.loader import load, parse
from sim.scenario.reading_check import Tally, match_node
from sim.scenario.runner import run_scenario
from system.adapters import reading_store

NODE_REBOOTS = "scenarios/node-reboots.yaml"
CUTS = (605.0, 2405.0)  # 08:10:05 and 08:40:05 on a run that starts at 08:00
OFF_FOR = 20.0


def verdicts(run):
    return {v.name: (v.ok, v.measured) for v in run.verdicts}


@pytest.fixture(scope="module")
def reboots(scenario_run):
    return scenario_run(NODE_REBOOTS)  # the plugin's item for the file reports its verdicts from this run


def test_a_node_that_loses_power_twice_loses_nothing(reboots):
    """The issue's done-when, counted from what the sensors sampled: every expectation holds."""
    assert all(ok for ok, _ in verdicts(reboots).values()), verdicts(reboots)
    assert [(r["t"], r["boot"]) for r in reboots.trace.of_kind("power.on")] == [
        (0.0, 1), (CUTS[0] + OFF_FOR, 2), (CUTS[1] + OFF_FOR, 3)]
    assert reboots.world.powers.keys() == {"node-2"}  # only the node the timeline cuts has a power switch
    # node-2 sampled nothing while off, and its second and third boots start again at seq 1
    sampled = [r for r in reboots.trace.of_kind("reading.sampled") if r["node"] == "node-2"]
    assert not [r for r in sampled if any(cut < r["t"] < cut + OFF_FOR for cut in CUTS)]
    assert [r["seq"] for r in sampled if r["boot"] == 2][:3] == [1, 2, 3]
    # each sample the ledger holds is a reading the firmware traced, and every one of them is stored
    assert len(reboots.world.ledgers["node-2"]) == len(sampled)
    assert reboots.world.readings.count("node-2") == len(sampled)


def test_a_bridge_keyed_by_node_and_seq_fails_readings_lost(monkeypatch):
    """A store whose identity forgets the boot drops node-2's readings after each reboot as duplicates.
    The oracle counts them lost: exactly the post-reboot samples whose seq an earlier boot had used."""
    broken = reading_store.SCHEMA.replace("ON readings(node, boot, seq)", "ON readings(node, seq)")
    assert broken != reading_store.SCHEMA
    monkeypatch.setattr(reading_store, "SCHEMA", broken)
    run = run_scenario(load(NODE_REBOOTS))
    horizon = run.duration - 60.0
    sampled = [r for r in run.trace.of_kind("reading.sampled") if r["node"] == "node-2"]
    highest: dict[int, int] = {}
    for r in sampled:
        highest[r["boot"]] = max(highest.get(r["boot"], 0), r["seq"])
    shadowed = [r for r in sampled if r["t"] <= horizon
                and r["seq"] <= max([highest[b] for b in highest if b < r["boot"]], default=0)]
    assert len(shadowed) > 50
    ok, measured = verdicts(run)["readings_lost"]
    assert not ok and measured.startswith(f"{len(shadowed)} of ")
    # an oracle keyed like the broken bridge, by (node, seq), would have seen nothing lost
    by_seq = {(r["node"], r["seq"]) for r in run.trace.of_kind("reading.sampled") if r["t"] <= horizon}
    assert by_seq <= {(r["node"], r["seq"]) for r in run.trace.of_kind("reading.stored")}


OUTAGE_THEN_CUT = """\
name: node-2 cut off, then its power cut with its buffer full
start: 2026-03-14T08:00:00+01:00
duration: 30m
world: {nodes: 2, sample_every: 10s}
timeline:
  - at: 2026-03-14T08:10:03+01:00
    link: {name: node-2~broker, down_for: 10m}
  - at: 2026-03-14T08:13:03+01:00
    power: {party: node-2, off_for: 20s}
expect:
  - readings_lost: 0
  - readings_lost_in_node: 0
"""


def test_readings_in_ram_at_a_power_cut_are_the_nodes_loss_reported_apart():
    """node-2 samples at 610, 620, ... 780 s while its link is down (08:10:03 to 08:20:03): 18 readings
    in its buffer when the power goes at 783 s. They are lost in the node, not by the system.
    Sampled up to the horizon (30 min less the minute to settle, 1740 s): node-1 at 10..1740 s (174),
    node-2 at 10..780 s (78) and, booted again at 803 s, at 813..1733 s (93): 345."""
    run = run_scenario(parse(OUTAGE_THEN_CUT, "cut.yaml"))
    found = verdicts(run)
    assert found["readings_lost"] == (True, "0 of 345 (18 more lost in a node's RAM at a power cut)")
    assert found["readings_lost_in_node"] == (False, "18 of 345")


def s(i, t, h10=450, t10=210, in_ram=False):
    return Sample(i, t, h10, t10, in_ram)


@pytest.mark.parametrize("samples, rows, expected", [
    # one sample, one row received after it was made: stored
    ([s(1, 10.0)], [(10.5, 450, 210)], Tally(1, 0, 0, 0)),
    # a row with other values stands for nothing: the sample is lost, the row surplus
    ([s(1, 10.0)], [(10.5, 451, 210)], Tally(1, 1, 0, 1)),
    # a row received before the sample was made cannot be it (a reboot's repeated values)
    ([s(1, 10.0), s(2, 50.0)], [(10.5, 450, 210)], Tally(2, 1, 0, 0)),
    # two samples of equal values, two rows, each received after its sample: both stored
    ([s(1, 10.0), s(2, 50.0)], [(10.5, 450, 210), (50.5, 450, 210)], Tally(2, 0, 0, 0)),
    # one row stored twice: surplus
    ([s(1, 10.0)], [(10.5, 450, 210), (11.0, 450, 210)], Tally(1, 0, 0, 1)),
    # unstored and in RAM at a cut: the node's loss
    ([s(1, 10.0), s(2, 20.0, t10=211, in_ram=True)], [(10.5, 450, 210)], Tally(2, 0, 1, 0)),
    # made after the horizon (100 s): neither sampled nor lost, but its row is no surplus
    ([s(1, 10.0), s(2, 120.0, t10=212)], [(10.5, 450, 210), (121.0, 450, 212)], Tally(1, 0, 0, 0)),
    ([s(1, 10.0), s(2, 120.0, t10=212)], [(10.5, 450, 210)], Tally(1, 0, 0, 0)),
])
def test_matching_by_values_and_time(samples, rows, expected):
    assert match_node(samples, rows, horizon=100.0) == expected
