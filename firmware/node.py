# The sensor node: sample the DHT22, buffer readings, publish them over MQTT with QoS 1.
#
# Runs unchanged on the ESP32 (HAL over machine/dht/network/umqtt) and in sim
# (HAL over the world models). `rt` is the runtime subset: now, sleep, spawn,
# event, rng, trace. Readings stay in the buffer until the broker acknowledged
# them, so an outage delays readings but loses none while the buffer holds.

import json

from firmware.backoff import next_backoff


class Node:
    def __init__(self, rt, hal, node_id, sample_every=10.0, buffer_size=256):
        self.rt = rt
        self.hal = hal
        self.node_id = node_id
        self.sample_every = sample_every
        self.buffer_size = buffer_size
        self.buffer = []
        self.seq = 0
        self.read_errors = 0
        self.dropped = 0
        self.topic = "sensors/" + node_id + "/reading"
        self.status_topic = "sensors/" + node_id + "/status"
        self._wake = rt.event()
        self._rng = rt.rng(node_id + "/backoff")

    async def run(self):
        self.rt.spawn(self.sample_loop(), self.node_id + "/sampler")
        await self.publish_loop()

    async def sample_loop(self):
        while True:
            self.sample_once()
            await self.rt.sleep(self.sample_every)

    def sample_once(self):
        try:
            temperature, humidity = self.hal.sensor.read()
        except OSError as exc:
            self.read_errors += 1
            self.rt.trace("reading.failed", node=self.node_id, reason=str(exc))
            return None
        self.seq += 1
        reading = {
            "node": self.node_id,
            "seq": self.seq,
            "ts": int(self.rt.now()),
            "temperature": round(temperature, 1),
            "humidity": round(humidity, 1),
            "wifi_rssi": self.hal.wifi.rssi(),
        }
        if len(self.buffer) >= self.buffer_size:
            old = self.buffer.pop(0)
            self.dropped += 1
            self.rt.trace("reading.dropped", node=self.node_id, seq=old["seq"])
        self.buffer.append(reading)
        self.rt.trace("reading.sampled", node=self.node_id, seq=self.seq)
        self._wake.set()
        return reading

    async def publish_loop(self):
        mqtt = self.hal.mqtt
        attempt = 0
        while True:
            if not mqtt.connected:
                try:
                    await mqtt.connect()
                    await mqtt.publish(self.status_topic, b"online", qos=1, retain=True)
                    attempt = 0
                except OSError:
                    attempt += 1
                    await self.rt.sleep(next_backoff(attempt, self._rng))
                    continue
            if not self.buffer:
                self._wake.clear()
                await self._wake.wait()
                continue
            reading = self.buffer[0]
            try:
                await mqtt.publish(self.topic, json.dumps(reading), qos=1)
            except OSError:
                continue
            if self.buffer and self.buffer[0] is reading:
                self.buffer.pop(0)
            self.rt.trace("reading.published", node=self.node_id, seq=reading["seq"])
