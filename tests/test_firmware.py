"""The sensor-node firmware under CPython: DHT22 frames, ring, backoff, readings, web, the node's loops."""

import json
import random
import re
from collections import deque

import pytest
from hypothesis import given, settings, strategies as st

from firmware import web
from firmware.backoff import next_backoff
from firmware.boot_count import MemoryFlash
from firmware.dht22 import (CHECKSUM, RANGE, TIMEOUT, SensorError, bits_frame, decode_frame, encode_frame,
                            frame_bits, tenths)
from firmware.node import Node
from firmware.reading import (BRIDGE_FILTERS, LEGACY_TOPIC, OFFLINE, ONLINE, encode_reading, make_reading,
                              reading_topic, reading_topic_node, status_topic, valid_node)
from firmware.ring import Ring
from sim.kernel.runtime import SimRuntime
from system.decisions.readings import decode_reading
from system.trace import Trace

START = 1_773_471_600.0
humidities = st.integers(min_value=0, max_value=1000)
temperatures = st.integers(min_value=-400, max_value=800)


# --- DHT22 frames -----------------------------------------------------------------


def test_datasheet_frame_decodes_to_65_2_percent_and_35_1_degrees():
    frame = bits_frame(0b0000001010001100_0000000101011111_11101110)
    assert decode_frame(frame) == (652, 351)


def test_sign_bit_makes_temperature_negative():
    assert decode_frame(bytes((0x02, 0x8C, 0x80, 0x65, (0x02 + 0x8C + 0x80 + 0x65) & 0xFF))) == (652, -101)


@given(humidities, temperatures)
def test_encode_decode_round_trip(h10, t10):
    frame = encode_frame(h10, t10)
    assert len(frame) == 5 and frame_bits(frame) < 2**40
    assert decode_frame(frame) == (h10, t10)


@given(humidities, temperatures, st.integers(min_value=0, max_value=39))
def test_any_single_flipped_bit_is_refused_as_a_checksum_error(h10, t10, bit):
    corrupted = bits_frame(frame_bits(encode_frame(h10, t10)) ^ (1 << bit))
    with pytest.raises(SensorError) as failure:
        decode_frame(corrupted)
    assert failure.value.reason == CHECKSUM


@pytest.mark.parametrize("h10, t10", [(1001, 200), (500, 801), (500, -401)])
def test_checksum_valid_but_physically_impossible_values_are_refused(h10, t10):
    with pytest.raises(SensorError) as failure:
        decode_frame(encode_frame(h10, t10))
    assert failure.value.reason == RANGE


def test_short_frame_is_a_timeout():
    with pytest.raises(SensorError) as failure:
        decode_frame(b"\x01\x02")
    assert failure.value.reason == TIMEOUT


@given(st.integers(min_value=-2000, max_value=2000))
def test_tenths_formats_exactly_one_decimal(v10):
    assert float(tenths(v10)) == v10 / 10 and tenths(v10).split(".")[1].isdigit() and len(tenths(v10).split(".")[1]) == 1


# --- ring buffer ------------------------------------------------------------------


@given(st.integers(min_value=1, max_value=8), st.lists(st.one_of(st.integers(), st.none()), max_size=60))
def test_ring_behaves_like_a_bounded_deque(size, ops):
    """Integers are pushes, None is a pop; the ring drops the oldest exactly as deque(maxlen) does."""
    ring, model = Ring(size), deque(maxlen=size)
    for op in ops:
        if op is None:
            if model:
                assert ring.pop() == model.popleft()
            else:
                with pytest.raises(IndexError):
                    ring.pop()
        else:
            expected_drop = model[0] if len(model) == size else None
            assert ring.push(op) == expected_drop
            model.append(op)
        assert ring.items() == list(model) and len(ring) == len(model)
        assert ring.peek() == (model[0] if model else None)
        assert ring.items(last=3) == list(model)[-3:]


# --- backoff ----------------------------------------------------------------------


@given(st.integers(min_value=1, max_value=200), st.integers(min_value=0, max_value=2**32))
def test_backoff_grows_exponentially_with_jitter_and_is_capped(attempt, seed):
    delay = next_backoff(attempt, random.Random(seed), base=1.0, cap=60.0)
    ceiling = min(60.0, 2.0 ** (attempt - 1))
    assert ceiling / 2 <= delay <= ceiling


# --- readings ---------------------------------------------------------------------


@given(st.integers(min_value=1, max_value=2**40), st.integers(min_value=1, max_value=2**40),
       st.sampled_from([0, 1_773_471_600]), temperatures, humidities, st.integers(min_value=-100, max_value=0))
