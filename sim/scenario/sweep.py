"""Sweeps: scenarios x seeds on a process pool, or on a Dask cluster, with results that stream and resume.

A sweep is a list of runs, one per (scenario, seed), batched into tasks (a task runs several seeds, so
scheduling does not dominate a run of a tenth of a second). A task carries the scenario's text, not its path,
so a worker on another machine needs no copy of the file (files the scenario names, such as a season, still
must be found there). Each run is ``hash_only``: a verdict per expectation and the trace's SHA-256, the same
wherever it ran. Results come back as tasks finish, each written at once as a JSON line to the results file;
a sweep started again with the same file skips the (scenario, seed) pairs it already holds.

With ``swarm``, each seed draws its own faults (as a campaign's example does, :mod:`sim.scenario.campaign`):
a random set of enabled fault kinds and a schedule of them, from a random stream seeded with the seed, drawn
here, before the tasks go out; a failing seed's story is written beside the results, to run again.

The executor is any :class:`concurrent.futures.Executor`: a ``ProcessPoolExecutor`` locally, or a Dask
``Client(...).get_executor()``, whose futures are the pool's kind (see :func:`executor`).
"""

from __future__ import annotations

import json
import math
import os
import socket
import time
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

from sim.scenario import campaign, fault_draws, loader
from sim.scenario.runner import run_scenario
from system.errors import ConfigError


@dataclass(frozen=True)
class Run:
    """One run of a sweep: the scenario as named, its text (with drawn faults for a swarm seed), the file it
    was read from (to find the files it names), the seed, and whether the faults were drawn."""

    scenario: str
    text: str
    file: str
    seed: int
    swarm: bool = False

    @property
    def key(self) -> tuple[str, int, bool]:
        return (self.scenario, self.seed, self.swarm)


def parse_seeds(text: str) -> list[int]:
    """``1..1000``, ``7``, ``1,5,9`` or ``1..10,20..30``: the seeds, in order, each once."""
    seeds: dict[int, None] = {}
    for part in text.replace(" ", "").split(","):
        lo, sep, hi = part.partition("..")
        try:
            first, last = int(lo), int(hi) if sep else int(lo)
        except ValueError:
            raise ConfigError(f"{part!r} is not a seed or a range like 1..1000", source="--seeds") from None
        if first < 0 or last < first:
            raise ConfigError(f"{part!r}: a range goes from a seed >= 0 up to a larger one", source="--seeds")
        seeds.update(dict.fromkeys(range(first, last + 1)))
    return list(seeds)


def plan(paths: Iterable[str], seeds: list[int], *, swarm: bool = False) -> list[Run]:
    """Every run of the sweep: each scenario (validated now) with each seed."""
    runs = []
    for path in paths:
        text = Path(path).read_text(encoding="utf-8") if Path(path).is_file() else None
        if text is None:
            raise ConfigError("no such scenario file", source=path)
        base = loader.parse(text, path)
        if not swarm:
            runs += [Run(path, text, path, seed) for seed in seeds]
            continue
        window = campaign.fault_window(base)
        schedules = campaign.swarm(fault_draws.draws(window))
        for seed in seeds:
            drawn = campaign.from_window(campaign.draw_schedule(schedules, seed), window)
            heal = max(campaign.heal_time(e, base.start) for e in campaign.base_events(text) + drawn)
            expect, _ = campaign.expectations_for(campaign.Plan(base, heal), campaign.PROPERTIES,
                                                  loader.default_vocabulary().expectations)
            story = campaign.story_text(text, drawn, expect, f"Swarm seed {seed} of a sweep over {path}.\n"
                                                           f"Run it again with: hilsim run THIS_FILE --seed {seed}")
            runs.append(Run(path, story, path, seed, swarm=True))
    return runs


def run_batch(runs: list[Run]) -> list[dict]:
    """Run each of ``runs`` (in a worker): its verdicts and hash as a plain dict, ready for a JSON line."""
    results = []
    for one in runs:
        started = time.perf_counter()
        result = run_scenario(loader.parse(one.text, one.file).with_seed(one.seed), hash_only=True)
        results.append({
            "scenario": one.scenario, "seed": one.seed, "swarm": one.swarm, "ok": result.ok,
            "sha256": result.sha256, "seconds": round(time.perf_counter() - started, 3),
            "verdicts": [[v.name, v.ok, v.measured, v.expected] for v in result.verdicts],
            "worker": f"{socket.gethostname()}:{os.getpid()}",  # where it ran (the hash must not tell)
        })
    return results


def done_in(results: Path | None) -> dict[tuple[str, int, bool], dict]:
    """The results already in a results file, by (scenario, seed, swarm); a line cut short by an interrupted
    write is ignored (its run is done again)."""
    found: dict[tuple[str, int, bool], dict] = {}
    if results is None or not results.exists():
        return found
    for line in results.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
            found[(row["scenario"], row["seed"], row.get("swarm", False))] = row
        except (ValueError, KeyError, TypeError):
            continue
    return found


def batches(runs: list[Run], size: int) -> list[list[Run]]:
    """Consecutive runs of one scenario, ``size`` at most per task."""
    out: list[list[Run]] = []
    for one in runs:
        if out and len(out[-1]) < size and out[-1][0].scenario == one.scenario:
            out[-1].append(one)
        else:
            out.append([one])
    return out


def batch_size(runs: int, workers: int) -> int:
    """About four tasks per worker, between 1 and 50 runs each."""
    return max(1, min(50, math.ceil(runs / (4 * max(1, workers)))))


@contextmanager
def executor(cluster: str | None = None, workers: int | None = None) -> Iterator[tuple[Executor, int]]:
    """A local process pool of ``workers`` (default: the CPUs), or a Dask cluster's executor at ``cluster``
    (``tcp://host:8786``); yields it with its number of workers."""
    if cluster is None:
        count = workers or os.cpu_count() or 1
        with ProcessPoolExecutor(max_workers=count) as pool:
            yield pool, count
        return
    try:
        from distributed import Client
    except ImportError:
        raise ConfigError("a cluster needs Dask: pip install 'hilsim[cluster]'", source="--cluster") from None
    try:
        client = Client(cluster, timeout=30)
    except (OSError, TimeoutError) as exc:
        raise ConfigError(f"cannot reach the Dask scheduler: {exc}", source="--cluster") from None
    try:
        count = workers or max(1, sum(w["nthreads"] for w in client.scheduler_info()["workers"].values()))
        yield client.get_executor(), count
    finally:
        client.close()


def sweep(runs: list[Run], pool: Executor, *, size: int, results: Path | None = None,
          on_result: Callable[[dict], None] | None = None) -> list[dict]:
    """Run ``runs`` on ``pool`` in tasks of ``size``, skipping those ``results`` already holds; each result is
    appended to ``results`` and handed to ``on_result`` as soon as its task is back. Returns every result of
    the sweep, old and new, in the order of ``runs``. An interruption (KeyboardInterrupt) cancels what has
    not started; what came back is in the file."""
    done = done_in(results)
    todo = [one for one in runs if one.key not in done]
    sink = open(results, "a", encoding="utf-8") if results is not None else None
    futures: list[Future] = [pool.submit(run_batch, batch) for batch in batches(todo, size)]
    try:
        for future in as_completed(futures):
            for row in future.result():
                done[(row["scenario"], row["seed"], row["swarm"])] = row
                if sink is not None:
                    sink.write(json.dumps(row, sort_keys=True) + "\n")
                    sink.flush()
                if on_result is not None:
                    on_result(row)
    finally:
        for future in futures:
            future.cancel()
        if sink is not None:
            sink.close()
    return [done[one.key] for one in runs]
