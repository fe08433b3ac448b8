"""hilsim's pytest plugin (entry point ``pytest11: hilsim``): scenarios as tests.

- every ``scenarios/*.yaml`` is collected as a test item that runs the scenario and fails with its
  verdicts and the path of the report written for it; a long scenario (over 20,000 readings, or a
  controller over more than a week) is marked ``slow``;
- ``@pytest.mark.scenario("file.yaml")`` on a test: the ``world`` fixture's ``result`` is that file's run;
- the ``world`` fixture builds and runs a sim world in a test: ``world.run(scenario_or_path_or_yaml)``;
- ``scenario_run(path, hash_only=False)``, session-scoped: a test that checks more of a shipped scenario's run
  than its verdicts gets the run here, and the collected item of that file then reports those verdicts
  instead of running the scenario a second time;
- ``--hilsim-seed N`` runs every scenario with seed N, ``--hilsim-keep`` keeps each run's trace, JUnit XML
  and HTML report (in ``--hilsim-out``, default ``runs/pytest``), ``--hilsim-swarm N`` adds N items per
  scenario file, each with faults drawn from its seed (as ``hilsim sweep --swarm``).

Imports of the sim happen when a scenario runs, not when pytest loads the plugin.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

_DONE = pytest.StashKey[dict]()  # (file, seed, swarm) -> (verdicts, sha256) of runs made by tests this session
SLOW_READINGS = 20_000
SLOW_CONTROLLER_DAYS = 7


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("hilsim", "hilsim scenarios")
    group.addoption("--hilsim-seed", type=int, default=None, metavar="N",
                    help="Run every scenario (collected files, @pytest.mark.scenario, world.run) with seed N.")
    group.addoption("--hilsim-keep", action="store_true",
                    help="Keep each scenario run's trace, JUnit XML and HTML report in --hilsim-out.")
    group.addoption("--hilsim-out", default="runs/pytest", metavar="DIR",
                    help="Where kept runs and failing scenarios' reports go [default: runs/pytest].")
    group.addoption("--hilsim-swarm", type=int, default=0, metavar="N",
                    help="Also run each collected scenario file with N swarm seeds (1..N): faults drawn per seed.")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "scenario(file): the world fixture's result is this scenario file's run")
    config.addinivalue_line("markers", "slow: long scenarios (the plugin marks scenario files over 20,000 readings)")
    config.stash[_DONE] = {}


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix == ".yaml" and file_path.parent.name == "scenarios":
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


# -- running a scenario, once ------------------------------------------------------------------------------


def _run(config: pytest.Config, path: Path, seed: int | None, text: str | None = None,
         hash_only: bool = False, swarm: bool = False) -> Any:
    """Run the scenario file ``path`` (or ``text`` as if read from it), keeping its files with --hilsim-keep."""
    from sim.scenario import loader
    from sim.scenario.runner import run_scenario

    scenario = loader.parse(text, str(path)) if text is not None else loader.load(path)
    if seed is not None:
        scenario = scenario.with_seed(seed)
    if config.getoption("--hilsim-keep"):
        return _run_into(scenario, _out(config, path, scenario.seed, swarm))
    return run_scenario(scenario, hash_only=hash_only)


def _out(config: pytest.Config, path: Path, seed: int, swarm: bool) -> Path:
    return Path(config.getoption("--hilsim-out")) / f"{path.stem}-{seed}{'-swarm' if swarm else ''}"


def _run_into(scenario: Any, out: Path) -> Any:
    """Run ``scenario`` with its trace, JUnit XML and HTML report written into ``out`` (as ``hilsim run``)."""
    from sim.scenario.report import write_html, write_junit
    from sim.scenario.runner import run_scenario

    out.mkdir(parents=True, exist_ok=True)
    with open(out / "trace.jsonl", "wb") as sink:
        result = run_scenario(scenario, sink=sink)
    write_junit(result, out / "junit.xml")
    write_html(result, out / "report.html")
    return result


@pytest.fixture(scope="session")
def scenario_run(pytestconfig: pytest.Config) -> Callable[..., Any]:
    """``scenario_run(path, hash_only=False)``: the run of a scenario file (seed: the file's or --hilsim-seed).
    Its verdicts are kept, so the file's collected item reports them without running it again."""

    def run(path: str | Path, *, hash_only: bool = False) -> Any:
        path = Path(path)
        seed = pytestconfig.getoption("--hilsim-seed")
        result = _run(pytestconfig, path, seed, hash_only=hash_only)
        pytestconfig.stash[_DONE][(path.resolve(), result.scenario.seed, 0)] = (result.verdicts, result.sha256)
        return result

    return run


# -- the world fixture --------------------------------------------------------------------------------------


@dataclass
class SimWorld:
    """The ``world`` fixture: ``run(source)`` builds a sim world from a scenario (a loaded Scenario, a file path
    or YAML text), plays it to its end in virtual time and returns the run (verdicts, trace, the world's
    parties). With ``@pytest.mark.scenario(FILE)``, ``result`` is FILE's run."""

    config: pytest.Config
    marked: Path | None = None
    _result: Any = None

    def run(self, source: Any, *, seed: int | None = None, hash_only: bool = False) -> Any:
        from sim.scenario import loader
        from sim.scenario.runner import run_scenario
        from sim.scenario.spec import Scenario

        if isinstance(source, Scenario):
            scenario = source
        elif isinstance(source, Path) or (isinstance(source, str) and "\n" not in source):
            scenario = loader.load(source)
        else:
            scenario = loader.parse(source, "<test>")
        seed = seed if seed is not None else self.config.getoption("--hilsim-seed")
        return run_scenario(scenario if seed is None else scenario.with_seed(seed), hash_only=hash_only)

    @property
    def result(self) -> Any:
        if self.marked is None:
            raise pytest.UsageError("world.result needs @pytest.mark.scenario('file.yaml') on the test")
        if self._result is None:
            self._result = self.run(self.marked)
        return self._result


@pytest.fixture
def world(request: pytest.FixtureRequest) -> SimWorld:
    """Build and run a sim world in a test (see :class:`SimWorld`)."""
    mark = request.node.get_closest_marker("scenario")
    marked = None
    if mark is not None:
        marked = Path(mark.args[0])
        if not marked.is_absolute() and not marked.exists():
            marked = Path(request.node.path).parent / marked
    return SimWorld(request.config, marked)


# -- scenario files as test items ---------------------------------------------------------------------------


class ScenarioFailed(Exception):
    """A scenario's expectations did not all hold."""


class ScenarioFile(pytest.File):
    """A ``scenarios/*.yaml`` file: one item, plus ``--hilsim-swarm N`` items with drawn faults."""

    def collect(self) -> Iterator[pytest.Item]:
        import yaml

        data = yaml.safe_load(self.path.read_text(encoding="utf-8")) or {}
        slow = _is_slow(data)
        item = ScenarioItem.from_parent(self, name=self.path.stem)
        items = [item] + [ScenarioItem.from_parent(self, name=f"{self.path.stem}[swarm-{seed}]", swarm=seed)
                          for seed in range(1, self.config.getoption("--hilsim-swarm") + 1)]
        for one in items:
            if slow:
                one.add_marker(pytest.mark.slow)
            yield one


def _is_slow(data: dict) -> bool:
    """Over 20,000 readings, or a controller over more than a week (read from the YAML, before any run)."""
    from system.decisions.durations import parse_duration
    from system.errors import RefusedInput

    world = data.get("world") or {}
    try:
        seconds = parse_duration(str(data.get("duration", "0s")))
        every = parse_duration(str(world.get("sample_every", "10s")))
    except (RefusedInput, ValueError):
        return False
    readings = int(world.get("nodes", 3)) * seconds / max(every, 1.0)
    return readings > SLOW_READINGS or (world.get("controller") is not None and seconds > SLOW_CONTROLLER_DAYS * 86400)


class ScenarioItem(pytest.Item):
    """One run of a scenario file (``swarm``: with faults drawn from that seed); fails with its verdicts."""

    def __init__(self, *, swarm: int = 0, **kwargs: Any):
        super().__init__(**kwargs)
        self.swarm = swarm
        self.report_path: Path | None = None
        self.replay = ""
        self.verdicts: list = []

    def runtest(self) -> None:
        self.verdicts = self._verdicts()
        if all(v.ok for v in self.verdicts):
            return
        from sim.scenario import loader

        seed = self.swarm or self.config.getoption("--hilsim-seed")
        text = self._story() if self.swarm else self.path.read_text(encoding="utf-8")
        scenario = loader.parse(text, str(self.path))
        scenario = scenario.with_seed(seed) if seed is not None else scenario
        out = _out(self.config, self.path, scenario.seed, bool(self.swarm))
        if not (out / "report.html").exists():  # kept already with --hilsim-keep; else run again with the trace
            _run_into(scenario, out)
        self.report_path = out / "report.html"
        self.replay = f"hilsim run {self.path}" + (f" --seed {seed}" if seed is not None else "")
        if self.swarm:  # the story with the drawn faults, to run again
            (out / "story.yaml").write_text(text, encoding="utf-8")
            self.replay = f"hilsim run {out / 'story.yaml'} --seed {seed}"
        raise ScenarioFailed(self.path)

    def _verdicts(self) -> list:
        seed = self.config.getoption("--hilsim-seed")
        if self.swarm:
            return _run(self.config, self.path, self.swarm, text=self._story(), hash_only=True, swarm=True).verdicts
        from sim.scenario import loader

        file_seed = loader.load(self.path).seed if seed is None else seed
        done = self.config.stash[_DONE].pop((self.path.resolve(), file_seed, 0), None)
        if done is not None:  # a test ran it this session: its verdicts, not a second run
            return done[0]
        return _run(self.config, self.path, seed, hash_only=True).verdicts

    def _story(self) -> str:
        from sim.scenario import sweep

        return sweep.plan([str(self.path)], [self.swarm], swarm=True)[0].text

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if not isinstance(excinfo.value, ScenarioFailed):
            return super().repr_failure(excinfo, style)
        lines = [f"{'PASS' if v.ok else 'FAIL'}  {v.name} (line {v.line})  measured {v.measured}  "
                 f"(expected {v.expected})" for v in self.verdicts]
        return "\n".join([f"scenario {self.path.name}: expectations failed", *lines,
                          f"report: {self.report_path}", f"replay: {self.replay}"])

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"scenario: {self.name}"