def test_encoded_reading_is_what_the_bridge_accepts(boot, seq, ts, t10, h10, rssi):
    payload = encode_reading(make_reading("node-7", boot, seq, ts, t10, h10, rssi))
    doc = json.loads(payload)
    assert list(doc) == ["node", "boot", "seq", "ts", "temperature", "humidity", "wifi_rssi"]
    reading = decode_reading("sensors/node-7/reading", payload.encode())
    assert (reading.node, reading.boot, reading.seq, reading.ts) == ("node-7", boot, seq, ts)
    assert (reading.temperature, reading.humidity, reading.wifi_rssi) == (t10 / 10, h10 / 10, rssi)


def test_topics_are_the_ones_nodes_in_the_field_and_the_original_devices_use():
    # Written out here, not taken from the module: nodes in the field and the original project's devices
    # publish on these, so a change to them is a breaking change.
    assert (reading_topic("node-1"), status_topic("node-1")) == ("sensors/node-1/reading", "sensors/node-1/status")
    assert (ONLINE, OFFLINE) == (b"online", b"offline")
    assert LEGACY_TOPIC == "/topic/qos1"
    assert BRIDGE_FILTERS == ("sensors/+/reading", "/topic/qos1")


@given(st.text(st.characters(exclude_characters="/"), min_size=1, max_size=20))
def test_a_reading_topic_names_its_node_and_nothing_else_does(node):
    assert reading_topic_node(reading_topic(node)) == node
    for other in (status_topic(node), reading_topic(node) + "/x", "x/" + reading_topic(node), LEGACY_TOPIC,
                  "sensors//reading", "sensors/" + node):
        assert reading_topic_node(other) is None


NODE_ID = r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}"  # the node ids the bridge has always accepted


@given(st.one_of(st.text(max_size=70), st.from_regex(NODE_ID, fullmatch=True),
                 st.text("aZ09_.:-/+# é٣", min_size=1, max_size=66)))
def test_a_node_id_is_what_the_bridge_has_always_accepted(name):
    assert valid_node(name) == bool(re.fullmatch(NODE_ID, name, re.ASCII))


def test_a_node_id_is_at_most_64_characters_and_never_anything_but_text():
    assert valid_node("n" * 64) and not valid_node("n" * 65)
    assert not any(valid_node(x) for x in ("", None, 7, b"node-1", "-node", "node 1", "n\n"))


# --- web --------------------------------------------------------------------------


def _get(path, latest=(402, 215), readings=()):
    out, status = web.handle(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n", "node-1", latest,
                             list(readings))
    head, _, body = out.partition(b"\r\n\r\n")
    assert f"Content-Length: {len(body)}".encode() in head
    return status, body


def test_dht_sensor_json_has_the_original_shape():
    status, body = _get("/dhtSensor.json")
    assert status == 200 and json.loads(body) == {"temp": "21.5", "humidity": "40.2"}
    assert _get("/dhtSensor.json", latest=None)[0] == 503


def test_readings_json_lists_the_given_readings_oldest_first():
    readings = [make_reading("node-1", 1, i, 0, 200 + i, 400, -60) for i in range(1, 4)]
    status, body = _get("/readings.json?x=1", readings=readings)
    doc = json.loads(body)
    assert status == 200 and doc["node"] == "node-1"
    assert [r["seq"] for r in doc["readings"]] == [1, 2, 3] and doc["readings"][2]["temperature"] == 20.3


def test_page_draws_a_live_chart_without_external_resources():
    status, body = _get("/")
    page = body.decode()
    assert status == 200 and "/readings.json" in page and "setInterval(poll, 4000)" in page and "<svg" in page
    assert "http://" not in page and "https://" not in page


def test_unknown_path_and_method():
    assert _get("/nope")[0] == 404
    out, status = web.handle(b"POST / HTTP/1.1\r\n\r\n", "node-1", None, [])
    assert status == 405 and out.startswith(b"HTTP/1.0 405 ")


@given(st.binary(max_size=1500))
def test_any_bytes_get_an_http_answer_never_an_exception(data):
    out, status = web.handle(data, "node-1", None, [])
    assert out.startswith(f"HTTP/1.0 {status} ".encode()) and status in (200, 400, 404, 405, 503)


