"""Run a scenario in the sim world: build, play the timeline, check expectations.

The run is a pure function of (scenario, seed): the trace hash printed at the end
is the same on every machine. Progress is reported in simulated time through a
callback, so the command line can show it without the run knowing about terminals.
"""

from __future__ import annotations

import gc
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Callable, Iterator

from sim.scenario.expect import Verdict, check_all, kinds_read
from sim.scenario.reached import reached
from sim.kernel.runtime import SimRuntime
from sim.scenario.spec import Scenario
from sim.scenario.loader import Vocabulary, default_vocabulary
from sim.scenario.world import World
from system.trace import Trace

Progress = Callable[[float, float], None]


@dataclass
class Outcome:
    """What any run of a scenario gives back (sim here, wall clock in ``hil``): the expectations read
    ``scenario``, ``trace`` and ``duration``."""

    scenario: Scenario
    trace: Trace
    duration: float
    verdicts: list[Verdict] = field(default_factory=list, kw_only=True)
    # the "sometimes" states the run reached (sim.scenario.reached): fault kinds applied, expectations exercised
    reached: Counter[str] = field(default_factory=Counter, kw_only=True)

    @property
    def ok(self) -> bool:
        return all(v.ok for v in self.verdicts)

    @property
    def sha256(self) -> str:
        return self.trace.hexdigest()


@dataclass
class RunResult(Outcome):
    """A sim run, with the world it ran in (the controller's checkers read its truth)."""

    world: World = field(kw_only=True)


@contextmanager
def _world_frozen() -> Iterator[None]:
    """Keep the garbage collector off the world built so far, and off the run's long lists.

    A full collection visits every live object: the world (a 10,000-node fleet has
    millions) and the trace's kept lines. Collections that find nothing made the cost
    per reading grow with the fleet (2x at 3,000 nodes); frozen objects are not
    visited, and young garbage is still collected, with gen 0 checked less often.
    """
    gc.collect()
    gc.freeze()
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], 100_000), thresholds[1], thresholds[2])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def run_scenario(scenario: Scenario, *, sink: IO | None = None, progress: Progress | None = None,
                 steps: int = 50, vocabulary: Vocabulary | None = None, hash_only: bool = False) -> RunResult:
    """Run ``scenario`` (validated by the loader) to its end; returns the trace and a verdict per
    expectation, checked with the ``vocabulary``'s checkers (the default one if None).

    ``sink`` (text or binary) receives the trace lines in chunks. ``hash_only``: keep in memory only
    the records the expectations read; the hash is that of the full trace either way.
    """
    words = vocabulary or default_vocabulary()
    header = {"scenario": scenario.name, "seed": scenario.seed, "start": scenario.start.isoformat(),
              "duration": scenario.duration}
    keep = kinds_read(scenario, words.expectations) if hash_only else True
    trace = Trace(header, sink, keep=keep, flush_every=4096)
    rt = SimRuntime(seed=scenario.seed, start=scenario.start_epoch, trace=trace)
    world = World(rt, scenario)
    world.start()
    step = scenario.duration / steps
    with _world_frozen():
        for i in range(1, steps + 1):
            target = min(scenario.duration, step * i)
            if target > rt.env.now:
                rt.env.run(until=target)
            if progress is not None:
                progress(rt.env.now, scenario.duration)
    trace.flush()
    result = RunResult(scenario, trace, scenario.duration, world=world)
    result.verdicts = check_all(result, words.expectations)
    result.reached = reached(result)
    return result
