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
    # The simulated board's hardware watchdog (machine.WDT's feed()): a thread that, when not fed for
    # ``seconds``, calls ``on_expire`` and restarts the firmware process (exit status 75, as a reboot).
    def __init__(self, seconds, on_expire=None, clock=time.time):
        import _thread

        self.seconds = seconds
        self.on_expire = on_expire
        self.clock = clock
        self.fed = clock()
        _thread.start_new_thread(self._watch, ())

    def feed(self):
        self.fed = self.clock()

    def _watch(self):
        while self.clock() - self.fed < self.seconds:
            time.sleep(0.2)
        if self.on_expire is not None:
            self.on_expire()
        _exit(75)


def _exit(status):
    import os

    if hasattr(os, "_exit"):
        os._exit(status)  # CPython: the whole process, from this thread
    os.system("kill -9 $PPID")  # the Unix port has no _exit: the virtual board sees the firmware die
