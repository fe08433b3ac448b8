"""The pytest plugin (``hilsim/pytest_plugin.py``, entry point ``pytest11: hilsim``), run with ``pytester``:
scenario files as test items, the ``world`` fixture and the ``scenario`` mark, ``--hilsim-seed``,
``--hilsim-keep``, ``--hilsim-swarm``, and a shipped scenario run once per suite."""

import hashlib
import re

import pytest

import matplotlib

# Imported once here: inline pytester runs forget the modules they import, and numpy (under the report's plot)
# cannot be loaded twice in one process.
matplotlib.use("Agg")
from matplotlib import pyplot  # noqa: E402, F401

from sim.scenario import report, runner, sweep  # noqa: E402, F401

pytest_plugins = ("pytester",)

TINY = """\
name: {name}
seed: 1
start: 2026-03-14T08:00:00+01:00
duration: 10m
world: {{nodes: 1, sample_every: 30s, read_every: 30s}}
expect:
  - readings_lost: 0
  - readings_stored: {{min: {least}}}
"""
FLEET = """\
name: big
start: 2026-03-14T08:00:00+01:00
duration: 1h
world: {nodes: 1000, sample_every: 1m}
"""


@pytest.fixture
def scenarios(pytester):
    """ok.yaml (a reading every 30 s for 10 minutes: 19 stored, from 30 s to 9.5 min), bad.yaml (asks for
    1000), big.yaml (1,000 nodes x 1 h: 60,000 readings, slow)."""
    folder = pytester.mkdir("scenarios")
    (folder / "ok.yaml").write_text(TINY.format(name="ok", least=19))
    (folder / "bad.yaml").write_text(TINY.format(name="bad", least=1000))
    (folder / "big.yaml").write_text(FLEET)
    return folder


def test_every_scenario_file_is_collected_and_long_ones_are_slow(pytester, scenarios):
    listed = pytester.runpytest("--collect-only", "-q", "scenarios")
    assert [line for line in listed.outlines if "::" in line] == [
        "scenarios/bad.yaml::bad", "scenarios/big.yaml::big", "scenarios/ok.yaml::ok"]
    fast = pytester.runpytest("--collect-only", "-q", "-m", "not slow", "scenarios")
    assert [line for line in fast.outlines if "::" in line] == ["scenarios/bad.yaml::bad", "scenarios/ok.yaml::ok"]


def test_a_failing_scenario_shows_its_verdicts_and_its_report(pytester, scenarios):
    result = pytester.runpytest("-m", "not slow", "scenarios")
    result.assert_outcomes(passed=1, failed=1)
    text = result.stdout.str()
    # counted up to a minute before the end (the default settle): 18 samples, 30 s to 9 min
    assert re.search(r"PASS  readings_lost \(line 7\)  measured 0 of 18  \(expected <= 0\)", text)
    assert re.search(r"FAIL  readings_stored \(line 8\)  measured 19  \(expected >= 1000\)", text)
    assert "report: runs/pytest/bad-1/report.html" in text and "replay: hilsim run" in text
    assert "FAIL" in (pytester.path / "runs/pytest/bad-1/report.html").read_text()
    assert not (pytester.path / "runs/pytest/ok-1").exists()  # a passing run leaves nothing without --hilsim-keep


def test_the_world_fixture_and_the_scenario_mark_with_a_seed(pytester, scenarios):
    pytester.makepyfile(test_story=f'''
        import pytest

        @pytest.mark.scenario("scenarios/ok.yaml")
        def test_marked(world):
            assert world.result.ok and world.result.scenario.seed == 5

        def test_built_here(world):
            run = world.run({TINY.format(name="here", least=1)!r})
            assert run.scenario.seed == 5 and run.world.readings.count("node-1") == 19

        def test_needs_the_mark(world):
            with pytest.raises(pytest.UsageError, match="scenario"):
                world.result
    ''')
    pytester.runpytest("--hilsim-seed", "5", "test_story.py").assert_outcomes(passed=3)


def test_keep_writes_each_runs_files_and_swarm_adds_drawn_runs(pytester, scenarios):
    result = pytester.runpytest("-v", "--hilsim-keep", "--hilsim-seed", "3", "--hilsim-swarm", "2",
                                "scenarios/ok.yaml")
    result.assert_outcomes(passed=3)
    assert {"scenarios/ok.yaml::ok PASSED", "scenarios/ok.yaml::ok[swarm-1] PASSED",
            "scenarios/ok.yaml::ok[swarm-2] PASSED"} <= {line.split("  ")[0].strip() for line in result.outlines}
    kept = pytester.path / "runs/pytest/ok-3"
    junit = (kept / "junit.xml").read_text()
    digest = hashlib.sha256((kept / "trace.jsonl").read_bytes()).hexdigest()
    assert f'value="{digest}"' in junit and '"seed":3,' in (kept / "trace.jsonl").read_text().splitlines()[0]


def test_a_scenario_a_test_already_ran_is_not_run_again_by_its_item(pytester, scenarios, monkeypatch):
    ran = []
    real = runner.run_scenario
    monkeypatch.setattr(runner, "run_scenario", lambda scenario, **kw: ran.append(scenario.name) or real(scenario, **kw))
    pytester.makepyfile(test_detail='''
        def test_details_of_the_run(scenario_run):
            assert scenario_run("scenarios/ok.yaml").world.readings.count() == 19
    ''')
    pytester.runpytest("test_detail.py", "scenarios/ok.yaml").assert_outcomes(passed=2)
    assert ran == ["ok"]
