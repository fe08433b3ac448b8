# The ESP32 HAL: DHT22 on a GPIO pin, network.WLAN with reconnect, SNTP with ntptime.
#
# Used on the board (config "board": "esp32"); everything here is a thin shell over
# MicroPython's modules, with the decisions (frame decoding, backoff) in firmware/. The
# ESP32-only modules are imported where they are used, so the module itself imports
# anywhere (the layout tests import every module on CPython).

import time

import asyncio

from firmware.dht22 import TIMEOUT, SensorError

# time.time() counts from 2000-01-01 on ports built with that epoch; readings carry Unix seconds.
EPOCH_OFFSET = 0 if time.gmtime(0)[0] == 1970 else 946684800


class DhtSensor:
    def __init__(self, pin):
        import dht
        import machine

        self.dht = dht
        self.pin = machine.Pin(pin, machine.Pin.OPEN_DRAIN, machine.Pin.PULL_UP)
        self.buf = bytearray(5)

    def read_frame(self):
        # The raw 5 bytes; decoding and the checksum check are the firmware's (firmware/dht22.py).
        try:
            self.dht.dht_readinto(self.pin, self.buf)
        except OSError as exc:
            raise SensorError(TIMEOUT, str(exc))
        return bytes(self.buf)


class Wlan:
    def __init__(self, ssid, password, clock=time.time):
        import network

        self.network = network
        self.ssid = ssid
        self.password = password
        self.clock = clock
        self.down_until = 0.0
        self.on_drop = None
        self.wlan = network.WLAN(network.STA_IF)
        self.wlan.active(True)

    def isconnected(self):
        return self.clock() >= self.down_until and self.wlan.isconnected()

    def rssi(self):
        if not self.isconnected():
            return 0
        try:
            return self.wlan.status("rssi")
        except (OSError, ValueError):
            return 0

    def ip(self):
        # The address the node's web page is served on (None while not connected).
        return self.wlan.ifconfig()[0] if self.isconnected() else None

    def drop(self, seconds):
        self.down_until = self.clock() + seconds
        self.wlan.disconnect()
        if self.on_drop is not None:
            self.on_drop()

    async def keep_connected(self, on_change=None):
        # Reconnect whenever the link is gone (and not held down by a test), checking every 2 s.
        was = None
        while True:
            up = self.wlan.isconnected()
            connecting = self.wlan.status() == self.network.STAT_CONNECTING
            if not up and self.clock() >= self.down_until and not connecting:
                try:
                    self.wlan.connect(self.ssid, self.password)
                except OSError:
                    pass
            if was and not up and self.on_drop is not None:
                self.on_drop()  # the link is gone: so is every TCP connection over it
            if up != was and on_change is not None:
                on_change(up)
            was = up
            await asyncio.sleep(2)


class NtpClock:
    def __init__(self, host="pool.ntp.org"):
        import ntptime

        self.ntptime = ntptime
        ntptime.host = host
        self._synced = False

    def synced(self):
        return self._synced

    def time(self):
        return time.time() + EPOCH_OFFSET

    async def keep_synced(self, wifi, report=None, every=6 * 3600, retry=10):
        # Set the RTC by SNTP as soon as the WiFi is up, then every ``every`` s; ``report(kind, fields)``
        # hears of each sync (ntp.synced) and failure (ntp.failed).
        while True:
            if not wifi.isconnected():
                await asyncio.sleep(1)
                continue
            try:
                self.ntptime.settime()
            except (OSError, OverflowError) as exc:
                if report is not None:
                    report("ntp.failed", {"error": repr(exc)})
                await asyncio.sleep(retry)
                continue
            self._synced = True
            if report is not None:
                report("ntp.synced", {"ts": int(self.time())})
            await asyncio.sleep(every)


class Watchdog:
    # machine.WDT: once started it runs until the next reset; feed() at least every ``seconds``.
    def __init__(self, seconds):
        import machine

        self.wdt = machine.WDT(timeout=int(seconds * 1000))

    def feed(self):
        self.wdt.feed()


def watchdog(seconds):
    return Watchdog(seconds)


def reset():
    import machine

    machine.reset()


def reset_cause():
    import machine

    return {machine.PWRON_RESET: "power_on", machine.HARD_RESET: "hard", machine.WDT_RESET: "watchdog",
            machine.DEEPSLEEP_RESET: "deepsleep", machine.SOFT_RESET: "soft"}.get(machine.reset_cause(), "other")
