# The emulated ``ntptime`` module: time() asks "the" SNTP server, which is the host's clock shifted
# by the host's control "ntp": {"offset": seconds}; settime() sets the board's RTC from it. With
# "fail": true, or without WiFi, the request fails as the real one does (OSError, after ``timeout``).

import errno

try:
    import _esp32_hw as hw
except ImportError:  # CPython, importing the package only to look at it (the layout tests): never run there
    from hil.esp32_emulation import _esp32_hw as hw

host = "pool.ntp.org"
timeout = 1


def time():
    import network

    server = hw.control("ntp")
    if not network.WLAN(network.STA_IF).isconnected():
        raise OSError(errno.EHOSTUNREACH)
    if server.get("fail"):
        import utime

        utime.sleep(timeout)
        raise OSError(errno.ETIMEDOUT)
    return int(hw._host_time() + server.get("offset", 0)) - hw.EPOCH_2000


def settime():
    import machine

    t = time()
    tm = _gmtime(t)
    machine.RTC().datetime((tm[0], tm[1], tm[2], tm[6] + 1, tm[3], tm[4], tm[5], 0))


def _gmtime(t):
    import utime

    return utime.gmtime(t + hw.EPOCH_2000)
