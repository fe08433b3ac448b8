"""The match-day controller in the sim world: scenario events, the light, and the checker itself."""

import dataclasses

import pytest
from hypothesis import given, strategies as st

from sim.scenario.light_check import expected_intervals, light_intervals, merge, subtract
from sim.scenario.runner import run_scenario
from sim.scenario.loader import parse
from system.errors import ScenarioError

# The first home game of the sample season: KAA Gent - Club Brugge, 2 Aug 2025 20:45 (+02:00).
SHORT = """\
name: One home game, moved, through an outage and a power cut
start: 2025-07-30T00:00:00+02:00
duration: 6d
world:
  nodes: 0
  controller:
    season: fixtures/seasons/kaagent-2025-26.toml
timeline:
  - at: 2025-07-31T10:00:00+02:00
    fixture: {reschedule: "KAA Gent - Club Brugge", kickoff: "2025-08-03T18:00:00+02:00"}
  - at: 2025-08-02T12:00:00+02:00
    internet: {down_for: 1d}
  - at: 2025-08-03T14:35:00+02:00
    power: {party: controller, off_for: 15m}
expect:
  - light_follows_schedule: true
  - alerts_fired_once: true
  - light_off: {from: "2025-08-02T16:00:00+02:00", until: "2025-08-02T18:00:00+02:00"}
  - light_on: {from: "2025-08-03T14:00:00+02:00", until: "2025-08-03T14:10:00+02:00"}
  - light_on: {from: "2025-08-03T14:30:00+02:00", until: "2025-08-03T14:35:00+02:00"}
  - light_off: {from: "2025-08-03T14:35:00+02:00", until: "2025-08-03T14:50:00+02:00"}
  - light_on: {from: "2025-08-03T14:50:00+02:00", until: "2025-08-03T14:55:00+02:00"}
"""


@pytest.fixture(scope="module")
def short():
    return run_scenario(parse(SHORT, "short.yaml"))


def test_the_moved_game_lights_at_its_new_time_through_outage_and_power_cut(short):
    assert [(v.name, v.ok, v.measured) for v in short.verdicts if not v.ok] == []
    # 4h, 3h30 and 3h15 before 18:00 = 14:00, 14:30 (cut at 14:35 by the power loss) and 14:45
    # (power back at 14:50: the rest of that window still lights).
    day = 1754172000.0 - short.scenario.start_epoch  # 2025-08-03T00:00+02:00
    hours = [(round((lo - day) / 3600, 4), round((hi - day) / 3600, 4)) for lo, hi in light_intervals(short)]
    assert hours == [(14.0, round(14 + 10 / 60, 4)), (14.5, round(14 + 35 / 60, 4)),
                     (round(14 + 50 / 60, 4), round(14 + 55 / 60, 4))]


def test_the_checker_catches_a_missing_light(short):
    records = short.trace.records
    first_on = next(i for i, r in enumerate(records) if r["kind"] == "relay.on")
    tampered = dataclasses.replace(short)
    trace = type("T", (), {})()
    trace.records = records[:first_on] + records[first_on + 2:]  # drop one on/off pair
    trace.of_kind = lambda *kinds: [r for r in trace.records if r["kind"] in kinds]
    tampered.trace = trace
    assert light_intervals(tampered) != expected_intervals(short)
    from sim.scenario.light_check import light_follows_schedule

    ok, measured, expected = light_follows_schedule({"tolerance": 0.0}, tampered)
    assert not ok and "first difference" in measured


@given(st.lists(st.tuples(st.integers(0, 100), st.integers(0, 20)), max_size=12),
       st.lists(st.tuples(st.integers(0, 100), st.integers(0, 20)), max_size=4))
