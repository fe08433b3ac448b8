"""The cloud in the simulated world (``sim/scenario/cloud_party.py``): the same app, store and services as live, the
controller's HTTP through the ASGI transport over its internet link, its jobs through the broker model.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.scenario.loader import load, parse
from sim.scenario.runner import run_scenario
from system.errors import ScenarioError

ROOT = Path(__file__).resolve().parent.parent
HEAD = """\
name: {name}
seed: 3
start: 2025-08-17T08:00:00+02:00
duration: {duration}
world:
  nodes: 0
  controller:
    season: fixtures/seasons/kaagent-2025-26.toml
    cloud: {{sync_every: 5m, poll_every: 30s, heartbeat_period: 5m}}
"""


def scenario(timeline: str, expect: str, *, duration: str = "14h", name: str = "cloud test"):
    return parse(HEAD.format(name=name, duration=duration) + "timeline:\n" + timeline + "expect:\n" + expect,
                 file=str(ROOT / "scenarios" / "test.yaml"))


def verdicts(result) -> dict:
    return {f"{v.name}@{v.line}": (v.ok, v.measured) for v in result.verdicts}


def test_offline_snooze_scenario_passes_and_is_deterministic(scenario_run):
    loaded = load(ROOT / "scenarios" / "offline-snooze.yaml")
    first, again = scenario_run(ROOT / "scenarios" / "offline-snooze.yaml"), run_scenario(loaded)
    assert first.ok, verdicts(first)
    assert first.sha256 == again.sha256
    kinds = [(r["kind"], r["src"]) for r in first.trace.records]
    queued = kinds.index(("job.queued", "cloud"))
    back = kinds.index(("link.up", "controller~internet"))
    ran = kinds.index(("job.received", "controller"))
    assert queued < back < ran  # queued while offline, run after the reconnection


def test_cloud_outage_and_lost_mirror_are_recovered_by_sync():
    result = run_scenario(scenario("""\
  - at: "09:00"
    cloud: {down_for: 1h}
  - at: "09:30"
    user: {create_event: "Party", start: "2025-08-18T20:00:00+02:00"}
  - at: "10:30"
    user: {create_event: "Concert", start: "2025-08-18T20:00:00+02:00"}
  - at: "11:00"
    cloud: {lose_mirror: true}
""", """\
  - job_state: {job: 1, state: SUCCEEDED}
  - cloud_in_sync: {within: 10m, after: "10:00"}
  - cloud_in_sync: {within: 10m, after: "11:00"}
  - jobs_executed_once: true
"""))
    assert result.ok, verdicts(result)
    # the user could not reach the cloud while it was down: refused, not lost silently
    assert [r["reason"] for r in result.trace.of_kind("user.refused")] == ["cloud: ConnectError"]
    assert result.trace.of_kind("sync.resynced") and result.trace.of_kind("mirror.lost")


def test_a_power_cut_as_a_job_arrives_runs_it_once_after_the_reboot():
    """The reboot lights the alert that is due (the store knows no snooze yet) until the job, a few seconds
    later, snoozes it: the light is dark before the cut and from the job on."""
    result = run_scenario(scenario("""\
  - at: "09:00"
    user: {create_event: "Concert", start: "2025-08-17T20:00:00+02:00"}
  - at: "15:55"
    power: {party: controller, off_for: 10m}
  - at: "15:55"
    user: {snooze: "Concert"}
""", """\
  - job_state: {job: 1, state: SUCCEEDED}
  - job_state: {job: 2, state: SUCCEEDED}
  - jobs_executed_once: true
  - light_off: {from: "15:55", until: "16:05"}
  - light_off: {from: "16:06", until: "16:30"}
  - light_on: {from: "16:30", until: "16:40"}
"""))
    assert result.ok, verdicts(result)


def test_update_application_restarts_into_the_new_version_and_a_bad_hash_fails():
    result = run_scenario(scenario("""\
  - at: "09:00"
    user: {update_application: "0.2.0", bad_hash: true}
  - at: "10:00"
    user: {update_application: "0.2.0"}
""", """\
  - job_state: {job: 1, state: FAILED}
  - job_state: {job: 2, state: SUCCEEDED}
  - jobs_executed_once: true
