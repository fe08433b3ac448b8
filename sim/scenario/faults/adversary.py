"""The adversary party's acts: a device account in the fleet that attacks the others.

``adversary: {forge: node-2}`` publishes readings as node-2 (on node-2's topic, and on its own topic
with node-2 in the payload); ``{steal_client_id: bridge}`` connects with another party's client id;
``{presend: node-1, count: 50}`` publishes node-1's next sequence numbers before node-1 does;
``{poison_job: controller}`` sends malformed job documents on the controller's Jobs topics. The broker
enforces the live broker's ACL and client-id rules in sim too (``sim.models.broker_policy``), and the
adversary model (``sim.models.adversary``) traces each act and what became of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from sim.scenario.controls import Stage
from sim.scenario.faults.names import ADVERSARY
from sim.scenario.yaml_value import YamlValue

ACTS = ("forge", "steal_client_id", "presend", "poison_job")


@dataclass(frozen=True)
class AdversaryAct:
    """The adversary does ``act`` against party ``victim``, ``count`` times (messages or attempts)."""

    act: str
    victim: str
    count: int = 5
    control: ClassVar[str] = "adversary"
    target: ClassVar[str] = ADVERSARY
    trace_kind: ClassVar[str] = "fault.adversary"

    def needs(self) -> tuple[str, ...]:
        return ("an adversary device",)

    def apply(self, adversary: Any, stage: Stage) -> None:
        adversary.act(self.act, self.victim, self.count)


def _adversary(node: YamlValue) -> object:
    body = node.keys("adversary", {**{act: False for act in ACTS}, "count": False})
    acts = [act for act in ACTS if act in body]
    if len(acts) != 1:
        raise node.error(f"an adversary event names one act: {', '.join(ACTS)} (its victim: a party)")
    count = body["count"].integer("count", minimum=1) if "count" in body else 5
    return AdversaryAct(acts[0], body[acts[0]].text("the victim"), count)
