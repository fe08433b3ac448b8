"""The scenario loader: what is accepted, and refusals that name the file, the line, the fix and the known values."""

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from sim.scenario.faults import BrokerRestart, LinkDegraded, LinkDown
from sim.scenario.loader import parse
from system.errors import ScenarioError

ROOT = Path(__file__).resolve().parent.parent

GOOD = """\
name: A small story
seed: 3
start: 2026-03-14T08:00:00+01:00
duration: 2h30m
world:
  nodes: 2
  sample_every: 4s
timeline:
  - at: 10:30
    link: {name: node-1~broker, down_for: 90s}
  - at: 09:00
    broker: {restart: true, down_for: 10s}
  - at: +5m
    link: {name: bridge~broker, latency: 200ms, loss: 0.1, for: 1m}
  - at: 2026-03-14T09:30:00Z
    link: {name: node-2~broker, down: true}
expect:
  - readings_lost: 0
  - readings_stored: {min: 10}
"""


def test_a_good_scenario_reads_as_written():
    s = parse(GOOD, "good.yaml")
    assert (s.name, s.seed, s.duration) == ("A small story", 3, 9000.0)
    assert s.world["nodes"] == 2 and s.world["sample_every"] == 4.0
    # "10:30" is a time of day (YAML 1.1 would have read 630), timeline sorted by time
    assert [(e.at, e.fault) for e in s.timeline] == [
        (300.0, LinkDegraded("bridge~broker", latency=0.2, loss=0.1, duration=60.0)),
        (3600.0, BrokerRestart(10.0)),
        (9000.0, LinkDown("node-1~broker", 90.0)),
        (9000.0, LinkDown("node-2~broker")),  # 09:30Z is 10:30+01:00; ties keep file order
    ]
    assert [(e.kind, e.line) for e in s.expect] == [("readings_lost", 18), ("readings_stored", 19)]


def test_a_time_of_day_before_the_start_means_the_next_day():
    s = parse(GOOD.replace("at: 10:30", "at: 07:00").replace("2h30m", "1d"), "x.yaml")
    assert 23 * 3600 in [e.at for e in s.timeline]


@pytest.mark.parametrize("change, line, words", [
    (("seed: 3", "seed: three"), 2, "seed must be a whole number"),
    (("duration: 2h30m", "duration: 2 hours"), 4, "duration like 90s"),
    (("  nodes: 2", "  nodez: 2"), 6, "unknown key 'nodez' in world; allowed:"),
    (("start: 2026-03-14T08:00:00+01:00", "start: 2026-03-14T08:00:00"), 3, "needs a UTC offset"),
    (("  - at: 10:30", "  - at: 25:30"), 9, "is not a time of day"),
    (("    link: {name: node-1~broker, down_for: 90s}", "    lnk: {name: x}"), 10, "unknown timeline event 'lnk'"),
    (("  - readings_lost: 0", "  - readings_lots: 0"), 18, "unknown expectation 'readings_lots'"),
    (("    broker: {restart: true, down_for: 10s}", "    broker: {restart: true, down_for: 10s, when: x}"), 12,
     "unknown key 'when' in broker"),
    (("name: A small story\n", ""), 1, "the scenario needs 'name'"),
    (("world:\n", "world:\n  nodes: 1\n"), 7, "key 'nodes' appears twice"),
    (("timeline:", "timeline: ["), 9, "not valid YAML"),
])
def test_a_bad_scenario_names_the_line_and_the_fix(change, line, words):
    text = GOOD.replace(*change)
    assert text != GOOD
    with pytest.raises(ScenarioError) as err:
        parse(text, "bad.yaml")
    assert err.value.file == "bad.yaml"
    assert err.value.line == line, str(err.value)
    assert words in str(err.value)
    assert str(err.value).startswith(f"bad.yaml:{line}: ")


