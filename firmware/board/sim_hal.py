# The simulated board HAL for the MicroPython Unix port and CPython: a DHT22 that sends a
# slow daily-like cycle with a little noise, and a WiFi that is up unless dropped.
# MQTT, the web server and the console stay real (TCP and stdio).

import math
import random
import time

from firmware.dht22 import encode_frame


class SimSensor:
    def __init__(self, base_temperature=21.0, base_humidity=45.0, clock=time.time):
        self.base_temperature = base_temperature
        self.base_humidity = base_humidity
        self.clock = clock

    def read_frame(self):
        phase = 2 * math.pi * (self.clock() % 600) / 600  # a ten-minute "day", to see movement
        t = self.base_temperature + 2.0 * math.sin(phase) + (random.getrandbits(4) - 8) / 80
        h = self.base_humidity - 5.0 * math.sin(phase) + (random.getrandbits(4) - 8) / 20
        return encode_frame(int(round(max(0.0, min(100.0, h)) * 10)), int(round(t * 10)))


class ReplaySensor:
    # Sensor samples recorded on a board, replayed in order: [[t10, h10], ...], then held at the last.
    def __init__(self, samples):
        self.samples = samples
        self.i = 0

    def read_frame(self):
        t10, h10 = self.samples[min(self.i, len(self.samples) - 1)]
        self.i += 1
        return encode_frame(h10, t10)


class SimWifi:
    def __init__(self, rssi=-61, clock=time.time):
        self.level = rssi
        self.clock = clock
        self.down_until = 0.0
        self.on_drop = None  # called when dropped (closes the MQTT connection, as losing WiFi does)

    def isconnected(self):
        return self.clock() >= self.down_until

    def rssi(self):
        return self.level if self.isconnected() else 0

    def drop(self, seconds):
        self.down_until = self.clock() + seconds
        if self.on_drop is not None:
            self.on_drop()

    def ip(self):
        return "127.0.0.1" if self.isconnected() else None

    async def keep_connected(self, on_change=None):
        return None  # nothing to keep: the simulated WiFi comes back by itself


class SystemClock:
    # The Unix port's clock is the host's, already set.
    def synced(self):
        return True

    def time(self):
        return time.time()


class Watchdog:
    # The simulated board's hardware watchdog, machine.WDT's feed() without a second thread (the Unix
    # port and CPython boards have no timer to interrupt a loop): a feed that comes later than ``seconds``
    # after the last one means the loop was blocked that long, and the board resets then (exit 75, which
    # the virtual board takes as a reboot). A loop blocked for good is caught by the ESP32's WDT only.
    def __init__(self, seconds, clock, on_expire=None):
        self.seconds = seconds
        self.clock = clock
        self.on_expire = on_expire
        self.fed = clock()

    def feed(self):
        now = self.clock()
        if now - self.fed > self.seconds:
            if self.on_expire is not None:
                self.on_expire()
            raise SystemExit(75)
        self.fed = now
