# The sensor node: read the DHT22, sample verified readings, buffer them, publish over MQTT QoS 1.
#
# Written to run unchanged on the ESP32 (a HAL over machine/dht/network/umqtt,
# not written yet: it comes with the bench/HIL work) and in sim (a HAL over the
# world models); its logic is tested under the MicroPython Unix port too. ``rt``
# is the runtime subset: now, sleep, spawn, event, rng, trace. The HAL has ``sensor.read_frame()`` (5 raw bytes or raises
# SensorError), ``wifi.rssi()`` (0 when not connected), ``mqtt`` (connect(),
# publish(topic, payload, qos, retain), ``connected``; failures are OSError),
# optionally ``clock`` (``synced()``, ``time()``), ``web`` (a listener) and ``flash``
# (``read(name)``/``write(name, text)``, firmware/boot_count.py; without one the node
# counts its boots in RAM: boot 1 at every start).
#
# A Node object is one boot: its constructor counts the boot on flash, its fields are
# the board's RAM. ``power_off()`` is a power cut as the node sees it (every task stops
# where it is, the buffer is gone); the next boot is a new Node on the same HAL.
#
# Cadence as the original project: the sensor is read every ``read_every`` s (the
# web page shows the latest read); every ``sample_every`` s the latest verified
# read, if fresh and not used before, becomes a reading with the next sequence
# number. A failed read is retried after ``retry_delay`` s (the DHT22 needs 2 s
# between reads), ``retries`` times; a value is only ever taken from a frame
# whose checksum matched. Readings stay in the ring until the broker
# acknowledged them, so an outage delays readings and loses none while the ring
# holds; when it overflows the oldest are dropped, counted and traced.

from firmware.backoff import next_backoff
from firmware.boot_count import MemoryFlash, next_boot
from firmware.dht22 import SensorError, decode_frame
from firmware.reading import ONLINE, encode_reading, make_reading, reading_topic, status_topic
from firmware.ring import Ring
from firmware import web


