"""Link faults in sim: jitter keeps order, duplication delivers twice, a clog holds and then releases in order,
clogging draws its links from the scenario's seed, and a partition acts on the one link between two parties."""

from __future__ import annotations

import pytest

from sim.kernel.runtime import SimRuntime
from sim.models.network import Network
from sim.scenario.faults import link_between
from sim.scenario.loader import parse
from sim.scenario.runner import run_scenario


def _carry(configure, count: int = 200, *, clog_between: tuple[float, float] | None = None):
    """Send ``count`` numbered messages, one every 0.1 s, over a link; returns (arrival time, number) pairs."""
    rt = SimRuntime(seed=3, start=0.0)
    link = Network(rt).link("node-1", "broker", latency=0.05)
    configure(link)
    got: list[tuple[float, int]] = []

    async def sender():
        for n in range(count):
            link.send(n, lambda m: got.append((rt.now(), m)))
            await rt.sleep(0.1)

    if clog_between is not None:
        rt.call_later(clog_between[0], link.clog)
        rt.call_later(clog_between[1], link.unclog)
    rt.spawn(sender(), "sender")
    rt.run(until=count * 0.1 + 60)
    return got


def test_jitter_delays_messages_by_up_to_its_amount_without_reordering_them():
    got = _carry(lambda link: link.configure(jitter=2.0))
    numbers = [n for _, n in got]
    assert numbers == list(range(200))
    delays = [t - n * 0.1 for t, n in got]
    assert min(delays) >= 0.05 and max(delays) <= 0.05 + 2.0 + 0.1 * 20  # a slow one holds the next back a little
    assert max(delays) > 1.0  # the jitter is there


def test_duplication_delivers_about_its_fraction_twice_and_loses_nothing():
    got = _carry(lambda link: link.configure(duplicate=0.25), count=400)
    numbers = [n for _, n in got]
    assert set(numbers) == set(range(400)) and numbers == sorted(numbers)
    assert 60 <= len(numbers) - 400 <= 140  # 25% of 400 is 100


def test_a_clogged_link_holds_what_is_sent_and_releases_it_in_order_when_unclogged():
    got = _carry(lambda link: None, count=100, clog_between=(2.0, 5.0))
    numbers = [n for _, n in got]
    assert numbers == list(range(100))
    held = [(t, n) for t, n in got if 2.0 <= n * 0.1 < 5.0]
    assert held and all(t == pytest.approx(5.05) for t, _ in held)  # all of them on the unclog, after the latency


@pytest.mark.parametrize("a, b, link", [
    ("bridge", "broker", "bridge~broker"), ("broker", "node-2", "node-2~broker"),
    ("controller", "cloud", "controller~internet"), ("club-site", "controller", "controller~internet"),
    ("controller", "broker", "controller~internet"), ("cloud", "broker", "cloud~broker"),
    ("node-1", "bridge", None), ("node-1", "node-2", None),
])
def test_a_partition_acts_on_the_one_link_between_two_parties(a, b, link):
    assert link_between(a, b) == link


CLOG = """\
name: clogging
seed: SEED
start: 2026-03-14T08:00:00+01:00
duration: 10m
world: {nodes: 4}
timeline:
  - at: +1m
    clog: {links: 3, step: 10s, hold: 30s}
expect:
  - readings_lost: 0
  - readings_duplicated: 0
"""


def _clogging(seed: int) -> tuple[list[str], list[str], bool]:
    run = run_scenario(parse(CLOG.replace("SEED", str(seed)), "clog.yaml"))
    clogged = [r["src"] for r in run.trace.of_kind("link.clogged")]
    unclogged = [r["src"] for r in run.trace.of_kind("link.unclogged")]
    return clogged, unclogged, all(v.ok for v in run.verdicts)


def test_clogging_is_drawn_from_the_seed_one_link_at_a_time_and_loses_nothing():
    first, again, other = _clogging(5), _clogging(5), [_clogging(seed)[:2] for seed in (6, 7, 8)]
    clogged, unclogged, ok = first
    assert first == again and ok
    assert len(clogged) == 3 == len(set(clogged)) and sorted(unclogged) == sorted(clogged)
    assert any(o != first[:2] for o in other)  # another seed, another draw