def test_merge_and_subtract_agree_with_a_point_model(spans, holes):
    intervals = [(a, a + n) for a, n in spans]
    cuts = [(a, a + n) for a, n in holes]
    result = subtract(merge(intervals), cuts)

    def lit(x):
        return any(lo <= x < hi for lo, hi in intervals) and not any(lo <= x < hi for lo, hi in cuts)

    assert all(b > a for a, b in result)
    assert all(result[i][1] < result[i + 1][0] for i in range(len(result) - 1))
    for x in [i + 0.5 for i in range(0, 125)]:
        assert lit(x) == any(lo <= x < hi for lo, hi in result)


SNOOZES = """\
name: A user snoozes the alarm twice
start: 2025-08-01T00:00:00+02:00
duration: 2d
world:
  nodes: 0
  controller:
    season: fixtures/seasons/kaagent-2025-26.toml
timeline:
  - at: 2025-08-02T16:48:00+02:00
    user: {snooze: "KAA Gent - Club Brugge", for: 3m}
  - at: 2025-08-02T17:18:00+02:00
    user: {snooze: "KAA Gent - Club Brugge"}
  - at: 2025-08-02T17:40:00+02:00
    user: {snooze: "KAA Gent - Club Brugge"}
expect:
  - light_follows_schedule: true
  - alerts_fired_once: true
"""


def test_snoozes_darken_the_lit_alert_and_the_checker_expects_exactly_that():
    """Kickoff 20:45: alerts 16:45, 17:15 and 17:30, ten minutes each. Snoozed for 3 minutes at 16:48
    (back on 16:51..16:55), for the rest of the window at 17:18, and refused at 17:40 (nothing lit)."""
    run = run_scenario(parse(SNOOZES, "snoozes.yaml"))
    assert [(v.name, v.ok, v.measured) for v in run.verdicts if not v.ok] == []
    day = 1754085600.0 - run.scenario.start_epoch  # 2025-08-02T00:00+02:00

    def minutes(intervals):
        return [(round((lo - day) / 60), round((hi - day) / 60)) for lo, hi in intervals]

    hm = lambda h, m: h * 60 + m  # noqa: E731
    windows = [(hm(16, 45), hm(16, 48)), (hm(16, 51), hm(16, 55)), (hm(17, 15), hm(17, 18)),
               (hm(17, 30), hm(17, 40))]
    assert minutes(light_intervals(run)) == minutes(expected_intervals(run)) == windows
    assert [r["until"] - 1754085600.0 for r in run.trace.of_kind("alert.snoozed")] == [hm(16, 51) * 60, hm(17, 25) * 60]
    (refused,) = run.trace.of_kind("user.refused")
    assert refused["reason"] == "no_alert_on"


@pytest.mark.parametrize("change, words", [
    (("    fixture: {reschedule: \"KAA Gent - Club Brugge\", kickoff: \"2025-08-03T18:00:00+02:00\"}",
      "    fixture: {reschedule: \"KAA Gent - Club Brugge\"}"), "needs 'kickoff'"),
    (("party: controller", "party: node-1"), "no party .node-1. with a power control in this world; parties: controller"),
    (("fixtures/seasons/kaagent-2025-26.toml", "fixtures/seasons/nope.toml"), "no season file"),
    (("    fixture: {reschedule: \"KAA Gent - Club Brugge\", kickoff: \"2025-08-03T18:00:00+02:00\"}",
      "    fixture: {reschedule: \"Club Brugge\", kickoff: \"2025-08-03T18:00:00+02:00\"}"), "Home - Away"),
])
def test_bad_controller_events_are_refused_before_running(change, words):
    text = SHORT.replace(*change)
    assert text != SHORT
    with pytest.raises(ScenarioError, match=words):
        run_scenario(parse(text, "bad.yaml"))


def test_controller_events_need_a_controller():
    text = SHORT.replace("  controller:\n    season: fixtures/seasons/kaagent-2025-26.toml\n", "")
    with pytest.raises(ScenarioError, match="needs a controller in the world"):
        run_scenario(parse(text, "bad.yaml"))


