"""Hypothesis campaigns over the whole system (``sim/scenario/campaign.py``, ``hilsim campaign``): a broken
component is found, shrunk and written out as a scenario that fails the same way under ``hilsim run``; a bounded
campaign of 200 examples finds nothing on the shipped system."""

import re
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from hilsim.cli import main
from sim.scenario import campaign, fault_draws, loader
from system.adapters import reading_store
from system.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
TWO_NODES = ROOT / "tests" / "scenarios" / "two-nodes.yaml"
QUICKSTART = ROOT / "scenarios" / "quickstart.yaml"


@pytest.fixture
def bridge_forgets_boots(monkeypatch):
    """Test-only injection: the bridge's store keyed by (node, seq), so a rebooted node's readings, whose
    sequence starts again at 1, are dropped as duplicates. Only a power cut of a node (a reboot) reaches it."""
    broken = reading_store.SCHEMA.replace("ON readings(node, boot, seq)", "ON readings(node, seq)")
    assert broken != reading_store.SCHEMA
    monkeypatch.setattr(reading_store, "SCHEMA", broken)


def verdict_lines(output: str) -> list[str]:
    return [re.sub(r"\s+", " ", line) for line in re.findall(r"^\s*((?:PASS|FAIL)  \S+\s+measured .*)$", output, re.M)]


def test_a_broken_bridge_is_found_shrunk_and_fails_the_same_way_under_hilsim_run(bridge_forgets_boots, tmp_path):
    runner = CliRunner()
    found = runner.invoke(main, ["campaign", str(TWO_NODES), "--examples", "60", "--seed", "2", "--out",
                                 str(tmp_path), "--property", "heals_into_liveness", "-q"])
    assert found.exit_code == 1, found.output
    (path,) = tmp_path.glob("two-nodes-counterexample-*.yaml")
    assert f"{path}  breaks heals_into_liveness" in found.output and f"replay: hilsim run {path}" in found.output
    story = yaml.safe_load(path.read_text())
    drawn = story["timeline"]
    # shrunk to the one cause the injection has: a single node rebooting (a power cut or a brown-out), nothing else
    assert len(drawn) == 1 and set(drawn[0]) in ({"at", "power"}, {"at", "brownout"})
    assert next(v for k, v in drawn[0].items() if k != "at")["party"].startswith("node-")
    assert story["seed"] == 3 and story["world"] == {"nodes": 2, "sample_every": "30s", "read_every": "30s"}  # the base world, its seed
    failed = [line for line in verdict_lines(found.output) if line.startswith("FAIL")]
    assert failed and failed[0].startswith("FAIL readings_lost")
    replay = runner.invoke(main, ["run", str(path), "--hash-only", "--out", str(tmp_path / "replay")])
    assert replay.exit_code == 1, replay.output
    assert [line for line in verdict_lines(replay.output) if line.startswith("FAIL")] == failed


@pytest.mark.slow
def test_a_bounded_campaign_of_200_examples_finds_nothing_on_the_shipped_system(tmp_path):
    started = time.perf_counter()
    report = campaign.run_campaign(TWO_NODES, examples=200, seed=19, out=tmp_path)
    print(f"\ncampaign: 200 examples of 2 nodes x 1 h in {time.perf_counter() - started:.1f} s")
    assert [(f.path.name, [v.measured for v in f.verdicts]) for f in report.failures] == []
    assert report.runs == 200 and not list(tmp_path.iterdir())
    # every kind of fault a telemetry world (nodes, broker, bridge; no controller) can suffer was drawn
    assert set(report.kinds_reached) == {"link", "broker", "sensor", "power", "brownout", "wifi", "clock",
                                         "partition", "clog", "adversary"}
    assert report.properties_checked["no_reading_stored_twice"] == 200
    assert "light_follows_alerts" not in report.properties_checked  # no controller in this world


def test_the_story_keeps_the_base_file_and_appends_the_drawn_events():
    text = QUICKSTART.read_text()
    drawn = [{"at": "+61s", "power": {"party": "node-1", "off_for": "20s"}}]
    story = loader.parse(campaign.story_text(text, drawn, [{"readings_duplicated": 0}], "found here"), str(QUICKSTART))
    base = loader.load(QUICKSTART)
    # the base's events unchanged (08:20 is still a time of day, not YAML 1.1's sexagesimal 500), the drawn first
    assert [(e.at, e.fault) for e in story.timeline] == [(61.0, story.timeline[0].fault)] + [
        (e.at, e.fault) for e in base.timeline]
    assert [e.at for e in base.timeline] == [1200.0, 2400.0, 2700.0]
    assert [e.kind for e in story.expect] == ["readings_duplicated"]
    assert (story.name, story.seed, story.start, story.world) == (base.name, base.seed, base.start, base.world)


