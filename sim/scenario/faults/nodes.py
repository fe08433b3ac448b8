"""Faults of a sensor node: its DHT22, its WiFi, its clock."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from sim.scenario.controls import NodeControl, Stage
from sim.scenario.yaml_value import YamlValue

SENSOR_FAULTS = ("stuck", "spike", "drift", "timeout", "checksum", "disconnected")


@dataclass(frozen=True)
class SensorFault:
    """A node's DHT22 misbehaves as ``kind`` for ``duration`` seconds (None: for good).

    ``rate`` is the chance a read is affected (timeout, checksum, spike; None: the
    kind's default), ``size`` a spike's size in degC, ``per_hour`` the drift rate.
    """

    node: str
    kind: str
    duration: float | None = None
    rate: float | None = None
    size: float = 10.0
    per_hour: float = 2.0
    control: ClassVar[str] = "node"

    @property
    def target(self) -> str:
        return self.node

    def needs(self) -> tuple[str, ...]:
        needs = (f"the sensor fault {self.kind!r}",)
        return needs if self.rate in (None, 1.0) else needs + ("a rate of faulty reads",)

    def apply(self, node: NodeControl, stage: Stage) -> None:
        node.sensor_fault(self)


@dataclass(frozen=True)
class WifiWeak:
    """A node's WiFi signal averages ``rssi`` dBm for ``duration`` seconds (None: for good)."""

    node: str
    rssi: float
    duration: float | None = None
    control: ClassVar[str] = "node"

    @property
    def target(self) -> str:
        return self.node

    def needs(self) -> tuple[str, ...]:
        return ("a WiFi signal level",)

    def apply(self, node: NodeControl, stage: Stage) -> None:
        node.weaken_wifi(self.rssi, self.duration)


@dataclass(frozen=True)
class WifiDrop:
    """A node loses its access point for ``duration`` seconds (None: until a later event)."""

    node: str
    duration: float | None = None
    control: ClassVar[str] = "node"

    @property
    def target(self) -> str:
        return self.node

    def needs(self) -> tuple[str, ...]:
        return ("a WiFi drop",)

    def apply(self, node: NodeControl, stage: Stage) -> None:
        node.drop_wifi(self.duration)


@dataclass(frozen=True)
class ClockShift:
    """A node's clock is off by ``shift`` seconds (negative: behind). ``how`` is ``jump`` (it jumps now and
    stays so, until SNTP after a power cut) or ``skew`` (off for ``duration`` seconds, then SNTP sets it right:
    a clock ``skew: 10m`` ahead is set back ten minutes, the readings' ``ts`` going backwards)."""

    node: str
    shift: float
    how: str = "jump"
    duration: float | None = None
    control: ClassVar[str] = "node"
    trace_kind: ClassVar[str] = "fault.clock"

    @property
    def target(self) -> str:
        return self.node

    def needs(self) -> tuple[str, ...]:
        return ("a clock shift",)

    def apply(self, node: NodeControl, stage: Stage) -> None:
        node.shift_clock(self.shift, self.duration if self.how == "skew" else None)


def _sensor(node: YamlValue) -> object:
    body = node.keys("sensor", {"node": True, "fault": True, "for": False, "rate": False, "size": False,
                                "per_hour": False})
    kind = body["fault"].text("fault")
    if kind not in SENSOR_FAULTS:
        raise body["fault"].error(f"unknown sensor fault {kind!r}; known: {', '.join(SENSOR_FAULTS)}")
    rate = body["rate"].number("rate") if "rate" in body else None
    if rate is not None and not 0 <= rate <= 1:
        raise body["rate"].error("rate is the fraction of reads affected, between 0 and 1")
    return SensorFault(
        body["node"].text("node"), kind,
        duration=body["for"].duration("for") if "for" in body else None,
        rate=rate,
        size=body["size"].number("size") if "size" in body else 10.0,
        per_hour=body["per_hour"].number("per_hour") if "per_hour" in body else 2.0,
    )


def _wifi(node: YamlValue) -> object:
    body = node.keys("wifi", {"node": True, "rssi": False, "for": False, "drop_for": False})
    name = body["node"].text("node")
    if "drop_for" in body:
        if "rssi" in body or "for" in body:
            raise node.error("a wifi event has either drop_for, or rssi with an optional for")
        return WifiDrop(name, body["drop_for"].duration("drop_for"))
    if "rssi" in body:
        rssi = body["rssi"].number("rssi")
        if not -110 <= rssi <= -20:
            raise body["rssi"].error(f"rssi is a signal level in dBm between -110 and -20, got {rssi:g}")
        return WifiWeak(name, rssi, body["for"].duration("for") if "for" in body else None)
    raise node.error("a wifi event needs rssi (e.g. rssi: -85, for: 10m) or drop_for (e.g. drop_for: 5m)")


def _clock(node: YamlValue) -> object:
    body = node.keys("clock", {"node": True, "jump": False, "skew": False, "for": False})
    name = body["node"].text("node")
    if ("jump" in body) == ("skew" in body):
        raise node.error("a clock event has jump: -1h (now, for good) or skew: 10m with for: 2h (then SNTP "
                         "sets it right)")
    how = "jump" if "jump" in body else "skew"
    raw = body[how].text(how).strip()
    sign = -1.0 if raw.startswith("-") else 1.0
    shift = sign * YamlValue(raw.lstrip("+-"), body[how].line, body[how].ctx).duration(how)
    if how == "jump" and "for" in body:
        raise body["for"].error("a jump lasts until SNTP sets the clock after a power cut; use skew with for")
    if how == "skew" and "for" not in body:
        raise node.error("a skew needs 'for' (how long until SNTP sets the clock right)")
    return ClockShift(name, shift, how, body["for"].duration("for") if "for" in body else None)
