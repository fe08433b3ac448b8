"""Cost per event of the sim runtime, as a ratio to raw simpy doing the same sleeps.

Both sides run N processes that each sleep M times, in the same process, best of
several rounds. Target (DESIGN.md): the runtime costs at most 1.5x raw simpy.

    python bench/bench_runtime.py [--procs 100] [--sleeps 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import time

import simpy

from sim.runtime import SimRuntime


def raw_simpy(procs: int, sleeps: int) -> None:
    env = simpy.Environment()

    def proc(env):
        for _ in range(sleeps):
            yield env.timeout(1)

    for _ in range(procs):
        env.process(proc(env))
    env.run()


def sim_runtime(procs: int, sleeps: int) -> None:
    rt = SimRuntime()

    async def proc():
        for _ in range(sleeps):
            await rt.sleep(1)

    for i in range(procs):
        rt.spawn(proc(), f"p{i}")
    rt.run()


def best_of(fn, rounds: int, *args) -> float:
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--procs", type=int, default=100)
    parser.add_argument("--sleeps", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    events = args.procs * args.sleeps
    raw = best_of(raw_simpy, args.rounds, args.procs, args.sleeps)
    ours = best_of(sim_runtime, args.rounds, args.procs, args.sleeps)
    print(f"events:            {events}")
    print(f"raw simpy:         {raw / events * 1e9:8.0f} ns/event")
    print(f"hilsim sim runtime:{ours / events * 1e9:8.0f} ns/event")
    print(f"ratio:             {ours / raw:8.2f}x  (target <= 1.5x)")


if __name__ == "__main__":
    main()
