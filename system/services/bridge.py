"""The bridge: MQTT readings in, validated and de-duplicated, into SQLite and Prometheus.

The same code runs in sim (MQTT port over simulated links) and live (paho-mqtt
port, ``system/adapters/mqtt_client.py``). Nothing it receives can crash it: every refusal is
a counted reason and a ``reading.refused`` trace line; QoS 1 redelivery is absorbed
by the store's identity, so each reading is stored exactly once.

Subscribed: ``sensors/+/reading`` and the original project's ``/topic/qos1``
(readings without identity belong to ``legacy_node``; see ``system/decisions/readings.py``).
A reading whose node clock was not set (``ts`` 0) is dated on arrival by the
bridge's clock (``taken`` = ``received`` in the store, ``ts`` stays 0).

Exports: after each stored reading, the node's latest values go to the optional
``ReadingPusher`` (Pushgateway, original shape); ``exposition()`` is the bridge's
own ``/metrics`` text (readings stored, duplicates, refusals by reason, lag).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from firmware.backoff import next_backoff
from system.errors import RefusedInput
from system.services.prometheus import Family, Histogram, render
from system.adapters.reading_store import ReadingStore
from system.decisions.readings import LEGACY_NODE, LEGACY_TOPIC, REASONS, decode_reading

TOPICS = ("sensors/+/reading", LEGACY_TOPIC)
BATCH = 500  # messages stored in one transaction at most


def _printable(text: str, limit: int = 120) -> str:
    """Text safe for a UTF-8 trace line (no lone surrogates), cut to ``limit``."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")[:limit]


