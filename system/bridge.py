"""The bridge: MQTT readings in, validated and de-duplicated, into SQLite.

The same code runs in sim (MQTT port over simulated links) and live (amqtt
client). Nothing it receives can crash it: every refusal is a counted reason
and a ``reading.refused`` trace line; QoS 1 redelivery is absorbed by the
(node, seq) identity, so each reading is stored exactly once.
"""

from __future__ import annotations

from collections import Counter

from firmware.backoff import next_backoff
from system.errors import RefusedInput
from system.reading_store import ReadingStore
from system.readings import LEGACY_TOPIC, decode_reading

TOPICS = ("sensors/+/reading", LEGACY_TOPIC)


class Bridge:
    def __init__(self, rt, mqtt, store: ReadingStore, *, topics: tuple[str, ...] = TOPICS):
        self.rt = rt
        self.mqtt = mqtt
        self.store = store
        self.topics = topics
        self.stored = 0
        self.duplicates = 0
        self.refused: Counter[str] = Counter()
        self._rng = rt.rng("bridge/backoff")

    async def run(self) -> None:
        """Connect, subscribe, consume; reconnect with backoff whenever the connection drops."""
        attempt = 0
        while True:
            try:
                await self.mqtt.connect()
                for topic in self.topics:
                    await self.mqtt.subscribe(topic, 1)
                attempt = 0
                while True:
                    msg = await self.mqtt.next_message()
                    self.handle(msg.topic, msg.payload)
            except ConnectionError:
                attempt += 1
                await self.rt.sleep(next_backoff(attempt, self._rng, base=0.5, cap=30.0))

    def handle(self, topic: str, payload: bytes) -> str:
        """Take one message; returns 'stored', 'duplicate' or 'refused'."""
        try:
            reading = decode_reading(topic, payload)
        except RefusedInput as refusal:
            self.refused[refusal.reason] += 1
            self.rt.trace("reading.refused", topic=topic[:80], reason=refusal.reason, detail=refusal.detail)
            return "refused"
        if not self.store.add(reading, received=self.rt.now()):
            self.duplicates += 1
            self.rt.trace("reading.duplicate", node=reading.node, seq=reading.seq)
            return "duplicate"
        self.stored += 1
        self.rt.trace("reading.stored", node=reading.node, seq=reading.seq)
        return "stored"