def test_serve_loop_answers_each_connection_and_survives_a_broken_one():
    rt = SimRuntime(start=START)

    class Conn:
        def __init__(self, request, broken=False):
            self.request, self.broken, self.sent, self.closed = request, broken, b"", False

        async def read(self, n):
            if self.broken:
                raise OSError("reset by peer")
            return self.request[:n]

        async def write(self, data):
            self.sent += data

        def close(self):
            self.closed = True

    conns = [Conn(b"GET /dhtSensor.json HTTP/1.0\r\n\r\n"), Conn(b"", broken=True), Conn(b"GET /x HTTP/1.0\r\n\r\n")]

    class Listener:
        def __init__(self):
            self.pending = list(conns)
            self.idle = rt.event()

        async def accept(self):
            if not self.pending:
                await self.idle.wait()  # no more clients: block forever
            return self.pending.pop(0)

    errors = []
    task = rt.spawn(web.serve(Listener(), lambda d: web.handle(d, "n", (400, 200), [])[0], errors.append))
    rt.run(until=1)
    task.cancel()
    assert conns[0].sent.endswith(b'{"temp": "20.0", "humidity": "40.0"}')
    assert conns[2].sent.startswith(b"HTTP/1.0 404") and all(c.closed for c in conns)
    assert [str(e) for e in errors] == ["reset by peer"]


# --- the node's loops on the sim runtime --------------------------------------------


class ScriptedSensor:
    """Answers reads from a script: a (h10, t10) pair, 'checksum', 'timeout', then healthy forever."""

    def __init__(self, script=(), healthy=(400, 215)):
        self.script, self.healthy, self.reads = list(script), healthy, 0

    def read_frame(self):
        self.reads += 1
        step = self.script.pop(0) if self.script else self.healthy
        if step == "timeout":
            raise SensorError(TIMEOUT, "bit timed out")
        if step == "checksum":
            return bits_frame(frame_bits(encode_frame(999, 799)) ^ 1)
        return encode_frame(*step)


class FakeMqtt:
    """Connects only while ``up``; records acknowledged publishes."""

    def __init__(self, rt, up=True):
        self.rt, self.up, self.connected = rt, up, False
        self.sent, self.connect_times = [], []

    async def connect(self):
        self.connect_times.append(self.rt.now())
        if not self.up:
            raise OSError("unreachable")
        self.connected = True

    async def publish(self, topic, payload, qos=0, retain=False):
        if not self.up:
            self.connected = False
            raise OSError("connection lost")
        await self.rt.sleep(0.01)
        self.sent.append((topic, payload, qos, retain))


class Wifi:
    def rssi(self):
        return -61


class Clock:
    def __init__(self, rt, sync_at):
        self.rt, self.sync_at = rt, sync_at

    def synced(self):
        return self.rt.now() >= self.sync_at

    def time(self):
        return self.rt.now()


class Hal:
    def __init__(self, rt, sensor, mqtt_up=True, clock=None):
        self.sensor, self.wifi, self.mqtt, self.clock = sensor, Wifi(), FakeMqtt(rt, mqtt_up), clock


def _node(script=(), mqtt_up=True, seconds=60.0, clock_at=None, healthy=(400, 215), **options):
    rt = SimRuntime(seed=3, start=START, trace=Trace({}))
    hal = Hal(rt, ScriptedSensor(script, healthy), mqtt_up, Clock(rt, START + clock_at) if clock_at is not None else None)
    node = Node(rt.child("node-1"), hal, "node-1", **options)
    rt.spawn(node.run(), "node-1")
    rt.run(until=seconds)
    return rt, node, hal


def _payloads(hal):
    return [json.loads(p) for t, p, q, r in hal.mqtt.sent if t.endswith("/reading")]


def test_checksum_errors_are_retried_and_never_published():
    rt, node, hal = _node(script=["checksum", "checksum"], healthy=(410, 222), seconds=15)
    assert node.errors == {"checksum": 2}
    failed = rt._trace.of_kind("reading.failed")
    assert [(r["reason"], r["attempt"]) for r in failed] == [("checksum", 1), ("checksum", 2)]
    assert [(r["temperature"], r["humidity"]) for r in _payloads(hal)] == [(22.2, 41.0)]
    assert all(r["temperature"] != 79.9 for r in _payloads(hal))  # the corrupted frame's value


def test_a_read_failing_every_retry_gives_no_reading_and_no_sequence_number():
    # 3 attempts of the first read fail, so the sample at t=10 has nothing fresh... until the t=8 read.
    script = ["timeout"] * 3 + ["timeout", "checksum", "timeout"]  # reads at 0,2,4 and 4,6,8 fail
    rt, node, hal = _node(script=script, seconds=25)
    assert node.errors == {"timeout": 5, "checksum": 1}
    assert node.skipped == 1 and node.seq == 1
    assert [r["seq"] for r in _payloads(hal)] == [1]
    assert [r["reason"] for r in rt._trace.of_kind("reading.skipped")] == ["no_verified_read"]