class Bridge:
    """Service: consume readings from the MQTT port, store them once, export them.

    ``rt`` is the bridge party's runtime view, ``mqtt`` the MQTT port (connect,
    subscribe, next_message, received, ack; failures raise ConnectionError; created with
    ``manual_ack`` so a QoS 1 message is acknowledged only once it is stored), ``store`` the
    ReadingStore, ``pusher`` an optional ReadingPusher (its ``run`` is started by ``run``).

    Group commit: the messages that have already arrived when the bridge wakes (up to
    ``batch``, from the port's ``received``) are stored in one transaction and acknowledged
    after its commit. It never waits for a burst to fill, so a lone reading is stored at once.
    """

    def __init__(self, rt: Any, mqtt: Any, store: ReadingStore, *, topics: tuple[str, ...] = TOPICS,
                 legacy_node: str = LEGACY_NODE, pusher: Any = None, batch: int = BATCH):
        self.rt = rt
        self.mqtt = mqtt
        self.store = store
        self.topics = topics
        self.legacy_node = legacy_node
        self.pusher = pusher
        self.batch = batch
        self.stored_by_node: Counter[str] = Counter()
        self.duplicates_by_node: Counter[str] = Counter()
        self.unclocked_by_node: Counter[str] = Counter()
        self.refused: Counter[str] = Counter({reason: 0 for reason in REASONS})
        self.last_taken: dict[str, float] = {}
        self.lag = Histogram()
        self.connects = 0
        self._rng = rt.rng("bridge/backoff")

    @property
    def stored(self) -> int:
        return sum(self.stored_by_node.values())

    @property
    def duplicates(self) -> int:
        return sum(self.duplicates_by_node.values())

    @property
    def refusals(self) -> int:
        return sum(self.refused.values())

    async def run(self) -> None:
        """Connect, subscribe, consume; reconnect with backoff whenever the connection drops."""
        if self.pusher is not None:
            self.rt.spawn(self.pusher.run(), "bridge/pusher")
        attempt = 0
        while True:
            try:
                present = await self.mqtt.connect()
                if present:
                    # The broker may first redeliver what we had not acked and wait for those
                    # acks before it answers a SUBSCRIBE (amqtt does): consume while renewing.
                    self.rt.spawn(self._renew_subscriptions(), "bridge/subscribe")
                else:
                    await self._subscribe()
                self.connects += 1
                self.rt.trace("bridge.connected", session_present=bool(present), attempts=attempt + 1)
                attempt = 0
                while True:
                    burst = [await self.mqtt.next_message()]
                    if self.batch > 1:
                        burst += self.mqtt.received(self.batch - 1)
                    with self.store.transaction():
                        for msg in burst:
                            self.handle(msg.topic, msg.payload)
                    for msg in burst:
                        self.mqtt.ack(msg)  # only now: a crash before the commit gets the messages redelivered
            except ConnectionError as exc:
                attempt += 1
                delay = next_backoff(attempt, self._rng, base=0.5, cap=30.0)
                self.rt.trace("bridge.disconnected", error=_printable(str(exc)), retry_in=delay)
                await self.rt.sleep(delay)

    async def _subscribe(self) -> None:
        for topic in self.topics:
            await self.mqtt.subscribe(topic, 1)

    async def _renew_subscriptions(self) -> None:
        try:
            await self._subscribe()
        except ConnectionError:
            pass  # the consuming loop sees the same loss and reconnects

    def handle(self, topic: str, payload: bytes) -> str:
        """Take one message; returns 'stored', 'duplicate' or 'refused'. Never raises on bad input."""
        try:
            reading = decode_reading(topic, payload, legacy_node=self.legacy_node)
        except RefusedInput as refusal:
            return self._refuse(topic, refusal.reason, refusal.detail)
        except Exception as exc:  # a decoder bug must not stop the bridge; counted and traced loudly
            return self._refuse(topic, "decoder_error", repr(exc))
        received = self.rt.now()
        if not self.store.add(reading, received=received):
            self.duplicates_by_node[reading.node] += 1
            self.rt.trace("reading.duplicate", node=reading.node, seq=reading.seq)
            return "duplicate"
        self.stored_by_node[reading.node] += 1
        if reading.clock_set:
            lag = received - reading.ts
            self.lag.observe(lag)
            self.last_taken[reading.node] = max(reading.ts, self.last_taken.get(reading.node, reading.ts))
            self.rt.trace("reading.stored", node=reading.node, seq=reading.seq, lag=lag)
        else:
            self.unclocked_by_node[reading.node] += 1
            self.last_taken[reading.node] = received
            self.rt.trace("reading.stored", node=reading.node, seq=reading.seq, clock="unset")
        if self.pusher is not None:
            self.pusher.offer(reading)
        return "stored"

    def _refuse(self, topic: str, reason: str, detail: str) -> str:
        self.refused[reason] += 1
        self.rt.trace("reading.refused", topic=_printable(topic, 80), reason=reason, detail=_printable(detail))
        return "refused"

    def exposition(self) -> str:
        """The bridge's own metrics in the Prometheus text format (served on ``/metrics``)."""
        def per(label: str, counts: Any) -> tuple:
            return tuple(("", {label: key}, counts[key]) for key in sorted(counts))

        families = [
            Family("bridge_readings_stored_total", "counter", "Readings stored, per node.",
                   per("node", self.stored_by_node)),
            Family("bridge_readings_duplicate_total", "counter",
                   "Readings received again (QoS 1 redelivery, re-sent buffer) and not stored twice.",
                   per("node", self.duplicates_by_node)),
            Family("bridge_readings_unclocked_total", "counter",
                   "Readings sent with ts 0 (node clock not set), dated on arrival by the bridge.",
                   per("node", self.unclocked_by_node)),
            Family("bridge_readings_refused_total", "counter", "Messages refused, by reason.",
                   per("reason", self.refused)),
            Family("bridge_last_reading_timestamp_seconds", "gauge",
                   "Unix time the newest stored reading of each node was taken.", per("node", self.last_taken)),
            self.lag.family("bridge_reading_lag_seconds",
                            "Seconds from a reading's ts (node clock) to its storage by the bridge."),
            Family("bridge_mqtt_connected", "gauge", "1 while the bridge's MQTT session is up.",
                   (("", {}, int(bool(getattr(self.mqtt, "connected", False)))),)),
            Family("bridge_mqtt_connects_total", "counter", "MQTT sessions the bridge opened.",
                   (("", {}, self.connects),)),
        ]
        if self.pusher is not None:
            families += [
                Family("bridge_pushes_total", "counter", "Pushes the Pushgateway accepted.",
                       (("", {}, self.pusher.pushes),)),
                Family("bridge_push_failures_total", "counter", "Pushes that failed (and are retried).",
                       (("", {}, self.pusher.failures),)),
                Family("bridge_push_pending", "gauge", "Nodes whose latest reading is not pushed yet.",
                       (("", {}, len(self.pusher.pending)),)),
            ]
        return render(families)
