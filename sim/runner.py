"""Run a scenario in the sim world: build, play the timeline, check expectations.

The run is a pure function of (scenario, seed): the trace hash printed at the end
is the same on every machine. Progress is reported in simulated time through a
callback, so the command line can show it without the run knowing about terminals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, TextIO

from sim.expect import Verdict, check_all
from sim.runtime import SimRuntime
from sim.scenario import Scenario
from sim.vocabulary import Vocabulary, default_vocabulary
from sim.world import World
from system.trace import Trace

Progress = Callable[[float, float], None]


@dataclass
class RunResult:
    scenario: Scenario
    trace: Trace
    world: World
    duration: float
    verdicts: list[Verdict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(v.ok for v in self.verdicts)

    @property
    def sha256(self) -> str:
        return self.trace.hexdigest()


def run_scenario(scenario: Scenario, *, sink: TextIO | None = None, progress: Progress | None = None,
                 steps: int = 50, vocabulary: Vocabulary | None = None) -> RunResult:
    """Run ``scenario`` (validated by the loader) to its end; returns the trace and a verdict per
    expectation, checked with the ``vocabulary``'s checkers (the default one if None)."""
    header = {"scenario": scenario.name, "seed": scenario.seed, "start": scenario.start.isoformat(),
              "duration": scenario.duration}
    trace = Trace(header, sink)
    rt = SimRuntime(seed=scenario.seed, start=scenario.start_epoch, trace=trace)
    world = World(rt, scenario)
    world.start()
    step = scenario.duration / steps
    for i in range(1, steps + 1):
        target = min(scenario.duration, step * i)
        if target > rt.env.now:
            rt.env.run(until=target)
        if progress is not None:
            progress(rt.env.now, scenario.duration)
    result = RunResult(scenario, trace, world, scenario.duration)
    result.verdicts = check_all(result, (vocabulary or default_vocabulary()).expectations)
    return result