class Node:
    def __init__(self, rt, hal, node_id, sample_every=10.0, buffer_size=256, read_every=4.0,
                 retries=2, retry_delay=2.0, history=60, backoff_base=1.0, backoff_cap=60.0):
        self.rt = rt
        self.hal = hal
        self.node_id = node_id
        self.sample_every = sample_every
        self.read_every = read_every
        self.retries = retries
        self.retry_delay = retry_delay
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.buffer = Ring(buffer_size)
        self.history = Ring(history)
        self.boot = next_boot(getattr(hal, "flash", None) or MemoryFlash())
        self.seq = 0
        self.latest = None  # (humidity10, temperature10, ts, read number) of the last verified read
        self.reads = 0
        self.errors = {}  # reason -> failed read attempts
        self.skipped = 0  # sample ticks without a fresh verified read
        self.dropped = 0
        self.published = 0
        self.connects = 0
        self.http = {}  # status -> requests served
        self.topic = reading_topic(node_id)
        self.status_topic = status_topic(node_id)
        self._used = 0  # read number of the last read turned into a reading
        self._sending = None  # the reading whose publish is under way
        self._read_at = None
        self._wake = rt.event()
        self._rng = rt.rng(node_id + "/backoff")
        self._tasks = []  # what run() spawned: stopped by a power cut

    # --- tasks ---------------------------------------------------------------

    async def run(self):
        spawn = self.rt.spawn
        self._tasks.append(spawn(self.read_loop(), self.node_id + "/reader"))
        self._tasks.append(spawn(self.sample_loop(), self.node_id + "/sampler"))
        listener = getattr(self.hal, "web", None)
        if listener is not None:
            self._tasks.append(spawn(web.serve(listener, self.handle_http), self.node_id + "/web"))
        await self.publish_loop()

    def power_off(self):
        # The power is cut: the tasks run() spawned stop at once (whoever spawned run() cancels
        # that task too). Nothing is saved: RAM is lost, the flash already holds the boot count.
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()

    async def read_loop(self):
        while True:
            started = self.rt.now()
            await self.read_verified()
            await self.rt.sleep(_until_next(started, self.rt.now(), self.read_every))

    async def sample_loop(self):
        while True:
            await self.rt.sleep(self.sample_every)
            self.sample_once()

    async def read_verified(self):
        # One read with retries; returns (humidity10, temperature10) or None when all failed.
        attempt = 0
        while True:
            attempt += 1
            try:
                humidity10, temperature10 = decode_frame(self.hal.sensor.read_frame())
            except SensorError as exc:
                self.errors[exc.reason] = self.errors.get(exc.reason, 0) + 1
                self.rt.trace("reading.failed", node=self.node_id, reason=exc.reason, attempt=attempt)
                if attempt > self.retries:
                    return None
                await self.rt.sleep(self.retry_delay)
                continue
            self.reads += 1
            self.latest = (humidity10, temperature10, self.timestamp(), self.reads)
            self._read_at = self.rt.now()
            return humidity10, temperature10

    def timestamp(self):
        # Unix seconds from the node's clock; 0 while SNTP has not set it.
        clock = getattr(self.hal, "clock", None)
        if clock is None:
            return int(self.rt.now())
        if not clock.synced():
            return 0
        return int(clock.time())

    def sample_once(self):
        # Turn the latest verified read into the next reading; None when there is none fresh.
        latest = self.latest
        if (latest is None or latest[3] == self._used
                or self.rt.now() - self._read_at > self.sample_every):
            self.skipped += 1
            self.rt.trace("reading.skipped", node=self.node_id, reason="no_verified_read")
            return None
        self._used = latest[3]
        self.seq += 1
        reading = make_reading(self.node_id, self.boot, self.seq, latest[2], latest[1], latest[0],
                               self.hal.wifi.rssi())
        old = self.buffer.push(reading)
        if old is not None and old is not self._sending:  # one being sent is lost only if that fails
            self._count_drop(old)
        self.history.push(reading)
        self.rt.trace("reading.sampled", node=self.node_id, boot=self.boot, seq=self.seq)
        self._wake.set()
        return reading

    def _count_drop(self, reading):
        self.dropped += 1
        self.rt.trace("reading.dropped", node=self.node_id, seq=reading["seq"])

    async def publish_loop(self):
        mqtt = self.hal.mqtt
        attempt = 0
        while True:
            if not mqtt.connected:
                try:
                    await mqtt.connect()
                    await mqtt.publish(self.status_topic, ONLINE, 1, True)
                except OSError:
                    attempt += 1
                    delay = next_backoff(attempt, self._rng, self.backoff_base, self.backoff_cap)
                    self.rt.trace("reconnect.scheduled", node=self.node_id, attempt=attempt,
                                  delay=round(delay, 3))
                    await self.rt.sleep(delay)
                    continue
                self.connects += 1
                self.rt.trace("mqtt.connected", node=self.node_id, attempts=attempt + 1,
                              buffered=len(self.buffer))
                attempt = 0
            reading = self.buffer.peek()
            if reading is None:
                self._wake.clear()
                await self._wake.wait()
                continue
            self._sending = reading
            try:
                await mqtt.publish(self.topic, encode_reading(reading), 1, False)
            except OSError:
                if self.buffer.peek() is not reading:  # the ring overflowed onto it meanwhile: now it is lost
                    self._count_drop(reading)
                continue  # else still buffered: sent again after the reconnect (the bridge de-duplicates)
            finally:
                self._sending = None
            if self.buffer.peek() is reading:
                self.buffer.pop()
            self.published += 1
            self.rt.trace("reading.published", node=self.node_id, seq=reading["seq"])

    # --- web -----------------------------------------------------------------

    def handle_http(self, data):
        # Request bytes -> response bytes (the web server's pure core, bound to this node).
        out, status = web.handle(data, self.node_id, self.latest, self.history.items(),
                                 int(self.read_every * 1000))
        self.http[status] = self.http.get(status, 0) + 1
        return out

    def stats(self):
        # Counters for the console and tests.
        return {"boot": self.boot, "seq": self.seq, "reads": self.reads, "errors": dict(self.errors), "skipped": self.skipped,
                "buffered": len(self.buffer), "dropped": self.dropped, "published": self.published,
                "connects": self.connects, "sending": self._sending["seq"] if self._sending else None}


def _until_next(started, now, every):
    # Time left to the next tick of a fixed cadence; skips ticks a slow read overran.
    elapsed = now - started
    if elapsed < every:
        return every - elapsed
    return every - (elapsed % every)
