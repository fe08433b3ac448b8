"""Sweeps (``sim/scenario/sweep.py``, ``hilsim sweep``): scenarios x seeds on a process pool or a real Dask
cluster with the same hashes, results streamed to a file that an interrupted sweep resumes from."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from bench import bench_sweep
from hilsim.cli import main
from sim.scenario import sweep
from system.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
TINY = """\
name: One node for ten minutes through a broker restart
seed: 1
start: 2026-03-14T08:00:00+01:00
duration: 10m
world: {nodes: 1, sample_every: 30s, read_every: 30s}
timeline:
  - at: +5m
    broker: {restart: true, down_for: 10s}
expect:
  - readings_lost: 0
"""


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return path


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("text, seeds", [
    ("1..5", [1, 2, 3, 4, 5]), ("7", [7]), ("1,5,9", [1, 5, 9]), ("1..3,10..11", [1, 2, 3, 10, 11]),
    ("3..4,4..5", [3, 4, 5]), ("0..0", [0]),
])
def test_seeds_are_ranges_and_lists(text, seeds):
    assert sweep.parse_seeds(text) == seeds


@pytest.mark.parametrize("text", ["1..", "a", "5..1", "-1..3"])
def test_a_bad_seed_range_is_refused_naming_the_option(text):
    with pytest.raises(ConfigError, match="--seeds"):
        sweep.parse_seeds(text)


def test_seeds_are_batched_per_scenario():
    runs = [sweep.Run(name, "", name, seed) for name in ("a", "b") for seed in range(5)]
    assert [[(r.scenario, r.seed) for r in b] for b in sweep.batches(runs, 2)] == [
        [("a", 0), ("a", 1)], [("a", 2), ("a", 3)], [("a", 4)], [("b", 0), ("b", 1)], [("b", 2), ("b", 3)], [("b", 4)]]
    assert (sweep.batch_size(1000, 2), sweep.batch_size(10, 2), sweep.batch_size(100_000, 8)) == (50, 2, 50)


@pytest.mark.live
def test_a_two_worker_dask_cluster_gives_the_local_pools_hashes(tiny, tmp_path):
    distributed = pytest.importorskip("distributed")
    runner = CliRunner()
    local = runner.invoke(main, ["sweep", str(tiny), "--seeds", "1..100", "--workers", "2", "--results",
                                 str(tmp_path / "local.jsonl"), "-q"])
    assert local.exit_code == 0, local.output
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        remote = runner.invoke(main, ["sweep", str(tiny), "--seeds", "1..100", "--cluster", cluster.scheduler_address,
                                      "--results", str(tmp_path / "cluster.jsonl"), "-q"])
        with distributed.Client(cluster) as client:
            workers = set(client.run(os.getpid).values())
    assert remote.exit_code == 0, remote.output
    on_pool, on_cluster = rows(tmp_path / "local.jsonl"), rows(tmp_path / "cluster.jsonl")
    assert sorted(r["seed"] for r in on_cluster) == list(range(1, 101))
    assert {r["seed"]: r["sha256"] for r in on_cluster} == {r["seed"]: r["sha256"] for r in on_pool}
    assert len({r["sha256"] for r in on_cluster}) == 100 and all(r["ok"] for r in on_cluster)
    ran_on = {int(r["worker"].rsplit(":", 1)[1]) for r in on_cluster}
    assert ran_on == workers and len(workers) == 2 and os.getpid() not in ran_on
    assert "tiny.yaml" in remote.output and "failing seeds: none" in remote.output


@pytest.mark.live
def test_an_interrupted_sweep_resumes_without_running_a_seed_twice(tiny, tmp_path):
    results = tmp_path / "results.jsonl"
    args = [sys.executable, "-m", "hilsim", "sweep", str(tiny), "--seeds", "1..40", "--workers", "1", "--batch", "1",
            "--results", str(results), "-q"]
    first = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (results.exists() and len(results.read_text().splitlines()) >= 5):  # a condition, not a delay
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()
        time.sleep(0.05)
    first.send_signal(signal.SIGINT)
    out, err = first.communicate(timeout=120)
    assert first.returncode == 130, err
    assert "interrupted; the results so far are in" in err
    kept = rows(results)
    assert 5 <= len(kept) < 40
    again = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"resuming: {len(kept)} of 40 runs already in" in again.stderr
    every = rows(results)
    assert sorted(r["seed"] for r in every) == list(range(1, 41))  # each seed once: none run twice
    assert every[:len(kept)] == kept


def test_a_failing_seed_is_listed_with_its_replay_command(tiny, tmp_path):
    strict = tmp_path / "strict.yaml"
    # a reading every 30 s from 30 s on: 19 before the end at 10 min
    strict.write_text(TINY.replace("readings_lost: 0", "readings_stored: {min: 20}"))
    result = CliRunner().invoke(main, ["sweep", str(strict), "--seeds", "1..3", "--workers", "1"])
    assert result.exit_code == 1
    assert f"replay: hilsim run {strict} --seed 1" in result.output
    assert "seed 2: readings_stored measured 19 (expected >= 20)" in result.output and "failing seeds: 3" in result.output


def test_the_sweep_bench_sweeps_the_same_seeds_on_one_and_two_workers():
    m = bench_sweep.measure(nodes=2, hours=1, seeds=2)
    assert m["ok"] and m["same_hashes"] and m["seeds"] == 2 and m["seeds_per_core_hour"] > 0
