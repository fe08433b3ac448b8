"""A node's network side: WiFi RSSI that wanders and can drop the link, and its SNTP clock.

``SimRadio`` is the HAL's ``wifi``: ``rssi()`` in dBm, 0 while not connected (as
the reading contract says). The signal level follows a mean-reverting random walk
(Ornstein-Uhlenbeck, time constant ``tau``) around ``mean_rssi``; ``run()`` steps it
every ``step`` seconds. Below ``sensitivity`` the node loses its access point and
its link to the broker goes down (through ``on_down``); it rejoins once the level is
back above ``rejoin`` (hysteresis, so a level near the edge flaps realistically but
not every step). Faults: ``weaken(mean, for)`` moves the mean, ``drop(for)`` forces
a disconnection (access point off, interference).
"""

from __future__ import annotations

import math
from typing import Callable


class SimRadio:
    def __init__(self, rt, node_id: str, *, on_down: Callable[[], None], on_up: Callable[[], None],
                 mean_rssi: float = -62.0, sigma: float = 3.0, tau: float = 300.0, step: float = 5.0,
                 sensitivity: float = -90.0, rejoin: float = -85.0):
        self._rt = rt
        self._rng = rt.rng(f"{node_id}/radio")
        self.node_id = node_id
        self.normal_mean = mean_rssi
        self.mean = mean_rssi
        self.sigma, self.tau, self.step = sigma, tau, step
        self.sensitivity, self.rejoin = sensitivity, rejoin
        self.level = mean_rssi
        self.connected = True
        self.forced_down = 0  # active drop faults
        self.disconnections = 0
        self._on_down, self._on_up = on_down, on_up

    def rssi(self) -> int:
        """What the ESP32 reports: the level plus per-read jitter, 0 when not connected."""
        if not self.connected:
            return 0
        return int(max(-100, min(-20, round(self.level + self._rng.gauss(0, 1.0)))))

    def isconnected(self) -> bool:
        return self.connected

    async def run(self) -> None:
        keep = math.exp(-self.step / self.tau)
        spread = self.sigma * math.sqrt(1 - keep * keep)
        while True:
            await self._rt.sleep(self.step)
            self.level = self.mean + (self.level - self.mean) * keep + spread * self._rng.gauss(0, 1)
            self._update()

    def _update(self) -> None:
        if self.connected and (self.forced_down or self.level < self.sensitivity):
            self.connected = False
            self.disconnections += 1
            self._rt.trace("wifi.disconnected", node=self.node_id, rssi=round(self.level),
                           reason="dropped" if self.forced_down else "weak")
            self._on_down()
        elif not self.connected and not self.forced_down and self.level >= self.rejoin:
            self.connected = True
            self._rt.trace("wifi.connected", node=self.node_id, rssi=round(self.level))
            self._on_up()

    def weaken(self, mean: float) -> None:
        """Move the signal's mean (a node moved, a door closed); ``restore()`` undoes it."""
        self.mean = mean
        self._rt.trace("wifi.changed", node=self.node_id, mean_rssi=mean)

    def restore(self) -> None:
        self.weaken(self.normal_mean)

    def drop(self) -> None:
        """Force a disconnection now, until a matching ``undrop()``."""
        self.forced_down += 1
        self._update()

    def undrop(self) -> None:
        self.forced_down = max(0, self.forced_down - 1)


class SimClock:
    """The HAL's clock: not set until SNTP answers ``sync_after`` seconds after boot.

    ``shift(seconds)`` puts it off by that much (a jump, a skewed RTC, a wrong SNTP answer); ``resync()``
    is SNTP setting it right again, backwards if it was ahead. A power cut forgets the shift with the time.
    """

    def __init__(self, rt, node_id: str, sync_after: float = 0.0):
        self._rt = rt
        self.node_id = node_id
        self.sync_after = sync_after
        self._synced = sync_after <= 0
        self.offset = 0.0

    def synced(self) -> bool:
        return self._synced

    def power_cut(self) -> None:
        """The board lost power: the time is forgotten until SNTP answers again after the next boot (``run``)."""
        self._synced = self.sync_after <= 0
        self.offset = 0.0

    def time(self) -> float:
        return self._rt.now() + self.offset

    def shift(self, seconds: float) -> None:
        self.offset += seconds
        self._rt.trace("clock.jumped", node=self.node_id, by=seconds, offset=self.offset)

    def resync(self) -> None:
        """SNTP answers: the clock is right again (a jump of ``-offset``)."""
        if self.offset:
            by, self.offset = -self.offset, 0.0
            self._rt.trace("clock.set", node=self.node_id, by=by, backwards=by < 0)

    async def run(self) -> None:
        if self._synced:
            return
        await self._rt.sleep(self.sync_after)
        self._synced = True
        self._rt.trace("clock.synced", node=self.node_id)