def test_cadence_reads_every_4s_and_publishes_every_10s_with_status_online_first():
    rt, node, hal = _node(seconds=61)
    assert hal.sensor.reads == 16  # t = 0, 4, ..., 60
    assert [r["seq"] for r in _payloads(hal)] == [1, 2, 3, 4, 5, 6]
    assert hal.mqtt.sent[0] == ("sensors/node-1/status", b"online", 1, True)
    assert all(q == 1 for t, p, q, r in hal.mqtt.sent)
    assert _payloads(hal)[0] == {"node": "node-1", "boot": 1, "seq": 1, "ts": int(START + 8), "temperature": 21.5,
                                 "humidity": 40.0, "wifi_rssi": -61}


def test_readings_before_the_clock_is_set_carry_ts_0():
    rt, node, hal = _node(seconds=41, clock_at=15)
    assert [r["ts"] for r in _payloads(hal)] == [0, int(START + 16), int(START + 28), int(START + 36)]


def test_full_buffer_drops_the_oldest_counts_it_and_flushes_the_rest_in_order():
    rt = SimRuntime(seed=3, start=START, trace=Trace({}))
    hal = Hal(rt, ScriptedSensor(), mqtt_up=False)
    node = Node(rt.child("node-1"), hal, "node-1", buffer_size=5)

    async def outage_then_recovery():
        await rt.sleep(85)  # 8 readings, the ring holds 5
        hal.mqtt.up = True

    rt.spawn(node.run(), "node-1")
    rt.run(outage_then_recovery(), until=300)
    (connected,) = rt._trace.of_kind("mqtt.connected")
    sampled_before = [r["seq"] for r in rt._trace.of_kind("reading.sampled") if r["t"] <= connected["t"]]
    # The ring held the newest 5 when the broker came back; everything older was dropped, oldest first.
    assert len(sampled_before) >= 8 and connected["buffered"] == 5
    dropped = len(sampled_before) - 5
    assert node.dropped == dropped
    assert [r["seq"] for r in rt._trace.of_kind("reading.dropped")] == list(range(1, dropped + 1))
    assert [r["seq"] for r in _payloads(hal)] == list(range(dropped + 1, node.seq + 1))
    assert node.stats()["buffered"] == 0


def test_each_node_is_one_boot_counted_on_the_flash_it_is_given():
    rt = SimRuntime(seed=3, start=START, trace=Trace({}))
    hal = Hal(rt, ScriptedSensor())
    hal.flash = MemoryFlash()
    assert [Node(rt, hal, "node-1").boot for _ in range(3)] == [1, 2, 3]
    assert hal.flash.files == {"boot.count": "3"}
    del hal.flash  # a board without flash counts in RAM: every start is boot 1
    assert [Node(rt, hal, "node-1").boot for _ in range(2)] == [1, 1]


def test_power_off_stops_every_task_of_the_node_and_keeps_nothing_running():
    rt = SimRuntime(seed=3, start=START, trace=Trace({}))
    hal = Hal(rt, ScriptedSensor())
    node = Node(rt.child("node-1"), hal, "node-1")
    run = rt.spawn(node.run(), "node-1")

    async def cut_at_35():
        await rt.sleep(35)
        node.power_off()
        run.cancel()  # the task that runs run() belongs to whoever spawned it

    rt.run(cut_at_35(), until=200)
    assert hal.sensor.reads == 9  # t = 0, 4, ..., 32: none after the cut
    assert [r["seq"] for r in _payloads(hal)] == [1, 2, 3]
    assert max(r["t"] for r in rt._trace.records) <= 35


def test_reconnect_backs_off_exponentially_with_jitter_from_the_runtime_rng():
    def gaps(seed):
        rt = SimRuntime(seed=seed, start=START, trace=Trace({}))
        hal = Hal(rt, ScriptedSensor(), mqtt_up=False)
        rt.spawn(Node(rt.child("node-1"), hal, "node-1").run(), "node-1")
        rt.run(until=600)
        times = hal.mqtt.connect_times
        return [b - a for a, b in zip(times, times[1:])]

    first = gaps(3)
    for i, gap in enumerate(first[:8], start=1):
        assert min(60, 2 ** (i - 1)) / 2 <= gap <= min(60, 2 ** (i - 1))
    assert first == gaps(3) and first != gaps(4)


