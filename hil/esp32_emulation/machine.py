# The emulated ``machine`` module of an ESP32 (MicroPython 1.24's API), for the virtual board.
#
# Pin (a GPIO number and its mode), reset / soft_reset / bootloader / deepsleep, reset_cause with the ESP32
# port's constants, unique_id (the MAC the virtual ROM loader reports), freq, and a WDT fed by the
# firmware and watched by the chip's thread (esp32_boot.py): a missed feed resets the board.

import sys
import time

try:
    import _esp32_hw as hw
except ImportError:  # CPython, importing the package only to look at it (the layout tests): never run there
    from hil.esp32_emulation import _esp32_hw as hw

PWRON_RESET, HARD_RESET, WDT_RESET, DEEPSLEEP_RESET, SOFT_RESET = 1, 2, 3, 4, 5
_CAUSES = {"power_on": PWRON_RESET, "hard": HARD_RESET, "watchdog": WDT_RESET, "deepsleep": DEEPSLEEP_RESET,
           "soft": SOFT_RESET}
_MAC = b"\x24\x0a\xc4\x12\x34\x56"


class Pin:
    IN, OUT, OPEN_DRAIN = 1, 3, 7
    PULL_UP, PULL_DOWN = 2, 1
    IRQ_RISING, IRQ_FALLING = 1, 2

    def __init__(self, id, mode=-1, pull=-1, value=None):
        if not isinstance(id, int) or not 0 <= id <= 39:
            raise ValueError("invalid pin")
        self.id = id
        self.mode = mode
        self.pull = pull
        self._value = 1 if pull == Pin.PULL_UP else 0
        if value is not None:
            self._value = 1 if value else 0

    def value(self, v=None):
        if v is None:
            return self._value
        self._value = 1 if v else 0

    def on(self):
        self._value = 1

    def off(self):
        self._value = 0

    def __repr__(self):
        return "Pin(%d)" % self.id


class WDT:
    # Once started it cannot be stopped (as on the chip); timeout in milliseconds.
    def __init__(self, id=0, timeout=5000):
        if timeout < 1:
            raise ValueError("WDT timeout too short")
        hw.state["wdt_timeout"] = timeout
        self.feed()

    def feed(self):
        hw.state["wdt_deadline"] = time.ticks_add(time.ticks_ms(), hw.state["wdt_timeout"])


def reset():
    hw.record_reset("soft")  # esp_restart(): ESP_RST_SW, which the ESP32 port reports as SOFT_RESET
    sys.exit(hw.RESTART_EXIT)


def soft_reset():
    reset()


def bootloader():
    # The ROM's download mode; the reset that leaves it is an EN pulse (a power-on reset), so none is recorded.
    sys.exit(hw.BOOTLOADER_EXIT)


def deepsleep(ms=0):
    hw.record_reset("deepsleep")
    if ms:
        time.sleep_ms(ms)
    sys.exit(hw.RESTART_EXIT)


def reset_cause():
    return _CAUSES.get(hw.reset_cause(), 0)


def unique_id():
    return _MAC


def freq(hz=None):
    return 240000000 if hz is None else None


def idle():
    time.sleep_ms(1)


class RTC:
    # datetime((year, month, day, weekday, hours, minutes, seconds, subseconds)) sets the clock time.time() reads.
    def __init__(self, id=0):
        pass

    def datetime(self, dt=None):
        if dt is None:
            tm = time.gmtime(time.time())
            return (tm[0], tm[1], tm[2], tm[6], tm[3], tm[4], tm[5], 0)
        hw.rtc_set(hw.seconds_2000(dt[0], dt[1], dt[2], dt[4], dt[5], dt[6]))

    def init(self, dt):
        self.datetime(dt)
