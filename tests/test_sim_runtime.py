"""Properties only the deterministic runtime has."""

from hypothesis import given, settings, strategies as st

from sim.kernel.runtime import SimRuntime


def test_virtual_time_starts_at_the_scenario_start():
    rt = SimRuntime(start=1_773_471_600.0)

    async def main():
        await rt.sleep(3600)
        return rt.now()

    assert rt.run(main()) == 1_773_471_600.0 + 3600


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=5), min_size=1, max_size=20))
def test_ties_wake_in_spawn_order(delays):
    """Tasks waking at the same instant run in the order they were spawned, every time."""
    rt = SimRuntime()
    order = []

    async def sleeper(i, d):
        await rt.sleep(d)
        order.append(i)

    for i, d in enumerate(delays):
        rt.spawn(sleeper(i, d), f"s{i}")
    rt.run()
    assert order == sorted(range(len(delays)), key=lambda i: (delays[i], i))
