"""Sensor and radio models of the world: a DHT22 with a daily cycle, the WiFi RSSI."""

from __future__ import annotations

import math


class SimDHT22:
    """Temperature and humidity following a daily cycle plus noise; ``read()`` as the HAL's."""

    def __init__(self, rt, node_id: str, *, base_temperature: float = 21.0, base_humidity: float = 45.0):
        self._rt = rt
        self._rng = rt.rng(f"{node_id}/sensor")
        self.base_temperature = base_temperature
        self.base_humidity = base_humidity

    def read(self) -> tuple[float, float]:
        day = 2 * math.pi * ((self._rt.now() % 86400) / 86400 - 0.375)  # warmest mid-afternoon
        temperature = self.base_temperature + 3.0 * math.sin(day) + self._rng.gauss(0, 0.1)
        humidity = self.base_humidity - 8.0 * math.sin(day) + self._rng.gauss(0, 0.5)
        return temperature, max(0.0, min(100.0, humidity))


class SimRadio:
    """WiFi RSSI in dBm around a node's mean; 0 while the node's link is down (not connected)."""

    def __init__(self, rt, node_id: str, link, *, mean_rssi: float = -62.0):
        self._rng = rt.rng(f"{node_id}/radio")
        self._link = link
        self.mean_rssi = mean_rssi

    def rssi(self) -> int:
        if not self._link.up:
            return 0
        return int(round(self.mean_rssi + self._rng.gauss(0, 2.0)))