def test_web_handler_serves_the_latest_read_and_the_bounded_history():
    rt, node, hal = _node(seconds=301, history=10)
    doc = json.loads(node.handle_http(b"GET /readings.json HTTP/1.1\r\n\r\n").partition(b"\r\n\r\n")[2])
    assert [r["seq"] for r in doc["readings"]] == list(range(21, 31))
    body = node.handle_http(b"GET /dhtSensor.json HTTP/1.1\r\n\r\n").partition(b"\r\n\r\n")[2]
    assert json.loads(body) == {"temp": "21.5", "humidity": "40.0"}
    assert node.http == {200: 2}


class SlowMqtt(FakeMqtt):
    """A broker link where a QoS 1 publish takes ``seconds`` until its PUBACK (slow or lossy link)."""

    def __init__(self, rt, seconds):
        super().__init__(rt)
        self.seconds = seconds

    async def publish(self, topic, payload, qos=0, retain=False):
        await self.rt.sleep(self.seconds)
        self.sent.append((topic, payload, qos, retain))


def test_a_reading_delivered_while_the_ring_overflows_is_not_counted_as_dropped():
    """buffer_size=1, each publish takes 15 s: reading 1 is in flight when reading 2 (t=20) overflows the ring.
    Reading 1 still reaches the broker, so the node must not report it as lost."""
    rt = SimRuntime(seed=3, start=START, trace=Trace({}))
    hal = Hal(rt, ScriptedSensor())
    hal.mqtt = SlowMqtt(rt, 15.0)
    node = Node(rt.child("node-1"), hal, "node-1", buffer_size=1)
    rt.spawn(node.run(), "node-1")
    rt.run(until=61)
    published = {r["seq"] for r in _payloads(hal)}
    dropped = {r["seq"] for r in rt._trace.of_kind("reading.dropped")}
    buffered = {r["seq"] for r in node.buffer.items()}
    sending = node.stats()["sending"]
    in_flight = {sending} - buffered if sending else set()  # evicted from the ring, its PUBACK still due
    assert 1 in published and in_flight  # at t=61 a reading is under way: the case at hand
    assert published | dropped | buffered | in_flight == set(range(1, node.seq + 1))
    assert not published & dropped and not in_flight & dropped
    assert node.dropped == node.seq - len(published) - len(buffered) - len(in_flight)


class FlakySensor:
    """Fails reads as scripted by Hypothesis; healthy values are distinct so each can be traced back."""

    def __init__(self, script):
        self.script, self.reads, self.intact = list(script), 0, set()

    def read_frame(self):
        self.reads += 1
        step = self.script.pop(0) if self.script else "ok"
        if step == "timeout":
            raise SensorError(TIMEOUT, "bit timed out")
        frame = encode_frame(300 + self.reads % 700, self.reads % 800)
        if step == "checksum":
            return bits_frame(frame_bits(frame) ^ (1 << (self.reads % 40)))
        self.intact.add(decode_frame(frame))
        return frame


@settings(max_examples=40, deadline=None)
@given(script=st.lists(st.sampled_from(["ok", "checksum", "timeout"]), max_size=120),
       outages=st.lists(st.tuples(st.integers(0, 500), st.integers(1, 200)), max_size=3),
       buffer_size=st.integers(1, 30))
def test_whatever_fails_every_reading_is_verified_and_accounted_for(script, outages, buffer_size):
    """Published, dropped and still-buffered readings are exactly 1..seq; each value came from an intact frame."""
    rt = SimRuntime(seed=9, start=START, trace=Trace({}))
    hal = Hal(rt, FlakySensor(script))

    async def outage(at, length):
        await rt.sleep(at)
        hal.mqtt.up = False
        await rt.sleep(length)
        hal.mqtt.up = True

    for at, length in outages:
        rt.spawn(outage(at, length), "outage")
    node = Node(rt.child("node-1"), hal, "node-1", buffer_size=buffer_size)
    rt.spawn(node.run(), "node-1")
    rt.run(until=800)
    readings = _payloads(hal)
    published = [r["seq"] for r in readings]
    dropped = [r["seq"] for r in rt._trace.of_kind("reading.dropped")]
    buffered = [r["seq"] for r in node.buffer.items()]
    assert published == sorted(published) and len(set(published)) == len(published)
    assert sorted(set(published) | set(dropped) | set(buffered)) == list(range(1, node.seq + 1))
    assert all((round(r["humidity"] * 10), round(r["temperature"] * 10)) in hal.sensor.intact for r in readings)
    assert sum(node.errors.values()) == len(rt._trace.of_kind("reading.failed"))
    assert node.seq + node.skipped == 79  # one tick every 10 s up to 790 s: a reading or a skip
