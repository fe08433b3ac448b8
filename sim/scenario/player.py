"""The one timeline player: each event at its time, applied to the control of its target.

The same player runs a scenario in virtual time (the sim runtime) and on the wall clock (the
asyncio runtime, ``hil``); what differs is only the world handed in, whose controls are simulated
models or real parts (see :mod:`sim.scenario.controls`).
"""

from __future__ import annotations

from typing import Any, Iterable, Protocol

from sim.scenario.controls import Fault, Stage
from sim.scenario.faults.names import fields_of
from sim.scenario.spec import TimedEvent


class Controls(Stage, Protocol):
    """A world as the player sees it: a stage, and the control of each target."""

    rt: Any

    def control(self, kind: str, target: str) -> Any: ...


def apply(fault: Fault, world: Controls) -> None:
    """Apply ``fault`` now, through the control of its target in ``world``; a fault with a ``trace_kind``
    is announced first, with its fields (``fault.partition``, ...)."""
    kind = getattr(fault, "trace_kind", None)
    if kind is not None:
        world.rt.child("world").trace(kind, target=fault.target, **fields_of(fault))
    fault.apply(world.control(fault.control, fault.target), world)


async def play(world: Controls, timeline: Iterable[TimedEvent]) -> None:
    """Apply each event of ``timeline`` (sorted by time) at its moment after the run's start."""
    rt = world.rt
    for event in timeline:
        wait = rt.start + event.at - rt.now()
        if wait > 0:
            await rt.sleep(wait)
        apply(event.fault, world)
