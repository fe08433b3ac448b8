"""The scenario stories of the fault vocabulary: each runs once, every verdict passes, and the faults did what
the story tells, read from the trace (where each thing is written when it happens) and from the world's state.

Expected values are the stories' own numbers (how many forgeries the adversary sends, when the power goes),
not anything the run computes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.scenario.loader import load
from sim.scenario.runner import run_scenario

STORIES = ("adversary-device", "bridge-broker-partition", "broker-restart-no-persistence",
           "cancelled-game-reinstated", "cloud-restored-from-backup", "controller-disk-full",
           "garbled-fixtures-page", "playoffs-same-club", "power-loss-during-alert", "reboots-during-broker-outage",
           "sntp-clock-backwards")
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def runs():
    return {name: run_scenario(load(ROOT / "scenarios" / f"{name}.yaml")) for name in STORIES}


@pytest.mark.parametrize("name", STORIES)
def test_every_story_passes_with_a_name_and_a_description(runs, name):
    run = runs[name]
    assert run.verdicts and all(v.ok for v in run.verdicts), [v for v in run.verdicts if not v.ok]
    assert "\n" not in run.scenario.name
    assert len((ROOT / "scenarios" / f"{name}.yaml").read_text().split("description: >")[1]) > 200


def test_each_new_fault_is_announced_once_in_the_trace_with_its_fields(runs):
    run = runs["bridge-broker-partition"]
    (partition,) = run.trace.of_kind("fault.partition")
    assert (partition["t"], partition["a"], partition["b"], partition["duration"]) == (900.0, "bridge", "broker", 1200.0)
    assert partition["link"] == "bridge~broker"
    (noise,) = run.trace.of_kind("fault.link_noise")
    assert (noise["t"], noise["link"], noise["jitter"], noise["duplicate"]) == (1200.0, "node-1~broker", 2.0, 0.1)
    downs = [r["t"] for r in run.trace.of_kind("link.down") if r["src"] == "bridge~broker"]
    ups = [r["t"] for r in run.trace.of_kind("link.up") if r["src"] == "bridge~broker"]
    assert (downs, ups) == ([900.0], [2100.0])


def test_the_adversary_is_refused_by_the_broker_and_the_bridge_and_shadows_no_reading(runs):
    """5 forgeries and 10 pre-sent readings, each sent twice (the victim's topic, her own); 3 poisoned documents
    on two Jobs topics each; 3 takeovers of the bridge's client id."""
    run = runs["adversary-device"]
    refused = run.trace.of_kind("publish.refused")
    assert len(refused) == 5 + 10 + 3 * 2
    assert {r["client"] for r in refused} == {"mallory"}
    assert {r["topic"] for r in refused} >= {"sensors/node-2/reading", "sensors/node-1/reading",
                                             "$aws/things/controller/jobs/notify-next"}
    bridge_refused = run.trace.of_kind("reading.refused")
    assert len(bridge_refused) == 15 and {r["reason"] for r in bridge_refused} == {"node_mismatch"}
    takeovers = run.trace.of_kind("client.refused")
    assert [(r["client"], r["account"], r["reason"]) for r in takeovers] == [("bridge", "mallory", "not_yours")] * 3
    assert not [r for r in run.trace.of_kind("bridge.session_lost")]
    assert run.world.readings.sequences("node-1")[:10] == list(range(1, 11))  # node-1's own first readings


def test_a_broker_without_persistence_starts_empty(runs):
    run = runs["broker-restart-no-persistence"]
    (forgot,) = run.trace.of_kind("broker.forgot")
    assert forgot["t"] == 1200.0 and forgot["sessions"] == 4  # three nodes and the bridge
    assert forgot["retained"] == 3  # each node's retained status
    presence = [r["session_present"] for r in run.trace.of_kind("bridge.connected")]
    assert presence == [False, False]  # at the start, and after the restart: nothing to resume


def test_sntp_sets_the_clock_back_and_readings_carry_the_node_clock(runs):
    run = runs["sntp-clock-backwards"]
    (back,) = run.trace.of_kind("clock.set")
    assert (back["node"], back["by"], back["backwards"], back["t"]) == ("node-2", -600.0, True, 600.0 + 1800.0)
    start = run.scenario.start_epoch
    db = run.world.readings.db
    ts = [t for (t,) in db.execute("SELECT ts FROM readings WHERE node = 'node-2' ORDER BY seq")]
    back_at = start + 2400.0  # when SNTP set it back: later readings repeat times it had sent
    assert any(b < a for a, b in zip(ts, ts[1:]))
    assert max(ts) > back_at  # it ran ten minutes ahead before
    (node3,) = db.execute("SELECT min(ts) FROM readings WHERE node = 'node-3'").fetchone()
    assert node3 < start  # an hour behind after its jump at 08:15


def test_the_controller_survives_a_full_disk_and_its_light_follows_the_plan(runs):
    run = runs["controller-disk-full"]
    failed = run.trace.of_kind("store.failed")
    assert failed and all(3600.0 <= r["t"] < 3600.0 + 3 * 3600 for r in failed)
    assert {r["error"] for r in failed} == {"database or disk is full"}
    fired = {(r["alert"].rsplit("/", 1)[1], r["t"]) for r in run.trace.of_kind("alert.fired")}
    assert fired == {("12600", 3 * 3600.0), ("11700", 3 * 3600.0 + 900)}  # traced when they fired, once
    start = run.scenario.start_epoch
    log = {(e.alert_id.rsplit("/", 1)[1], e.outcome, e.settled - start)
           for e in run.world.controller.disk.alert_log() if e.event_key.startswith("KAA Gent|Royal Antwerp FC")}
    assert log == {("14400", "skipped:snoozed", 2 * 3600.0 + 2400), ("12600", "fired", 3 * 3600.0),
                   ("11700", "fired", 3 * 3600.0 + 900)}  # written once there was room, at their own times
    relay = [(r["kind"], r["t"]) for r in run.trace.of_kind("relay.on", "relay.off")]
    assert relay == [("relay.on", 3 * 3600.0), ("relay.off", 3 * 3600.0 + 600), ("relay.on", 3 * 3600.0 + 900),
                     ("relay.off", 3 * 3600.0 + 1500)]


def test_a_restored_cloud_store_goes_back_to_its_backup_and_is_resynced(runs):
    run = runs["cloud-restored-from-backup"]
    (restored,) = run.trace.of_kind("store.restored")
    (resync,) = run.trace.of_kind("sync.resynced")
    assert restored["t"] == 14 * 3600.0 and restored["t"] <= resync["t"] < restored["t"] + 300
    assert [r["title"] for r in run.trace.of_kind("event.created")] == ["Summer concert"]


def test_power_cut_during_an_alert_darkens_the_light_until_the_controller_is_back(runs):
    run = runs["power-loss-during-alert"]
    assert [r["t"] for r in run.trace.of_kind("power.lost")] == [3 * 3600.0 + 120, 4 * 3600.0, 4 * 3600.0 + 2,
                                                                 4 * 3600.0 + 4]
    assert len(run.trace.of_kind("fault.brownout")) == 1
