"""A sensor node's power supply in sim: cut it, and the firmware boots afresh on the same board.

What a power cut does to a board, and where each part of it lives:

- RAM is lost: the firmware ``Node`` is one object per boot; ``off()`` stops its tasks
  (``Node.power_off``) and drops it, with the unsent readings in its buffer.
- flash is kept: ``hal.flash`` (``firmware.boot_count.MemoryFlash``) belongs to the board,
  not to the Node, so the next boot's counter counts on from it.
- the network connection ends without a goodbye (``SimMqttClient.power_cut``).
- the clock forgets the time (``SimClock.power_cut``) until SNTP answers again after boot.

``on()`` boots: a new Node built by ``make_node()`` on the same HAL, its ``run`` and the
clock's ``run`` spawned. For example, the world builds one for each node the timeline cuts
(``power: {party: node-2, off_for: 20s}``), calls ``on()`` at start, and the fault calls
``power_loss(20.0)``. ``on_cut(node)``, if given, sees the dying Node's RAM just before it is
lost (the world's oracle counts the readings still in its buffer).
"""

from __future__ import annotations

from typing import Any, Callable


class NodePower:
    """The power of one simulated node; ``node`` is the firmware of the current boot (None while off)."""

    def __init__(self, rt: Any, name: str, hal: Any, make_node: Callable[[], Any],
                 on_cut: Callable[[Any], None] | None = None):
        self.rt = rt
        self.on_cut = on_cut
        self.name = name
        self.hal = hal
        self.make_node = make_node  # builds the firmware Node on ``hal``: one call per boot
        self.node: Any = None
        self._tasks: list[Any] = []

    @property
    def on_now(self) -> bool:
        return self.node is not None

    def on(self) -> Any:
        """Power on: boot a fresh firmware Node (the boot counter on flash counts this boot); returns it."""
        if self.node is not None:
            return self.node
        self.node = self.make_node()
        self._tasks = [self.rt.spawn(self.node.run(), self.name)]
        clock = getattr(self.hal, "clock", None)
        if clock is not None and hasattr(clock, "run"):
            self._tasks.append(self.rt.spawn(clock.run(), self.name + "/clock"))
        self.rt.trace("power.on", node=self.name, boot=self.node.boot)
        return self.node

    async def run(self) -> None:
        """Power on at the start of a run: the world's service for this node (``on()`` spawns the rest)."""
        self.on()

    def off(self) -> None:
        """Cut the power: the firmware's tasks stop where they are and its RAM is gone; flash stays."""
        if self.node is None:
            return
        if self.on_cut is not None:
            self.on_cut(self.node)
        self.node.power_off()
        for task in self._tasks:
            task.cancel()
        self._tasks = []
        for part in (getattr(self.hal, "mqtt", None), getattr(self.hal, "clock", None)):
            if part is not None and hasattr(part, "power_cut"):
                part.power_cut()
        self.rt.trace("power.off", node=self.name, boot=self.node.boot)
        self.node = None

    def cut(self, off_for: float) -> None:
        """Cut the power now and give it back ``off_for`` seconds later (the scenario's ``power`` fault)."""
        self.off()
        self.rt.call_later(off_for, self.on)

    def power_loss(self, seconds: float) -> None:
        """The power control (:class:`sim.scenario.controls.PowerControl`): ``cut(seconds)``."""
        self.cut(seconds)


class PartyPower:
    """The power of a party that is a machine of its own (the broker, the bridge, the cloud): ``off()`` stops it
    (what it held in RAM is gone), ``on()`` boots it; a cut while it is off only moves its return later."""

    def __init__(self, rt: Any, name: str, off: Callable[[], Any], on: Callable[[], Any]):
        self.rt = rt.child(name)
        self.name = name
        self._off, self._on = off, on
        self.powered = True
        self._back_at = 0.0

    def power_loss(self, seconds: float) -> None:
        """The power control (:class:`sim.scenario.controls.PowerControl`): off now, on ``seconds`` later."""
        self._back_at = max(self._back_at, self.rt.now() + seconds)
        if self.powered:
            self.powered = False
            self.rt.trace("power.lost", party=self.name, duration=seconds)
            self._off()
        self.rt.call_later(seconds, self._maybe_on)

    def _maybe_on(self) -> None:
        if self.powered or self.rt.now() < self._back_at:
            return
        self.powered = True
        self.rt.trace("power.restored", party=self.name)
        self._on()
