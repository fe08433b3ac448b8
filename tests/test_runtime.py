"""Every runtime behaviour, checked against the sim and the asyncio runtime alike.

Live durations are short (tens of milliseconds) and assertions about live time are
lower bounds only, so a loaded CI machine cannot make them flaky.
"""

import subprocess
import sys

import pytest

from system.errors import QueueFull

TICK = 0.02


def test_sleep_advances_the_clock(rt):
    async def main():
        before = rt.now()
        await rt.sleep(TICK)
        return rt.now() - before

    elapsed = rt.run(main())
    assert elapsed >= TICK * 0.9


def test_spawned_task_returns_its_result_to_an_awaiter(rt):
    async def child(x):
        await rt.sleep(TICK)
        return x * 2

    async def main():
        task = rt.spawn(child(21), "child")
        return await task

    assert rt.run(main()) == 42


def test_queue_is_fifo_and_get_waits_for_put(rt):
    got = []

    async def consumer(q):
        for _ in range(3):
            got.append(await q.get())

    async def main():
        q = rt.queue()
        task = rt.spawn(consumer(q), "consumer")
        await rt.sleep(TICK)
        assert got == []
        for item in "abc":
            q.put_nowait(item)
        await task

    rt.run(main())
    assert got == ["a", "b", "c"]


def test_bounded_queue_refuses_when_full(rt):
    async def main():
        q = rt.queue(maxsize=2)
        q.put_nowait(1)
        q.put_nowait(2)
        with pytest.raises(QueueFull):
            q.put_nowait(3)
        return [await q.get(), await q.get()]

    assert rt.run(main()) == [1, 2]


def test_event_wakes_every_waiter(rt):
    woke = []

    async def waiter(ev, name):
        await ev.wait()
        woke.append(name)

    async def main():
        ev = rt.event()
        tasks = [rt.spawn(waiter(ev, n), n) for n in ("a", "b")]
        await rt.sleep(TICK)
        assert not ev.is_set() and woke == []
        ev.set()
        for t in tasks:
            await t
        assert ev.is_set()
        await ev.wait()  # a set event returns at once

    rt.run(main())
    assert sorted(woke) == ["a", "b"]


def test_cancelling_a_sleeping_task_runs_its_cleanup(rt):
    log = []

    async def sleeper():
        try:
            await rt.sleep(3600)
            log.append("woke")
        finally:
            log.append("cleanup")

    async def main():
        task = rt.spawn(sleeper(), "sleeper")
        await rt.sleep(TICK)
        task.cancel()
        with pytest.raises(rt.Cancelled):
            await task
        assert task.cancelled() and task.done()
        return rt.now()

    start = rt.now()
    end = rt.run(main())
    assert log == ["cleanup"]
    assert end - start < 60  # nothing waited for the hour


def test_cancel_before_the_task_starts(rt):
    ran = []

    async def never():
        ran.append(1)

    async def main():
        task = rt.spawn(never(), "never")
        task.cancel()
        with pytest.raises(rt.Cancelled):
            await task

    rt.run(main())
    assert ran == []


def test_wait_for_timeout_fires_and_cancels_the_inner_work(rt):
    log = []

    async def slow():
        try:
            await rt.sleep(3600)
        finally:
            log.append("inner cancelled")

    async def main():
        before = rt.now()
        with pytest.raises(TimeoutError):
            await rt.wait_for(slow(), TICK)
        return rt.now() - before

    waited = rt.run(main())
    assert TICK * 0.9 <= waited < 60
    assert log == ["inner cancelled"]


def test_wait_for_returns_the_result_in_time(rt):
    async def quick():
        await rt.sleep(TICK)
        return "done"

    async def main():
        return await rt.wait_for(quick(), 60)

    assert rt.run(main()) == "done"


def test_wait_for_on_a_queue_does_not_swallow_a_later_item(rt):
    async def main():
        q = rt.queue()
        with pytest.raises(TimeoutError):
            await rt.wait_for(q.get(), TICK)
        q.put_nowait("kept")
        return await rt.wait_for(q.get(), 60)

    assert rt.run(main()) == "kept"


def test_exception_in_an_unawaited_task_surfaces_from_run(rt):
    async def broken():
        await rt.sleep(TICK)
        raise ValueError("sensor on fire")

    async def main():
        rt.spawn(broken(), "broken")
        await rt.sleep(3600)

    with pytest.raises(ValueError, match="sensor on fire"):
        rt.run(main())


def test_exception_in_an_awaited_task_reaches_the_awaiter(rt):
    async def broken():
        await rt.sleep(TICK)
        raise KeyError("missing")

    async def main():
        task = rt.spawn(broken(), "broken")
        try:
            await task
        except KeyError:
            return "caught"

    assert rt.run(main()) == "caught"


def test_run_until_stops_a_service_that_never_ends(rt):
    ticks = []

    async def forever():
        while True:
            ticks.append(rt.now())
            await rt.sleep(TICK)

    rt.run(forever(), until=TICK * 5)
    assert 2 <= len(ticks) <= 6


def test_random_streams_are_independent_and_stable(rt):
    a1 = [rt.rng("node-1/sensor").random() for _ in range(3)]
    assert rt.rng("node-1/sensor") is rt.rng("node-1/sensor")
    other = type(rt)(seed=1) if type(rt).__name__ == "AsyncioRuntime" else type(rt)(seed=1, start=0.0)
    other.rng("a new stream nobody had before").random()
    a2 = [other.rng("node-1/sensor").random() for _ in range(3)]
    assert a1 == a2
    assert a1 != [rt.rng("node-2/sensor").random() for _ in range(3)]


def test_random_streams_do_not_depend_on_the_hash_seed():
    code = "from system.runtime import stream_seed; print(stream_seed(7, 'node-1/sensor'))"
    outs = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                       env={"PYTHONHASHSEED": h, "PATH": ""}).stdout
        for h in ("0", "12345")
    }
    assert len(outs) == 1


def test_trace_lines_carry_the_party_and_relative_time(rt):
    from system.trace import Trace

    trace = Trace({"scenario": "t", "seed": 1})
    rt._trace = trace
    node = rt.child("node-1")

    async def main():
        await rt.sleep(TICK)
        node.trace("reading.sampled", seq=1, temperature=21.123456789)

    rt.run(main())
    (rec,) = trace.records
    assert rec["src"] == "node-1" and rec["kind"] == "reading.sampled"
    assert rec["temperature"] == 21.123457
    assert rec["t"] >= TICK * 0.9


def test_call_later_calls_in_time_order_without_a_task(rt):
    calls = []

    async def main():
        rt.call_later(2 * TICK, calls.append, "second")
        rt.call_later(TICK, calls.append, "first")
        await rt.sleep(4 * TICK)

    rt.run(main())
    assert calls == ["first", "second"]


def test_call_later_failure_ends_the_run(rt):
    def explode():
        raise RuntimeError("timer failed")

    async def main():
        rt.call_later(TICK, explode)
        await rt.sleep(10 * TICK)

    with pytest.raises(RuntimeError, match="timer failed"):
        rt.run(main())
