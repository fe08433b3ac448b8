"""The bridge in the sim runtime, over the broker model and simulated links."""

import json

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from sim.models.sim_mqtt import BrokerHost, SimMqttClient
from sim.models.network import Network
from sim.kernel.runtime import SimRuntime
from system.services.bridge import Bridge
from sim.models.push_recorder import RecordingPushTarget
from system.services.prometheus import ReadingPusher
from system.adapters.reading_store import ReadingStore
from firmware.reading import LEGACY_TOPIC
from system.errors import ConnectionLost
from system.mqtt.message import Message
from system.trace import Trace

START = 1_773_471_600.0  # 2026-03-14 08:00 CET


class World:
    """A broker, the bridge (persistent session) and one publishing node, each on its own link."""

    def __init__(self, *, pusher: bool = False, legacy_node: str = "legacy"):
        self.trace = Trace({"test": "bridge"})
        self.rt = SimRuntime(seed=1, start=START, trace=self.trace)
        self.host = BrokerHost(self.rt)
        net = Network(self.rt)
        self.bridge_link = net.link("bridge", "broker", latency=0.01)
        brt = self.rt.child("bridge")
        self.target = RecordingPushTarget(brt)
        self.bridge = Bridge(brt, SimMqttClient(brt, self.host, self.bridge_link, "bridge", clean_session=False),
                             ReadingStore(), legacy_node=legacy_node,
                             pusher=ReadingPusher(brt, self.target, base=1.0, cap=8.0) if pusher else None)
        self.node = SimMqttClient(self.rt.child("node-1"), self.host, net.link("node-1", "broker"), "node-1")

    def run(self, script, until: float = 600.0) -> None:
        async def main():
            self.rt.spawn(self.bridge.run(), "bridge")
            await self.rt.sleep(1.0)
            await self.node.connect()
            await script()
            await self.rt.sleep(5.0)

        self.rt.run(main(), until=until)

    def kinds(self, kind: str) -> list[dict]:
        return self.trace.of_kind(kind)


def reading(seq: int, ts: float = START, node: str = "node-1", temperature: float = 21.5,
            boot: int | None = None) -> bytes:
    doc = {"node": node, "seq": seq, "ts": ts, "temperature": temperature, "humidity": 40.2, "wifi_rssi": -61}
    if boot is not None:
        doc["boot"] = boot
    return json.dumps(doc).encode()


def test_a_reading_published_twice_is_stored_once():
    w = World()

    async def script():
        for seq in (1, 2, 2, 3, 1):
            await w.node.publish("sensors/node-1/reading", reading(seq), qos=1)

    w.run(script)
    assert w.bridge.store.sequences("node-1") == [1, 2, 3]
    assert (w.bridge.stored, w.bridge.duplicates) == (3, 2)
    assert [r["seq"] for r in w.kinds("reading.duplicate")] == [2, 1]


def test_readings_published_while_the_bridge_is_away_arrive_once_it_is_back():
    """The bridge's persistent session queues QoS 1 messages; nothing is lost or stored twice."""
    w = World()

    async def script():
        await w.node.publish("sensors/node-1/reading", reading(1), qos=1)
        await w.rt.sleep(1.0)
        w.bridge_link.set_down()
        for seq in range(2, 12):
            await w.node.publish("sensors/node-1/reading", reading(seq), qos=1)
        await w.rt.sleep(30.0)
        w.bridge_link.set_up()
        await w.rt.sleep(60.0)

    w.run(script)
    assert w.bridge.store.sequences("node-1") == list(range(1, 12))
    assert w.bridge.connects >= 2 and w.kinds("bridge.disconnected")
    assert w.bridge.duplicates == 0 and w.bridge.refusals == 0


