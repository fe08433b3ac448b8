"""The adversary party: a device account (``mallory``) in the fleet that attacks the others.

It logs in to the broker over its own link (``adversary~broker``) with its own account, as a stolen or
rogue device would, and acts when the timeline says (``sim.scenario.faults.adversary``):

- ``forge``: readings as the victim, on the victim's topic (the ACL drops them) and on its own topic with
  the victim's name in the payload (the bridge refuses a payload that names another node);
- ``steal_client_id``: connects with the victim's client id (refused: client ids belong to accounts);
- ``presend``: the victim's next sequence numbers, before the victim sends them, both ways as ``forge``;
- ``poison_job``: malformed job documents on the victim's Jobs topics (the ACL drops them).

Each act is traced (``adversary.acted`` with what it sent and how many got through the broker); the
broker traces each refusal (``client.refused``, ``publish.refused``) where it happens.
"""

from __future__ import annotations

import json
from typing import Any

from firmware.reading import encode_reading, make_reading, reading_topic
from sim.models.sim_mqtt import SimMqttClient
from system.decisions.jobs_protocol import DEFAULT_PREFIX, ThingTopics
from system.errors import ConnectionLost

ACCOUNT = "mallory"
POISONS = (b"{not json", b'{"execution": {"jobId": "x", "jobDocument": {"operation": "rm -rf"}}}',
           json.dumps({"execution": {"jobId": "../../etc", "jobDocument": "A" * 5000}}).encode())


class Adversary:
    """The ``adversary`` party: ``act(act, victim, count)`` starts one attack (its control)."""

    def __init__(self, rt: Any, host: Any, link: Any):
        self.rt = rt.child("adversary")
        self.host, self.link = host, link
        self.mqtt = SimMqttClient(self.rt, host, link, ACCOUNT, clean_session=True, account=ACCOUNT)

    def act(self, act: str, victim: str, count: int) -> None:
        attack = {"forge": self._forge, "presend": self._presend, "steal_client_id": self._steal,
                  "poison_job": self._poison}[act]
        self.rt.spawn(self._traced(act, victim, attack(victim, count)), f"adversary/{act}")

    async def _traced(self, act: str, victim: str, attack: Any) -> None:
        try:
            sent = await attack
        except ConnectionLost as lost:
            self.rt.trace("adversary.acted", act=act, victim=victim, sent=0, error=str(lost)[:120])
            return
        self.rt.trace("adversary.acted", act=act, victim=victim, sent=sent)

    async def _publish(self, topic: str, payload: bytes) -> int:
        if not self.mqtt.connected:
            await self.mqtt.connect()
        await self.mqtt.publish(topic, payload, qos=1)
        return 1

    async def _as_victim(self, victim: str, seqs: range) -> int:
        sent = 0
        for seq in seqs:
            body = encode_reading(make_reading(victim, 1, seq, int(self.rt.now()), 215, 402, -60))
            sent += await self._publish(reading_topic(victim), body)  # the ACL: not hers to write
            sent += await self._publish(reading_topic(ACCOUNT), body)  # hers, but naming another node
        return sent

    async def _forge(self, victim: str, count: int) -> int:
        return await self._as_victim(victim, range(900_000, 900_000 + count))

    async def _presend(self, victim: str, count: int) -> int:
        return await self._as_victim(victim, range(1, count + 1))

    async def _steal(self, victim: str, count: int) -> int:
        taken = 0
        for _ in range(count):
            thief = SimMqttClient(self.rt, self.host, self.link, victim, clean_session=False, account=ACCOUNT)
            try:
                await thief.connect()
                taken += 1
                await thief.disconnect()
            except ConnectionLost:
                pass  # refused: the id is not hers
        return taken

    async def _poison(self, victim: str, count: int) -> int:
        topics = ThingTopics.of(DEFAULT_PREFIX, victim)
        sent = 0
        for i in range(count):
            sent += await self._publish(topics.notify_next, POISONS[i % len(POISONS)])
            sent += await self._publish(topics.start_accepted, POISONS[i % len(POISONS)])
        return sent
