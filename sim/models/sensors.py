"""The DHT22 model: a daily temperature/humidity cycle with noise, delivered as raw 40-bit frames.

``SimDHT22.read_frame()`` is the firmware HAL's sensor call: it returns the 5 bytes
a DHT22 sends, or raises the firmware's ``SensorError`` as the board HAL would, so
the firmware's decoding and checksum path runs in every scenario. Faults are
switched on and off by the world (``add_fault`` / ``remove_fault``):

- ``timeout``: a read times out mid-frame (with probability ``rate``, default every read);
- ``checksum``: one of the 40 bits flips on the wire (probability ``rate``, default 1).
  A single flipped bit always breaks the checksum, so the firmware must refuse it;
- ``stuck``: the sensor repeats the frame it sent when the fault began (valid checksum);
- ``spike``: a read is off by ``size`` degC, up or down (probability ``rate``, default 0.1);
- ``drift``: temperature drifts by ``per_hour`` degC per hour since the fault began;
- ``disconnected``: no answer at all: every read fails with ``no_response``.

Stuck, spike and drift produce frames with a valid checksum: the firmware cannot
tell them from real values; they exist to test what downstream does with them.

Each intact frame is told to the world's ``SampleLedger`` when one is attached (``ledger``): the
record ``readings_lost`` counts from, by the frame's number, which the system never sees.

``ReplayDHT22`` sends values recorded on a board (``hilsim record``) instead of the cycle
(``world: {sensor: {replay: FILE}}``).
"""

from __future__ import annotations

import bisect
import json
import math
from pathlib import Path
from typing import Any

from firmware.dht22 import NO_RESPONSE, TIMEOUT, SensorError, bits_frame, encode_frame, frame_bits

DEFAULT_RATE = {"timeout": 1.0, "checksum": 1.0, "spike": 0.1}


def daily_cycle(epoch: float, base_temperature: float, base_humidity: float) -> tuple[float, float]:
    """Noise-free (temperature degC, humidity %) at ``epoch``: warmest mid-afternoon, driest then."""
    day = 2 * math.pi * ((epoch % 86400) / 86400 - 0.375)
    return base_temperature + 3.0 * math.sin(day), base_humidity - 8.0 * math.sin(day)


class _Active:
    """A fault in force on one sensor, with what it remembers (start time, frozen frame)."""

    def __init__(self, fault: Any, since: float):
        self.fault = fault
        self.since = since
        self.frozen: bytes | None = None

    def rate(self) -> float:
        rate = getattr(self.fault, "rate", None)
        return DEFAULT_RATE.get(self.fault.kind, 1.0) if rate is None else rate