def test_the_original_payload_on_the_legacy_topic_is_stored_under_the_legacy_node():
    w = World(legacy_node="esp32-a1b2c3d4")
    legacy = json.dumps({"temperature": 21.5, "humidity": 40.2, "wifi_rssi": -61, "ts": 1_773_471_000}).encode()
    unclocked = json.dumps({"temperature": 20.0, "humidity": 41.0, "wifi_rssi": -70, "ts": 0}).encode()

    async def script():
        await w.node.publish(LEGACY_TOPIC, legacy, qos=1)
        await w.node.publish(LEGACY_TOPIC, legacy, qos=1)  # a redelivered copy: the same bytes
        await w.node.publish(LEGACY_TOPIC, unclocked, qos=1)
        await w.rt.sleep(10.0)
        await w.node.publish(LEGACY_TOPIC, unclocked, qos=1)  # ts 0: nothing tells it from a new reading

    w.run(script)
    rows = w.bridge.store.rows("esp32-a1b2c3d4")
    assert [(r["seq"], r["ts"], r["temperature"]) for r in rows] == [
        (None, 1_773_471_000, 21.5), (None, 0, 20.0), (None, 0, 20.0)]
    assert w.bridge.duplicates == 1
    assert rows[2]["taken"] - rows[1]["taken"] >= 10.0


def test_a_reading_without_a_clock_is_dated_on_arrival_and_keeps_ts_zero():
    w = World()

    async def script():
        await w.rt.sleep(100.0)
        await w.node.publish("sensors/node-1/reading", reading(1, ts=0), qos=1)
        await w.node.publish("sensors/node-1/reading", reading(2, ts=START + 100.0), qos=1)

    w.run(script)
    first, second = sorted(w.bridge.store.rows("node-1"), key=lambda r: r["seq"])
    assert first["ts"] == 0 and START + 101.0 <= first["taken"] == first["received"] < START + 102.0
    assert second["taken"] == second["ts"] == START + 100.0 and second["received"] > second["ts"]
    assert w.bridge.unclocked_by_node == {"node-1": 1}
    assert w.bridge.lag.count == 1 and 1.0 < w.bridge.lag.total < 2.0
    stored = w.kinds("reading.stored")
    assert stored[0]["clock"] == "unset" and "lag" in stored[1]


def test_bad_messages_are_refused_and_the_bridge_keeps_storing():
    w = World()

    async def script():
        await w.node.publish("sensors/node-1/reading", b"\xff\xfe", qos=1)
        await w.node.publish("sensors/node-1/reading", reading(1, temperature=999.0), qos=1)
        await w.node.publish("sensors/node-2/reading", reading(2), qos=1)
        await w.node.publish("sensors/node-1/reading", reading(3), qos=1)

    w.run(script)
    assert w.bridge.store.sequences("node-1") == [3]
    assert {k: v for k, v in w.bridge.refused.items() if v} == {"not_utf8": 1, "out_of_range": 1, "node_mismatch": 1}
    assert [r["reason"] for r in w.kinds("reading.refused")] == ["not_utf8", "out_of_range", "node_mismatch"]


def test_a_push_target_that_fails_loses_no_reading_and_gets_the_latest_values_when_back():
    w = World(pusher=True)

    async def script():
        await w.node.publish("sensors/node-1/reading", reading(1, temperature=20.0), qos=1)
        await w.rt.sleep(2.0)
        w.target.down = True
        for seq in range(2, 6):
            await w.node.publish("sensors/node-1/reading", reading(seq, temperature=20.0 + seq), qos=1)
            await w.rt.sleep(10.0)
        w.target.down = False
        await w.rt.sleep(30.0)

    w.run(script)
    assert w.bridge.store.sequences("node-1") == [1, 2, 3, 4, 5]
    assert w.bridge.pusher.failures >= 2 and len(w.kinds("metrics.failed")) == w.bridge.pusher.failures
    assert not w.bridge.pusher.pending
    jobs = [(job, _gauges(body)) for _t, job, body in w.target.pushes]
    # Reading 1 before the outage; after it only the latest (seq 5): a gauge shows the newest value.
    assert jobs == [("node-1", {"temperature": 20.0, "humidity": 40.2, "RSSI": -61.0}),
                    ("node-1", {"temperature": 25.0, "humidity": 40.2, "RSSI": -61.0})]
    exposed = _gauges(w.bridge.exposition())
    assert exposed["bridge_push_failures_total"] == w.bridge.pusher.failures
    assert (exposed["bridge_pushes_total"], exposed["bridge_push_pending"]) == (2, 0)


def _gauges(text: str) -> dict:
    """Unlabelled samples of a Prometheus text body, read by Prometheus' own parser."""
    return {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples if not s.labels}


def test_the_same_run_gives_the_same_trace():
    def once() -> str:
        w = World(pusher=True)

        async def script():
            for seq in range(1, 20):
                await w.node.publish("sensors/node-1/reading", reading(seq), qos=1)
                await w.rt.sleep(3.0)

        w.run(script)
        return w.trace.hexdigest()

    assert once() == once()


