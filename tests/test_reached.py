""""Sometimes" states (sim/scenario/reached.py): the fault kinds a run applied, the expectations it exercised
with a non-trivial measure, the states a library never reached; and ``hilsim coverage`` printing them."""

from collections import Counter
from types import SimpleNamespace as NS

from click.testing import CliRunner

from hilsim.cli import main
from sim.scenario.expect import Verdict
from sim.scenario.faults import LinkDown, PowerLoss
from sim.scenario.reached import fault_party_table, reached, unreached
from sim.scenario.spec import TimedEvent


def outcome(timeline, verdicts, duration=3600.0, expect=None):
    expect = expect or [NS(args=None) for _ in verdicts]
    return NS(scenario=NS(timeline=tuple(timeline), expect=expect), duration=duration, verdicts=verdicts)


def test_a_run_reaches_the_faults_it_applied_and_the_expectations_it_judged():
    run = outcome([TimedEvent(60.0, LinkDown("node-2~broker", 300.0), 1),
                   TimedEvent(120.0, LinkDown("bridge~broker", 30.0), 2),
                   TimedEvent(4000.0, PowerLoss("node-1", 20.0), 3)],  # after the end: never applied
                  [Verdict("readings_lost", True, "0 of 1062", "<= 0"),
                   Verdict("readings_duplicated", True, "0", "<= 0"),
                   Verdict("jobs_executed_once", True, "0 jobs run, 0 more than once", "0 more than once")])
    assert reached(run) == Counter({"fault:LinkDown": 2, "fault:LinkDown@node-2~broker": 1,
                                    "fault:LinkDown@bridge~broker": 1, "expect:readings_lost": 1})


def test_an_eventually_exercises_its_inner_expectation():
    run = outcome([], [Verdict("eventually", True, "3 of 3 nodes stored at 7320 s", "readings_flow ...")],
                  expect=[NS(args={"inner": "readings_flow"})])
    assert reached(run) == Counter({"expect:eventually": 1, "expect:readings_flow": 1})


def test_the_unreached_states_of_a_library():
    runs = [Counter({"fault:LinkDown": 1, "expect:readings_lost": 1}), Counter({"fault:PowerLoss": 0})]
    missing = unreached(runs, ["readings_lost", "trace"])
    assert "fault:LinkDown" not in missing and "expect:readings_lost" not in missing
    assert "fault:PowerLoss" in missing and "expect:trace" in missing and "fault:Partition" in missing
    assert fault_party_table([Counter({"fault:LinkDown@a~b": 2}), Counter({"fault:LinkDown@a~b": 1,
                                                                            "fault:LinkDown": 1})]) == {
        "LinkDown": Counter({"a~b": 3})}


STORY = """name: one node, its link down
start: 2026-03-14T08:00:00+01:00
duration: 20m
world: {nodes: 1, sample_every: 10s}
timeline:
  - at: "08:05"
    link: {name: node-1~broker, down_for: 2m}
expect:
  - readings_lost: 0
  - sequence_gaps: 0
"""


def test_the_coverage_command_prints_the_fault_party_table_and_the_unreached(tmp_path):
    (tmp_path / "one.yaml").write_text(STORY)
    result = CliRunner().invoke(main, ["coverage", str(tmp_path)])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if line.startswith("LinkDown"))
    assert "node-1~broker x1" in row and row.rstrip().endswith("readings_lost")  # sequence_gaps measured 0
    assert "expect:sequence_gaps" in result.output.split("never reached")[1]
    assert "fault:PowerLoss" in result.output.split("never reached")[1]