class SimDHT22:
    """One node's DHT22; ``read_frame()`` as the HAL's, faults switched by the world."""

    def __init__(self, rt, node_id: str, *, base_temperature: float = 21.0, base_humidity: float = 45.0,
                 temperature_noise: float = 0.1, humidity_noise: float = 0.5):
        self._rt = rt
        self._rng = rt.rng(f"{node_id}/sensor")
        self.node_id = node_id
        self.base_temperature = base_temperature
        self.base_humidity = base_humidity
        self.temperature_noise = temperature_noise
        self.humidity_noise = humidity_noise
        self.active: list[_Active] = []
        self.reads = 0
        self.failed = 0  # reads that raised (timeout, no response)
        self.corrupted = 0  # frames sent with a flipped bit
        self.intact_values: set[tuple[int, int]] = set()  # (h10, t10) of every frame sent intact
        self.ledger: Any = None  # the world's SampleLedger (sim/models/sample_ledger.py): told of each intact frame

    # --- faults ------------------------------------------------------------------

    def add_fault(self, fault: Any) -> None:
        self.active.append(_Active(fault, self._rt.now()))
        self._rt.trace("sensor.faulted", node=self.node_id, fault=fault.kind)

    def remove_fault(self, fault: Any) -> None:
        kept = [a for a in self.active if a.fault is not fault]
        if len(kept) != len(self.active):
            self.active = kept
            self._rt.trace("sensor.restored", node=self.node_id, fault=fault.kind)

    # --- the HAL call --------------------------------------------------------------

    def values(self) -> tuple[float, float]:
        """The true (temperature, humidity) now: the daily cycle plus sensor noise."""
        temperature, humidity = daily_cycle(self._rt.now(), self.base_temperature, self.base_humidity)
        temperature += self._rng.gauss(0, self.temperature_noise)
        humidity += self._rng.gauss(0, self.humidity_noise)
        return temperature, max(0.0, min(100.0, humidity))

    def read_frame(self) -> bytes:
        """The 5 bytes of one read, or SensorError(timeout / no_response)."""
        self.reads += 1
        kinds = {a.fault.kind: a for a in self.active}
        if "disconnected" in kinds:
            self.failed += 1
            raise SensorError(NO_RESPONSE, "no answer to the start signal")
        timeout = kinds.get("timeout")
        if timeout is not None and self._rng.random() < timeout.rate():
            self.failed += 1
            raise SensorError(TIMEOUT, "bit timed out")
        frame = self._frame(kinds)
        checksum = kinds.get("checksum")
        if checksum is not None and self._rng.random() < checksum.rate():
            self.corrupted += 1
            return bits_frame(frame_bits(frame) ^ (1 << self._rng.randrange(40)))
        values = ((frame[0] << 8) | frame[1], _signed_t10(frame))
        self.intact_values.add(values)
        if self.ledger is not None:  # the frame's number is this sensor's count of reads: the world's own id
            self.ledger.frame(self.reads, *values)
        return frame

    def _frame(self, kinds: dict[str, _Active]) -> bytes:
        stuck = kinds.get("stuck")
        if stuck is not None and stuck.frozen is not None:
            return stuck.frozen
        temperature, humidity = self.values()
        drift = kinds.get("drift")
        if drift is not None:
            temperature += drift.fault.per_hour * (self._rt.now() - drift.since) / 3600
        spike = kinds.get("spike")
        if spike is not None and self._rng.random() < spike.rate():
            temperature += spike.fault.size * self._rng.choice((-1, 1))
        t10 = max(-0x7FFF, min(0x7FFF, round(temperature * 10)))
        frame = encode_frame(round(humidity * 10), t10)
        if stuck is not None:
            stuck.frozen = frame
        return frame


def _signed_t10(frame: bytes) -> int:
    t10 = ((frame[2] & 0x7F) << 8) | frame[3]
    return -t10 if frame[2] & 0x80 else t10


def read_recording(path: str | Path) -> dict[str, tuple[tuple[float, float, float], ...]]:
    """Sensor samples from a trace written by ``hilsim record``: {node: ((t, degC, %RH), ...)} in time order.

    Reads the ``reading.recorded`` lines (one per reading the board sampled); ValueError when the file
    holds none or is not JSON Lines.
    """
    samples: dict[str, list[tuple[float, float, float]]] = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                raise ValueError(f"line {number} is not JSON") from None
            if record.get("kind") == "reading.recorded":
                samples.setdefault(record["node"], []).append(
                    (float(record["t"]), float(record["temperature"]), float(record["humidity"])))
    if not samples:
        raise ValueError("no reading.recorded lines: record one with 'hilsim record --port PORT --for 10m'")
    return {node: tuple(sorted(rows)) for node, rows in sorted(samples.items())}


class ReplayDHT22(SimDHT22):
    """A DHT22 that sends recorded values: at ``t`` seconds into the run, the last sample recorded at or
    before ``t`` (the recording repeats when the run outlasts it). Faults apply as to ``SimDHT22``."""

    def __init__(self, rt, node_id: str, samples: tuple[tuple[float, float, float], ...]):
        super().__init__(rt, node_id)
        self._times = [s[0] - samples[0][0] for s in samples]
        self._samples = samples
        self._span = self._times[-1] + (self._times[-1] / max(1, len(samples) - 1) if len(samples) > 1 else 1.0)

    def values(self) -> tuple[float, float]:
        elapsed = (self._rt.now() - self._rt.start) % self._span
        i = max(0, bisect.bisect_right(self._times, elapsed) - 1)
        return self._samples[i][1], self._samples[i][2]