@given(st.lists(st.tuples(st.sampled_from(["node-1", "node-2"]), st.integers(1, 30)), max_size=80))
def test_any_order_and_repetition_of_readings_stores_each_once(messages):
    """Exactly once: what is stored is the set of distinct (node, seq); everything else is a duplicate."""
    rt = SimRuntime(seed=1, start=START)
    bridge = Bridge(rt, mqtt=None, store=ReadingStore())
    outcomes = [bridge.handle(f"sensors/{node}/reading", reading(seq, node=node)) for node, seq in messages]
    distinct = set(messages)
    for node in ("node-1", "node-2"):
        assert bridge.store.sequences(node) == sorted(seq for n, seq in distinct if n == node)
    assert outcomes.count("stored") == len(distinct) == bridge.stored
    assert outcomes.count("duplicate") == len(messages) - len(distinct) == bridge.duplicates


def test_messages_lost_on_a_lossy_bridge_link_are_redelivered_and_stored_once():
    """30% loss on the bridge's link (PUBLISHes and PUBACKs lost), then a reconnect: the broker redelivers
    what was not acknowledged (DUP), and the bridge stores every reading exactly once."""
    w = World()

    async def script():
        w.bridge_link.configure(loss=0.3)
        for seq in range(1, 41):
            await w.node.publish("sensors/node-1/reading", reading(seq), qos=1)
            await w.rt.sleep(1.0)
        w.bridge_link.configure(loss=0.0)
        w.bridge_link.set_down()
        await w.rt.sleep(5.0)
        w.bridge_link.set_up()
        await w.rt.sleep(60.0)

    w.run(script, until=900.0)
    assert w.bridge.store.sequences("node-1") == list(range(1, 41))
    assert w.bridge.duplicates == len(w.kinds("reading.duplicate")) > 0  # lost PUBACKs: redelivered copies
    assert w.bridge.connects >= 2


def test_a_decoder_bug_is_a_counted_refusal_and_the_bridge_keeps_storing(monkeypatch):
    """Never crashes: an unexpected exception while decoding is refused as decoder_error, counted and traced."""
    import system.services.bridge

    trace = Trace({"test": "decoder-bug"})
    rt = SimRuntime(seed=1, start=START, trace=trace)
    bridge = Bridge(rt.child("bridge"), mqtt=None, store=ReadingStore())
    real = system.services.bridge.decode_reading

    def flaky(topic, payload, **options):
        if payload == b"trigger":
            raise ZeroDivisionError("a decoder bug")
        return real(topic, payload, **options)

    monkeypatch.setattr(system.services.bridge, "decode_reading", flaky)
    assert bridge.handle("sensors/node-1/reading", b"trigger") == "refused"
    assert bridge.handle("sensors/node-1/reading", reading(1)) == "stored"
    assert bridge.refused["decoder_error"] == 1 and bridge.refusals == 1
    (refused,) = trace.of_kind("reading.refused")
    assert refused["reason"] == "decoder_error" and "ZeroDivisionError" in refused["detail"]
    assert bridge.store.sequences("node-1") == [1]


def test_a_burst_is_stored_in_one_transaction_and_acknowledged_only_after_its_commit():
    """Group commit: readings that arrive together share one commit; none is acked before it."""
    from contextlib import contextmanager

    trace = Trace({"test": "group-commit"})
    rt = SimRuntime(seed=1, start=START, trace=trace)
    host = BrokerHost(rt)
    net = Network(rt)
    commits: list[tuple[int, int]] = []  # (rows in the transaction, messages the broker still had unacked)

    class CountingStore(ReadingStore):
        @contextmanager
        def transaction(self):
            before = self.count()
            with super().transaction():
                yield
            commits.append((self.count() - before, len(host.model.owed("bridge"))))

    brt = rt.child("bridge")
    store = CountingStore()
    bridge = Bridge(brt, SimMqttClient(brt, host, net.link("bridge", "broker"), "bridge", clean_session=False,
                                       manual_ack=True), store)
    nodes = [SimMqttClient(rt.child(f"node-{i}"), host, net.link(f"node-{i}", "broker"), f"node-{i}")
             for i in range(1, 21)]

    async def publish(client, i):
        await client.connect()
        await client.publish(f"sensors/node-{i}/reading", reading(1, node=f"node-{i}"), qos=1)

    async def main():
        rt.spawn(bridge.run(), "bridge")
        await rt.sleep(1.0)
        for i, client in enumerate(nodes, start=1):
            rt.spawn(publish(client, i), f"node-{i}")
        await rt.sleep(5.0)

    rt.run(main(), until=60)
    assert store.count() == 20
    assert (20, 20) in commits  # one commit for the whole burst, every message still owed at that moment
    assert host.model.owed("bridge") == []  # and all acknowledged after it