@pytest.mark.slow
def test_a_whole_season_follows_the_schedule(scenario_run):
    """The issue's done-when: ten months, reschedules, a cancellation, a garbled page, a 3-day outage."""
    run = scenario_run("scenarios/season-2025-26.yaml", hash_only=True)  # its checks read the whole trace
    assert [(v.name, v.ok) for v in run.verdicts] == [
        ("light_follows_schedule", True), ("alerts_fired_once", True), ("light_on", True), ("light_off", True)]
    kinds = [r["kind"] for r in run.trace.records]
    assert kinds.count("fixture.rescheduled") == 3 and kinds.count("fixture.cancelled") == 1
    assert kinds.count("source.suspicious") >= 6  # six hours of garbled page, refused every hour
    assert kinds.count("alert.snoozed") == 1 and "user.refused" not in kinds
    assert len(light_intervals(run)) == len(expected_intervals(run)) >= 50
    # the outage: no scrape got through for three days, yet the light came on from the local store
    outage = [r for r in run.trace.records if r["src"] == "controller~internet"]
    assert [r["kind"] for r in outage] == ["link.down", "link.up"]


@pytest.mark.parametrize("layout", ["positional", "day-cards"])
def test_a_club_page_in_another_layout_read_by_its_selectors_file_drives_the_light(layout):
    """The site serves the season as an old positional table or as day-header cards; the controller reads it
    with the same selectors file as ``hilsim controller --selectors``, through a reschedule and an added cup
    tie, and the light follows the schedule recomputed from the site's calendar."""
    text = SHORT.replace("season: fixtures/seasons/kaagent-2025-26.toml",
                         "season: fixtures/seasons/kaagent-2025-26.toml\n"
                         f"    selectors: fixtures/pages/{layout}-2025-26.toml\n    layout: {layout}")
    text = text.replace("expect:", '''  - at: 2025-07-31T11:00:00+02:00
    fixture: {add: "KAA Gent - OH Leuven", competition: Croky Cup, kickoff: "2025-08-04T20:30:00+02:00"}
expect:''')
    run = run_scenario(parse(text, f"{layout}.yaml"))
    assert [(v.name, v.measured) for v in run.verdicts if not v.ok] == []
    added = [r for r in run.trace.of_kind("fixture.added") if "Croky Cup" in r["key"]]
    assert [r["kickoff"] for r in added] == ["2025-08-04T20:30+02:00"]
    assert run.trace.of_kind("fixture.rescheduled") and not run.trace.of_kind("source.suspicious")


@pytest.mark.parametrize("change, words", [
    ("    selectors: nowhere.toml", "no selectors file 'nowhere.toml'"),
    ("    layout: scroll", "unknown layout 'scroll'; layouts are table, cards, positional, day-cards"),
])
def test_a_bad_selectors_file_or_layout_is_refused_at_load(change, words):
    text = SHORT.replace("    season: fixtures/seasons/kaagent-2025-26.toml",
                         "    season: fixtures/seasons/kaagent-2025-26.toml\n" + change)
    with pytest.raises(ScenarioError) as error:
        parse(text, "bad.yaml")
    assert "bad.yaml:8: " in str(error.value) and words in str(error.value)


def test_a_selectors_file_mistake_names_its_own_file_and_line(tmp_path):
    (tmp_path / "club.toml").write_text('row = "tr"\nrows = "x"\n', encoding="utf-8")
    text = SHORT.replace("    season: fixtures/seasons/kaagent-2025-26.toml",
                         f"    season: fixtures/seasons/kaagent-2025-26.toml\n    selectors: {tmp_path / 'club.toml'}")
    with pytest.raises(ScenarioError) as error:
        parse(text, "bad.yaml")
    assert "bad.yaml:8: the selectors file is unusable: " in str(error.value)
    assert "club.toml:2: key 'rows': unknown key; known: row, home" in str(error.value)
