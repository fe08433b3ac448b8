"""The embedded default scenario end to end: outages delay readings, lose none, store each once."""

from collections import defaultdict

import pytest

from sim.scenario.runner import run_scenario
from sim.scenario.loader import load


@pytest.fixture(scope="module")
def run(scenario_run):
    # the run the plugin's item for scenarios/quickstart.yaml reports its verdicts from
    return scenario_run("scenarios/quickstart.yaml")


def test_each_node_stores_its_whole_sequence_exactly_once(run):
    stored = defaultdict(list)
    for r in run.trace.of_kind("reading.stored"):
        stored[r["node"]].append(r["seq"])
    sampled = defaultdict(int)
    for r in run.trace.of_kind("reading.sampled"):
        sampled[r["node"]] = max(sampled[r["node"]], r["seq"])
    assert sorted(stored) == ["node-1", "node-2", "node-3"]
    for node, seqs in stored.items():
        assert sorted(seqs) == list(range(1, len(seqs) + 1)), node
        assert sampled[node] - len(seqs) <= 1  # at most the reading of the very last instant in flight
    assert run.world.readings.count() == sum(len(s) for s in stored.values())


def test_the_outage_delays_node_2_and_its_buffer_flushes_in_order(run):
    down = next(r["t"] for r in run.trace.of_kind("link.down") if r["src"] == "node-2~broker")
    up = next(r["t"] for r in run.trace.of_kind("link.up") if r["src"] == "node-2~broker")
    assert up - down == 300
    sampled_at = {r["seq"]: r["t"] for r in run.trace.records if r["kind"] == "reading.sampled" and r["node"] == "node-2"}
    stored = [r for r in run.trace.of_kind("reading.stored") if r["node"] == "node-2"]
    during = [r for r in stored if down < sampled_at[r["seq"]] < up]
    assert len(during) >= 25  # 5 minutes of 10 s samples were buffered...
    assert all(r["t"] >= up for r in during)  # ...and stored only after the link came back
    seqs = [r["seq"] for r in stored]
    assert seqs == sorted(seqs)  # flushed in order


def test_same_seed_same_trace_other_seed_other_trace(run):
    scenario = load("scenarios/quickstart.yaml")
    assert run_scenario(scenario).sha256 == run.sha256
    assert run_scenario(scenario.with_seed(scenario.seed + 1)).sha256 != run.sha256