def test_a_failed_commit_stores_none_of_the_burst():
    store = ReadingStore()
    from system.decisions.readings import decode_reading

    try:
        with store.transaction():
            store.add(decode_reading("sensors/node-1/reading", reading(1)), received=START)
            raise OSError("disk full")
    except OSError:
        pass
    assert store.count() == 0


def _per_node(text: str, name: str) -> dict[str, float]:
    return {s.labels["node"]: s.value for f in text_string_to_metric_families(text) for s in f.samples
            if s.name == name}


def test_a_reboot_starts_a_new_series_that_is_stored_whole_and_counted_as_a_boot():
    w = World()

    async def script():
        for boot, seqs in ((1, range(1, 6)), (2, range(1, 4))):
            for seq in seqs:
                await w.node.publish("sensors/node-1/reading", reading(seq, boot=boot), qos=1)

    w.run(script)
    assert w.bridge.store.sequences("node-1", boot=1) == [1, 2, 3, 4, 5]
    assert w.bridge.store.sequences("node-1", boot=2) == [1, 2, 3]
    assert w.bridge.duplicates == 0
    text = w.bridge.exposition()
    assert _per_node(text, "bridge_readings_missing_total") == {"node-1": 0.0}
    assert _per_node(text, "bridge_node_boots") == {"node-1": 2.0}
    assert [(r["boot"], r["seq"]) for r in w.kinds("reading.stored")][4:6] == [(1, 5), (2, 1)]


def test_a_sequence_gap_is_counted_and_traced_and_a_late_reading_takes_it_back_off():
    w = World()
    seen = []

    async def script():
        for seq in (1, 2, 6, 4):  # 3, 4 and 5 missing; then 4 arrives late
            await w.node.publish("sensors/node-1/reading", reading(seq, boot=3), qos=1)
            await w.rt.sleep(1.0)
            seen.append(_per_node(w.bridge.exposition(), "bridge_readings_missing_total"))

    w.run(script)
    assert seen == [{"node-1": 0.0}, {"node-1": 0.0}, {"node-1": 3.0}, {"node-1": 2.0}]
    assert [{k: r[k] for k in ("node", "boot", "from", "to")} for r in w.kinds("reading.missing")] == [
        {"node": "node-1", "boot": 3, "from": 3, "to": 5}]
    assert [(r["node"], r["boot"], r["seq"]) for r in w.kinds("reading.late")] == [("node-1", 3, 4)]


def test_a_restarted_bridge_counts_on_from_its_store():
    """Missing readings and boots are replayed from the store, so a restart does not reset them."""
    w = World()

    async def script():
        for boot, seq in ((1, 1), (1, 2), (1, 5), (2, 1), (2, 3)):  # missing: 1/3, 1/4, 2/2
            await w.node.publish("sensors/node-1/reading", reading(seq, boot=boot), qos=1)

    w.run(script)
    restarted = Bridge(w.rt.child("bridge"), mqtt=None, store=w.bridge.store)
    text = restarted.exposition()
    assert _per_node(text, "bridge_readings_missing_total") == {"node-1": 3.0}
    assert _per_node(text, "bridge_node_boots") == {"node-1": 2.0}
    assert restarted.handle("sensors/node-1/reading", reading(4, boot=1)) == "stored"
    assert _per_node(restarted.exposition(), "bridge_readings_missing_total") == {"node-1": 2.0}