"""))
    assert result.ok, verdicts(result)
    assert [r["version"] for r in result.trace.of_kind("controller.restarted")] == ["0.2.0"]
    succeeded = [r for r in result.trace.of_kind("job.updated") if r["status"] == "SUCCEEDED"]
    assert succeeded and result.trace.of_kind("ota.installed")[0]["running"] != "0.2.0"


def test_an_update_signed_by_another_key_fails_and_the_controller_keeps_its_version():
    result = run_scenario(scenario("""\
  - at: "09:00"
    user: {update_application: "0.2.0", bad_signature: true}
  - at: "10:00"
    user: {update_application: "0.3.0"}
""", """\
  - job_state: {job: 1, state: FAILED}
  - job_state: {job: 2, state: SUCCEEDED}
  - jobs_executed_once: true
"""))
    assert result.ok, verdicts(result)
    failed = result.trace.of_kind("ota.failed")
    assert [(r["reason"]) for r in failed] == ["bad_signature"]
    assert [r["version"] for r in result.trace.of_kind("ota.installed")] == ["0.3.0"]
    assert [r["version"] for r in result.trace.of_kind("controller.restarted")] == ["0.3.0"]


def test_bad_signature_goes_with_update_application():
    with pytest.raises(ScenarioError, match="bad_signature goes with update_application"):
        scenario('  - at: "09:00"\n    user: {snooze: "KAA Gent - Royal Antwerp FC", bad_signature: true}\n', "")


def test_a_user_adds_an_alert_then_moves_it_through_the_dashboard():
    result = run_scenario(scenario("""\
  - at: "09:00"
    user: {add_alert: "KAA Gent - Royal Antwerp FC", before: 6h, for: 10m}
  - at: "10:00"
    user: {update_alert: "KAA Gent - Royal Antwerp FC", before: 5h, for: 20m}
""", """\
  - job_state: {job: 1, state: SUCCEEDED}
  - job_state: {job: 2, state: SUCCEEDED}
  - light_off: {from: "14:29", until: "15:29"}
  - light_on: {from: "15:30", until: "15:50"}
"""))
    assert result.ok, verdicts(result)


@pytest.mark.parametrize("timeline, message", [
    ('  - at: "09:00"\n    cloud: {down_for: 1h}\n', "needs a cloud"),
    ('  - at: "09:00"\n    user: {update_application: "1.0"}\n', "needs a cloud"),
])
def test_cloud_events_need_a_cloud(timeline, message):
    text = (HEAD.format(name="x", duration="1h").replace("    cloud: {sync_every: 5m, poll_every: 30s, "
                                                        "heartbeat_period: 5m}\n", "")
            + "timeline:\n" + timeline)
    with pytest.raises(ScenarioError, match=message):
        parse(text, file=str(ROOT / "scenarios" / "test.yaml"))


# -- the convergence property over random interleavings ----------------------------------------------------

HOURS = ("09:00", "10:00", "11:00", "12:00", "13:00", "14:00", "15:00", "16:00", "16:35", "17:05")
steps = st.lists(st.tuples(st.sampled_from(HOURS), st.sampled_from([
    'internet: {down_for: 40m}',
    'cloud: {down_for: 30m}',
    'cloud: {lose_mirror: true}',
    'power: {party: controller, off_for: 20m}',
    'user: {snooze: "KAA Gent - Royal Antwerp FC"}',
    'user: {create_event: "Concert", start: "2025-08-18T20:00:00+02:00"}',
    'user: {add_alert: "KAA Gent - Royal Antwerp FC", before: 2h}',
    'fixture: {reschedule: "KAA Gent - Royal Antwerp FC", kickoff: "2025-08-17T21:00:00+02:00"}',
    'broker: {restart: true, down_for: 5m}',
])), min_size=1, max_size=8)


@pytest.mark.slow
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(steps)
def test_property_the_mirror_converges_and_no_job_runs_twice(plan):
    """Over random interleavings of device changes, user jobs, link outages, cloud restarts, lost mirrors
    and power cuts, the mirror equals the store by an hour after the last event, and no job runs twice."""
    timeline = "".join(f'  - at: "{at}"\n    {event}\n' for at, event in sorted(plan, key=lambda p: p[0]))
    result = run_scenario(scenario(timeline, """\
  - cloud_in_sync: {within: 1h, after: "18:00"}
  - jobs_executed_once: true
  - alerts_fired_once: true
""", duration="20h"))
    assert result.ok, (timeline, verdicts(result))
