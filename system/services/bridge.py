"""The bridge: MQTT readings in, validated and de-duplicated, into SQLite and Prometheus.

The same code runs in sim (MQTT port over simulated links) and live (paho-mqtt
port, ``system/adapters/mqtt_client.py``). Nothing it receives can crash it: every refusal is
a counted reason and a ``reading.refused`` trace line; QoS 1 redelivery is absorbed
by the store's identity, so each reading is stored exactly once.

Subscribed: every node's reading topic and the original project's legacy topic
(``BRIDGE_FILTERS`` in ``firmware/reading.py``; readings without identity belong to
``legacy_node``, see ``system/decisions/readings.py``).
A reading whose node clock was not set (``ts`` 0) is dated on arrival by the
bridge's clock (``taken`` = ``received`` in the store, ``ts`` stays 0).

Exports: after each stored reading, the node's latest values go to the optional
``ReadingPusher`` (Pushgateway, original shape); ``exposition()`` is the bridge's
own ``/metrics`` text (readings stored, duplicates, refusals by reason, lag, readings
missing and boots seen per node), rendered from the bridge's own ``CollectorRegistry``
when scraped.

Missing readings: per node, the sequence gaps among stored ``(boot, seq)`` identities
(the rule is ``system/decisions/sequence_gaps.py``): a gap is traced ``reading.missing``
(node, boot, from, to) and counted; a late reading that fills one is traced
``reading.late`` and taken back off. The counts are replayed from the store when the
bridge starts, so a restart does not reset them.

A session taken away: a broker may hand the bridge's session to another connection
(the same client id, or an expired session) without closing the bridge's own, which then
stays up and is fed nothing. With ``probe_every`` the bridge publishes a probe to its own
``probe_topic`` that often; when one has not come back ``probe_every`` seconds later and
nothing else arrived meanwhile either (a long backlog delays the probe, but feeds the
bridge), the session is not the bridge's any more: ``bridge.session_lost`` is traced and
counted, and the bridge disconnects and connects again, which takes the session back. A persistent
session the broker answers as not present on a reconnect is lost too (traced, counted,
and subscribed afresh).
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from firmware.backoff import next_backoff
from firmware.reading import BRIDGE_FILTERS
from system.errors import RefusedInput
from system.mqtt.port import MqttPort
from system.ports import ReadingSink, Runtime
from system.services.prometheus import LagHistogram, exposition
from system.decisions.readings import LEGACY_NODE, REASONS, Reading, decode_reading
from system.decisions.sequence_gaps import SequenceGaps

TOPICS = BRIDGE_FILTERS  # what the bridge subscribes to unless told otherwise
BATCH = 500  # messages stored in one transaction at most


def _identity(reading: Reading) -> dict[str, Any]:
    """A reading's identity for trace lines: boot only when the payload carried one."""
    if reading.boot is None:
        return {"node": reading.node, "seq": reading.seq}
    return {"node": reading.node, "boot": reading.boot, "seq": reading.seq}


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

    def __init__(self, rt: Runtime, mqtt: MqttPort, store: ReadingSink, *, topics: tuple[str, ...] = TOPICS,
                 legacy_node: str = LEGACY_NODE, pusher: Any = None, batch: int = BATCH,
                 probe_topic: str | None = None, probe_every: float | None = None, remote: Any = None):
        self.rt = rt
        self.mqtt = mqtt
        self.store = store
        self.topics = topics
        self.legacy_node = legacy_node
        self.pusher = pusher
        self.remote = remote
        # Each takes every stored reading (offer), runs as its own task, and adds its counters to /metrics.
        self.exporters = [e for e in (pusher, remote) if e is not None]
        self.batch = batch
        self.probe_topic = probe_topic if probe_every else None
        self.probe_every = probe_every
        self.probes = 0  # probes sent
        self._probe_seen = 0  # the newest probe that came back
        self._arrived = 0  # messages received: a bridge being fed is not probed out of its session
        self._drained: tuple[Any, int] | None = None  # drain(): (event, the probe it waits for)
        self.on_subscribed: Any = None  # called after each full subscription (a broker may open its doors then)
        self.sessions_lost = 0
        self._after_commit: list | None = None  # inside a burst: what to announce after its commit
        self.stored_by_node: Counter[str] = Counter()
        self.duplicates_by_node: Counter[str] = Counter()
        self.unclocked_by_node: Counter[str] = Counter()
        self.refused: Counter[str] = Counter({reason: 0 for reason in REASONS})
        self.last_taken: dict[str, float] = {}
        self.lag = LagHistogram()
        self.connects = 0
        self.gaps: dict[str, SequenceGaps] = {}
        for node, boot, first, last in store.identity_runs():  # what is missing, as when the bridge stopped
            self.gaps.setdefault(node, SequenceGaps()).see_run(boot, first, last)
        self._rng = rt.rng("bridge/backoff")
        self.registry = CollectorRegistry(auto_describe=True)  # this bridge's series only, never the global one
        self.registry.register(self)
        for exporter in self.exporters:
            self.registry.register(exporter)

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
        for exporter in self.exporters:
            self.rt.spawn(exporter.run(), "bridge/pusher" if exporter is self.pusher else "bridge/remote-write")
        attempt = 0
        while True:
            try:
                present = await self.mqtt.connect()
                if not present and self.connects:
                    self._session_lost("the broker no longer had the session")
                if present:
                    # The broker may first redeliver what we had not acked and wait for those
                    # acks before it answers a SUBSCRIBE (amqtt does): consume while renewing.
                    self.rt.spawn(self._renew_subscriptions(), "bridge/subscribe")
                else:
                    await self._subscribe()
                self.connects += 1
                self.rt.trace("bridge.connected", session_present=bool(present), attempts=attempt + 1)
                attempt = 0
                await self._consume()
            except ConnectionError as exc:
                attempt += 1
                delay = next_backoff(attempt, self._rng, base=0.5, cap=30.0)
                self.rt.trace("bridge.disconnected", error=_printable(str(exc)), retry_in=delay)
                await self.rt.sleep(delay)

    async def _consume(self) -> None:
        """Store what arrives, a burst per transaction, until the connection drops (ConnectionError)."""
        watch = self.rt.spawn(self._watch_feed(), "bridge/probe") if self.probe_topic else None
        try:
            while True:
                burst = [await self.mqtt.next_message()]
                if self.batch > 1:
                    burst += self.mqtt.received(self.batch - 1)
                self._arrived += len(burst)
                self._after_commit = []
                try:
                    with self.store.transaction():
                        for msg in burst:
                            self.handle(msg.topic, msg.payload)
                finally:
                    done, self._after_commit = self._after_commit, None
                for announce in done:  # the trace lines and pushes of what is now committed
                    announce()
                for msg in burst:
                    self.mqtt.ack(msg)  # only now: a crash before the commit gets the messages redelivered
        finally:
            if watch is not None:
                watch.cancel()

    async def _watch_feed(self) -> None:
        """Probe the session every ``probe_every`` s; fed nothing since the last probe, not even it: let it go."""
        arrived = self._arrived
        while True:
            await self.rt.sleep(self.probe_every)
            if self._probe_seen < self.probes and self._arrived == arrived:
                self._session_lost(f"probe {self.probes} not back within {self.probe_every:g} s")
                await self.mqtt.disconnect()  # the consuming loop sees the loss and connects again
                return
            arrived = self._arrived
            self.probes += 1
            try:
                await self.mqtt.publish(self.probe_topic, str(self.probes).encode(), 1, False)
            except ConnectionError:
                return  # the consuming loop sees the same loss

    async def drain(self, timeout: float) -> bool:
        """True once everything the broker had queued for the bridge before this call is stored and
        acknowledged: a probe published now comes back behind it (one session delivers in order), and it is
        seen only after the burst it came in has committed. False when it is not back within ``timeout``
        seconds (not connected, or no probe topic). A graceful stop calls it before the broker goes."""
        if self.probe_topic is None:
            return False
        self.probes += 1
        self._drained = (self.rt.event(), self.probes)
        try:
            await self.mqtt.publish(self.probe_topic, str(self.probes).encode(), 1, False)
            await self.rt.wait_for(self._drained[0].wait(), timeout)
            return True
        except (TimeoutError, ConnectionError):
            return False
        finally:
            self._drained = None

    def _probe_stored(self, number: int) -> None:
        if self._drained is not None and number >= self._drained[1]:
            self._drained[0].set()

    def _session_lost(self, why: str) -> None:
        self.sessions_lost += 1
        self.rt.trace("bridge.session_lost", reason=why)

    async def _subscribe(self) -> None:
        for topic in self.topics + ((self.probe_topic,) if self.probe_topic else ()):
            await self.mqtt.subscribe(topic, 1)
        if self.on_subscribed is not None:
            self.on_subscribed()

    async def _renew_subscriptions(self) -> None:
        try:
            await self._subscribe()
        except ConnectionError:
            pass  # the consuming loop sees the same loss and reconnects

    def handle(self, topic: str, payload: bytes) -> str:
        """Take one message; returns 'stored', 'duplicate', 'refused' or 'probe'. Never raises on bad input."""
        if topic == self.probe_topic and self.probe_topic is not None:
            self._probe_seen = max(self._probe_seen, int(payload) if payload.isdigit() else 0)
            self._announce(self._probe_stored, self._probe_seen)
            return "probe"
        try:
            reading = decode_reading(topic, payload, legacy_node=self.legacy_node)
        except RefusedInput as refusal:
            return self._refuse(topic, refusal.reason, refusal.detail)
        except Exception as exc:  # a decoder bug must not stop the bridge; counted and traced loudly
            return self._refuse(topic, "decoder_error", repr(exc))
        received = self.rt.now()
        ident = _identity(reading)
        if not self.store.add(reading, received=received):
            self.duplicates_by_node[reading.node] += 1
            self._announce(self.rt.trace, "reading.duplicate", **ident)
            return "duplicate"
        self.stored_by_node[reading.node] += 1
        if reading.clock_set:
            lag = received - reading.ts
            self.lag.observe(lag)
            self.last_taken[reading.node] = max(reading.ts, self.last_taken.get(reading.node, reading.ts))
            self._announce(self.rt.trace, "reading.stored", **ident, lag=lag)
        else:
            self.unclocked_by_node[reading.node] += 1
            self.last_taken[reading.node] = received
            self._announce(self.rt.trace, "reading.stored", **ident, clock="unset")
        if reading.seq is not None:
            self._count_gaps(reading)
        for exporter in self.exporters:
            self._announce(exporter.offer, reading)
        return "stored"

    def _count_gaps(self, reading: Reading) -> None:
        change = self.gaps.setdefault(reading.node, SequenceGaps()).see(reading.boot_key, reading.seq)
        if change.opened is not None:
            first, last = change.opened
            self._announce(self.rt.trace, "reading.missing", node=reading.node, boot=reading.boot_key,
                           **{"from": first, "to": last})
        elif change.filled:
            self._announce(self.rt.trace, "reading.late", node=reading.node, boot=reading.boot_key, seq=reading.seq)

    def _announce(self, fn: Any, *args: Any, **fields: Any) -> None:
        """Trace or push now, or, inside a burst, once its transaction has committed (a killed
        bridge never traced a reading as stored that SQLite does not have)."""
        if self._after_commit is None:
            fn(*args, **fields)
        else:
            self._after_commit.append(lambda: fn(*args, **fields))

    def _refuse(self, topic: str, reason: str, detail: str) -> str:
        self.refused[reason] += 1
        self._announce(self.rt.trace, "reading.refused", topic=_printable(topic, 80), reason=reason,
                       detail=_printable(detail))
        return "refused"

    def exposition(self) -> str:
        """The bridge's own metrics in the Prometheus text format (served on ``/metrics``)."""
        return exposition(self.registry)

    def collect(self) -> Iterator[Metric]:
        """The bridge's series, computed from its counters now (a ``prometheus_client`` collector)."""
        def per(family: Any, counts: Any) -> Any:
            for key in sorted(counts):
                family.add_metric([key], counts[key])
            return family

        yield per(CounterMetricFamily("bridge_readings_stored", "Readings stored, per node.", labels=["node"]),
                  self.stored_by_node)
        yield per(CounterMetricFamily(
            "bridge_readings_duplicate",
            "Readings received again (QoS 1 redelivery, re-sent buffer) and not stored twice.", labels=["node"]),
            self.duplicates_by_node)
        yield per(CounterMetricFamily(
            "bridge_readings_unclocked",
            "Readings sent with ts 0 (node clock not set), dated on arrival by the bridge.", labels=["node"]),
            self.unclocked_by_node)
        yield per(CounterMetricFamily("bridge_readings_refused", "Messages refused, by reason.", labels=["reason"]),
                  self.refused)
        # A gauge, though named _total: a late reading takes its seq back off (see sequence_gaps).
        yield per(GaugeMetricFamily(
            "bridge_readings_missing_total",
            "Readings missing from each node's sequence (gaps among stored seqs of a boot), per node.",
            labels=["node"]), {node: gaps.missing for node, gaps in self.gaps.items()})
        yield per(GaugeMetricFamily("bridge_node_boots", "Boots of each node seen in its stored readings.",
                                    labels=["node"]), {node: gaps.boots for node, gaps in self.gaps.items()})
        yield per(GaugeMetricFamily("bridge_last_reading_timestamp_seconds",
                                    "Unix time the newest stored reading of each node was taken.", labels=["node"]),
                  self.last_taken)
        yield self.lag.family("bridge_reading_lag_seconds",
                              "Seconds from a reading's ts (node clock) to its storage by the bridge.")
        yield GaugeMetricFamily("bridge_mqtt_connected", "1 while the bridge's MQTT session is up.",
                                value=int(bool(getattr(self.mqtt, "connected", False))))
        yield CounterMetricFamily("bridge_mqtt_connects", "MQTT sessions the bridge opened.", value=self.connects)
        yield CounterMetricFamily(
            "bridge_mqtt_sessions_lost",
            "Times the broker took the bridge's session away (a probe not fed back, a session not present).",
            value=self.sessions_lost)