class FeedPort:
    """An MQTT port whose broker answers CONNACKs from ``present`` and feeds probes back only if ``echo``."""

    def __init__(self, rt, present=(False, True, True, True), echo=False, backlog=0):
        self.rt, self.present, self.echo, self.backlog = rt, list(present), echo, backlog
        self.connected, self.published, self.subscribed, self.disconnects = False, [], [], 0
        self._inbox = None

    async def connect(self):
        self.connected, self._inbox = True, self.rt.queue()
        if self.backlog:
            self.rt.spawn(self._drip(), "backlog")
        return self.present.pop(0)

    async def _drip(self):
        # A long backlog: one queued reading a second, the probes stuck behind it.
        for seq in range(1, self.backlog + 1):
            await self.rt.sleep(1.0)
            self._inbox.put_nowait(Message("sensors/node-1/reading", reading(seq), 1, packet_id=seq))

    async def subscribe(self, topic, qos):
        self.subscribed.append(topic)
        return qos

    async def publish(self, topic, payload, qos=0, retain=False):
        self.published.append((topic, payload))
        if self.echo:
            self._inbox.put_nowait(Message(topic, payload, 1, packet_id=len(self.published)))

    async def next_message(self):
        item = await self._inbox.get()
        if isinstance(item, Exception):
            raise item
        return item

    def received(self, limit):
        return []

    def ack(self, msg):
        pass

    async def disconnect(self):
        self.connected = False
        self.disconnects += 1
        self._inbox.put_nowait(ConnectionLost("disconnected"))


def _run_feed(port_args: dict, seconds: float = 60.0):
    trace = Trace({"test": "feed"})
    rt = SimRuntime(seed=1, start=START, trace=trace)
    port = FeedPort(rt, **port_args)
    bridge = Bridge(rt, port, ReadingStore(), probe_topic="hilsim/probe/bridge", probe_every=5.0)
    rt.spawn(bridge.run(), "bridge")
    rt.run(until=seconds)
    return trace, port, bridge


def test_a_session_that_feeds_the_probes_back_is_kept():
    trace, port, bridge = _run_feed({"echo": True})
    assert port.subscribed == ["sensors/+/reading", "/topic/qos1", "hilsim/probe/bridge"]
    assert bridge.probes == 11 and len(port.published) == 11  # t = 5, 10, ..., 55
    assert trace.of_kind("bridge.session_lost") == [] and bridge.connects == 1 and port.disconnects == 0
    assert bridge.stored == 0 and bridge.refusals == 0  # a probe is neither a reading nor a refusal


def test_a_session_that_stops_feeding_the_bridge_is_noticed_counted_and_taken_back():
    """The broker gave the session to someone else and left our connection open (fed nothing): the probe
    sent at 5 s is not back at 10 s, so the bridge disconnects and connects again (session resumed)."""
    trace, port, bridge = _run_feed({"echo": False}, seconds=12.0)
    (lost,) = trace.of_kind("bridge.session_lost")
    assert lost["t"] == 10.0 and lost["reason"] == "probe 1 not back within 5 s"
    assert port.disconnects == 1 and bridge.connects == 2
    assert [r["session_present"] for r in trace.of_kind("bridge.connected")] == [False, True]
    assert _counter(bridge.exposition(), "bridge_mqtt_sessions_lost_total") == 1.0
    assert _counter(bridge.exposition(), "bridge_mqtt_connected") == 1.0


def test_a_bridge_fed_a_backlog_is_not_probed_out_of_its_session_though_its_probes_are_late():
    trace, port, bridge = _run_feed({"echo": False, "backlog": 40}, seconds=40.5)
    assert trace.of_kind("bridge.session_lost") == [] and bridge.stored == 40 and port.disconnects == 0
    # Once the backlog is through and nothing comes, not even the probe, the session is let go.
    trace, port, bridge = _run_feed({"echo": False, "backlog": 40}, seconds=60.0)
    assert [r["t"] for r in trace.of_kind("bridge.session_lost")][:1] == [50.0]


def test_a_persistent_session_the_broker_no_longer_has_is_a_lost_session_subscribed_afresh():
    trace, port, bridge = _run_feed({"echo": False, "present": [False, False]}, seconds=12.0)
    reasons = [r["reason"] for r in trace.of_kind("bridge.session_lost")]
    assert reasons == ["probe 1 not back within 5 s", "the broker no longer had the session"]
    assert port.subscribed.count("sensors/+/reading") == 2 and bridge.sessions_lost == 2


def _counter(text: str, name: str) -> float:
    (value,) = [s.value for f in text_string_to_metric_families(text) for s in f.samples if s.name == name]
    return value