@pytest.mark.parametrize("event, healed", [
    ({"at": "+90s", "link": {"name": "node-1~broker", "down_for": "5m"}}, 390.0),
    ({"at": "+2m", "broker": {"restart": True, "down_for": "30s"}}, 150.0),
    ({"at": "08:10", "sensor": {"node": "node-1", "fault": "stuck", "for": "1h"}}, 4200.0),
    ({"at": "+0s", "power": {"party": "node-2", "off_for": "20s"}}, 20.0),
    ({"at": "+10s", "broker": {"restart": True}}, 10.0),
    ({"at": "+10s", "link": {"name": "node-1~broker", "down": True}}, float("inf")),  # never comes back
])
def test_a_drawn_fault_heals_at_its_time_plus_its_longest_duration(event, healed):
    assert campaign.heal_time(event, loader.load(QUICKSTART).start) == healed


def test_swarm_schedules_are_drawn_from_the_seed_after_the_warm_up_and_before_the_quiet_end():
    base = loader.load(TWO_NODES)
    window = campaign.fault_window(base)
    schedules = campaign.swarm(fault_draws.draws(window))
    first = [campaign.from_window(campaign.draw_schedule(schedules, seed), window) for seed in range(30)]
    assert first == [campaign.from_window(campaign.draw_schedule(schedules, seed), window) for seed in range(30)]
    assert len({repr(s) for s in first}) == 30
    starts = [loader.parse(campaign.story_text(TWO_NODES.read_text(), s, []), str(TWO_NODES)).timeline
              for s in first]
    assert all(60.0 <= e.at <= 3600 - 600 for timeline in starts for e in timeline)
    assert {len({campaign.event_kind(e) for e in s}) for s in first} > {1}  # some examples mix kinds...
    assert any(len({campaign.event_kind(e) for e in s}) == 1 and len(s) > 1 for s in first)  # ...some do not


def test_an_unknown_property_is_refused_with_the_known_ones():
    with pytest.raises(ConfigError, match="unknown property 'no_fun'; properties: no_reading_lost, "):
        campaign.check_properties(["no_reading_lost", "no_fun"])


def test_the_base_scenarios_own_faults_heal_too():
    events = campaign.base_events(QUICKSTART.read_text())
    start = loader.load(QUICKSTART).start
    # 08:20 + 5 min, 08:40 + 30 s, 08:45 + 5 min, from 08:00
    assert [campaign.heal_time(e, start) for e in events] == [1500.0, 2430.0, 3000.0]


def test_each_world_is_judged_by_the_properties_it_has_the_parts_for():
    telemetry, controller = loader.load(TWO_NODES), loader.load(ROOT / "scenarios" / "offline-snooze.yaml")

    def judged(scenario, heal):
        entries, owners = campaign.expectations_for(campaign.Plan(scenario, heal), campaign.PROPERTIES,
                                                    loader.default_vocabulary().expectations)
        return list(zip(owners, entries))

    assert judged(telemetry, 600.0) == [
        ("no_reading_lost", {"readings_lost": {"max": 0, "settle": "3000s"}}),
        ("no_reading_stored_twice", {"readings_duplicated": 0}),
        ("heals_into_liveness", {"readings_lost": {"max": 0, "settle": "300s"}})]
    # healed too late to see the flow come back (3400 s of 3600): only what needs no heal is judged
    assert judged(telemetry, 3400.0) == [("no_reading_stored_twice", {"readings_duplicated": 0})]
    # the controller with its cloud (sync every 5 min, checked every minute): 2 x 300 + 2 x 60 s to converge
    assert judged(controller, 28800.0) == [
        ("light_follows_alerts", {"light_follows_schedule": True}), ("no_alert_twice", {"alerts_fired_once": True}),
        ("cloud_converges", {"cloud_in_sync": {"within": "720s", "after": "+28800s"}}),
        ("no_job_twice", {"jobs_executed_once": True})]


def test_a_base_scenario_that_breaks_a_property_by_itself_is_reported_without_a_search(bridge_forgets_boots,
                                                                                     tmp_path):
    base = tmp_path / "reboot.yaml"
    base.write_text(TWO_NODES.read_text() + "timeline:\n  - at: +10m\n    power: {party: node-1, off_for: 20s}\n")
    report = campaign.run_campaign(base, examples=50, seed=1, out=tmp_path / "out")
    assert report.base_fails and report.runs == 1 and not report.kinds_reached
    (failure,) = report.failures
    assert failure.events == 0 and "heals_into_liveness" in failure.properties
    assert failure.path == tmp_path / "out" / "reboot-counterexample-1.yaml"
