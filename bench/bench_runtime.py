"""Cost per event of the sim runtime, as a ratio to raw simpy doing the same sleeps.

Both sides run N processes that each sleep M times, in the same process. Rounds
alternate raw and ours (so both see the same slow and fast phases of a shared
machine), with the garbage collector held off while timing; the ratio printed is
the median of the per-round ratios, next to the best of each side.
Target (DESIGN.md): the runtime costs at most 1.5x raw simpy.

    python bench/bench_runtime.py [--procs 100] [--sleeps 2000] [--rounds 9]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time

import simpy

from sim.kernel.runtime import SimRuntime


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


def timed(fn, *args) -> float:
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter()
        fn(*args)
        return time.perf_counter() - t0
    finally:
        gc.enable()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--procs", type=int, default=100)
    parser.add_argument("--sleeps", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    events = args.procs * args.sleeps
    pairs = [(timed(raw_simpy, args.procs, args.sleeps), timed(sim_runtime, args.procs, args.sleeps))
             for _ in range(args.rounds)]
    raw, ours = min(r for r, _ in pairs), min(o for _, o in pairs)
    ratios = sorted(o / r for r, o in pairs)
    print(f"events:            {events} per side and round, {args.rounds} rounds")
    print(f"raw simpy:         {raw / events * 1e9:8.0f} ns/event (best round)")
    print(f"hilsim sim runtime:{ours / events * 1e9:8.0f} ns/event (best round)")
    print(f"ratio:             {statistics.median(ratios):8.2f}x  median of rounds, "
          f"range {ratios[0]:.2f}-{ratios[-1]:.2f}  (target <= 1.5x)")


if __name__ == "__main__":
    main()
