# The emulated ``time`` module of an ESP32: the Unix port's own ticks and sleeps, with the ESP32's
# clock: time() counts whole seconds from 2000-01-01 on the board's RTC, which starts at 0 on power-on
# and is set by ntptime.settime() (or machine.RTC().datetime()).

try:
    import utime
except ImportError:  # CPython, which only imports this file to look at it
    utime = None
else:
    from utime import *  # noqa: F401,F403  (ticks_ms, ticks_diff, ticks_add, sleep, sleep_ms, ... as they are)

try:
    import _esp32_hw as hw
except ImportError:  # CPython, importing the package only to look at it (the layout tests): never run there
    from hil.esp32_emulation import _esp32_hw as hw


def time():
    return int(hw.rtc_now())


def time_ns():
    return int(hw.rtc_now() * 1000000) * 1000


def gmtime(secs=None):
    if secs is None:
        secs = time()
    return utime.gmtime(int(secs) + hw.EPOCH_2000)[:8]


localtime = gmtime  # no time zone on the board


def mktime(tm):
    return hw.seconds_2000(tm[0], tm[1], tm[2], tm[3], tm[4], tm[5])