@given(st.lists(st.tuples(st.integers(1, 500), st.sampled_from(["d", "h", "m", "s", "ms"])), min_size=1, max_size=4))
def test_durations_add_up_their_parts(parts):
    text = "".join(f"{n}{u}" for n, u in parts)
    factor = {"d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0.001}
    s = parse(GOOD.replace("duration: 2h30m", f"duration: {text}"), "d.yaml")
    assert s.duration == pytest.approx(sum(n * factor[u] for n, u in parts))


# -- the whole scenario is checked when it is loaded, before anything runs --------------------------

CONTROLLER = """\
name: A game moved on the club's page
start: 2025-07-30T00:00:00+02:00
duration: 6d
world:
  nodes: 2
  controller:
    season: fixtures/seasons/kaagent-2025-26.toml
timeline:
  - at: 2025-07-31T10:00:00+02:00
    fixture: {reschedule: "KAA Gent - Club Brugge", kickoff: "2025-08-03T18:00:00+02:00"}
  - at: 2025-07-31T11:00:00+02:00
    link: {name: node-2~broker, down_for: 5m}
  - at: 2025-07-31T12:00:00+02:00
    user: {snooze: "KAA Gent - Club Brugge", for: 5m}
"""


@pytest.mark.parametrize("change, line, words, known", [
    (('reschedule: "KAA Gent - Club Brugge"', 'reschedule: "KAA Gent - Club Bruges"'), 9,
     "no game 'KAA Gent - Club Bruges' in the club's season kaagent-2025-26.toml", ["KAA Gent - Club Brugge",
                                                                                 "RSC Anderlecht - KAA Gent"]),
    (("name: node-2~broker", "name: node-3~broker"), 11, "no link 'node-3~broker' in this world",
     ["bridge~broker", "node-1~broker", "node-2~broker", "controller~internet"]),
    (("link: {name: node-2~broker, down_for: 5m}", "sensor: {node: node-7, fault: stuck}"), 11,
     "no node 'node-7' in this world", ["node-1, node-2"]),
    (('snooze: "KAA Gent - Club Brugge"', 'snooze: "Concert"'), 13, "snooze: no event 'Concert'",
     ["KAA Gent - Club Brugge"]),
])
def test_unknown_parties_games_and_events_are_refused_at_load_with_the_known_values(change, line, words, known):
    text = CONTROLLER.replace(*change)
    assert text != CONTROLLER
    with pytest.raises(ScenarioError) as err:
        parse(text, "bad.yaml")
    assert str(err.value).startswith(f"bad.yaml:{line}: {words}")
    for value in known:
        assert value in str(err.value)


def test_the_controller_scenario_loads_and_an_added_game_can_be_moved_later():
    text = CONTROLLER + """\
  - at: 2025-08-01T09:00:00+02:00
    fixture: {add: "KAA Gent - Real Madrid", competition: Friendly, kickoff: "2025-08-04T20:00:00+02:00"}
  - at: 2025-08-02T09:00:00+02:00
    fixture: {reschedule: "KAA Gent - Real Madrid", kickoff: "2025-08-05T20:00:00+02:00"}
"""
    assert len(parse(text, "ok.yaml").timeline) == 5


@pytest.mark.parametrize("change, words", [
    (('reschedule: "KAA Gent - Club Brugge"', 'reschedule: "KAA Gent - Club Bruges"'),
     "no game 'KAA Gent - Club Bruges'"),
    (("name: node-2~broker", "name: node-2~brokr"), "no link 'node-2~brokr' in this world; links: bridge~broker"),
])
def test_hilsim_run_exits_2_with_file_line_and_known_values(tmp_path, change, words):
    bad = tmp_path / "bad.yaml"
    # the page is found next to the scenario's folder's parent or in the working directory (the repo root)
    bad.write_text(CONTROLLER.replace(*change), encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "hilsim", "run", str(bad), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 2, done.stderr
    assert f"{bad}:" in done.stderr and words in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "out" / "trace.jsonl").exists()
