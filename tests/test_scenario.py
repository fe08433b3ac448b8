"""Scenario files: what is accepted, and refusals that name the line and the fix."""

import pytest
from hypothesis import given, strategies as st

from sim.faults import BrokerRestart, LinkDegraded, LinkDown
from sim.loader import parse
from system.errors import ScenarioError

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
