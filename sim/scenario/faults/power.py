"""Power faults: a party loses its power for a while, or browns out (cuts shorter than a boot)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from sim.scenario.controls import PowerControl, Stage
from sim.scenario.yaml_value import YamlValue


@dataclass(frozen=True)
class PowerLoss:
    """A party loses power for ``duration`` seconds, then boots again: the controller (its disk is kept) or a
    simulated sensor node (its RAM and buffer are lost, its flash with the boot counter is kept:
    ``sim.models.power.NodePower``). A board has no power control the run could use: refused at load."""

    party: str
    duration: float
    control: ClassVar[str] = "power"

    @property
    def target(self) -> str:
        return self.party

    def needs(self) -> tuple[str, ...]:
        return ("a power control",)

    def apply(self, power: PowerControl, stage: Stage) -> None:
        power.power_loss(self.duration)


@dataclass(frozen=True)
class BrownOut:
    """A party's supply sags ``dips`` times, ``every`` seconds apart, each dip ``off_for`` seconds: cuts
    shorter than a boot, so the party may go down again while it is still starting."""

    party: str
    dips: int
    off_for: float = 0.2
    every: float = 1.0
    control: ClassVar[str] = "power"
    trace_kind: ClassVar[str] = "fault.brownout"

    @property
    def target(self) -> str:
        return self.party

    def needs(self) -> tuple[str, ...]:
        return ("a power control",)

    def apply(self, power: PowerControl, stage: Stage) -> None:
        for i in range(self.dips):
            stage.later(i * self.every, lambda: power.power_loss(self.off_for), f"{self.party}/brownout")


def _power(node: YamlValue) -> object:
    body = node.keys("power", {"party": True, "off_for": True})
    return PowerLoss(body["party"].text("party"), body["off_for"].duration("off_for"))


def _brownout(node: YamlValue) -> object:
    body = node.keys("brownout", {"party": True, "dips": True, "off_for": False, "every": False})
    off_for = body["off_for"].duration("off_for") if "off_for" in body else 0.2
    every = body["every"].duration("every") if "every" in body else 1.0
    if off_for >= every:
        raise node.error(f"each dip (off_for) must end before the next one (every): {off_for:g}s >= {every:g}s")
    return BrownOut(body["party"].text("party"), body["dips"].integer("dips", minimum=1), off_for, every)
