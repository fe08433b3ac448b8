# The emulated ``network`` module of an ESP32: WLAN station (and a bare access point interface).
#
# The access point is the host's (control "wifi": up, ssid, password, rssi, ip; an unset ssid or
# password accepts any). connect() takes a moment (CONNECTING), then gets an IP, or fails the way the
# ESP32 port reports it (NO_AP_FOUND, WRONG_PASSWORD). When the host takes the AP down, a connected
# station loses its link (BEACON_TIMEOUT) and stays down until the firmware connects again.

import time

try:
    import _esp32_hw as hw
except ImportError:  # CPython, importing the package only to look at it (the layout tests): never run there
    from hil.esp32_emulation import _esp32_hw as hw

STA_IF, AP_IF = 0, 1
STAT_IDLE, STAT_CONNECTING, STAT_GOT_IP = 1000, 1001, 1010
STAT_BEACON_TIMEOUT, STAT_NO_AP_FOUND, STAT_WRONG_PASSWORD = 200, 201, 202
STAT_ASSOC_FAIL, STAT_HANDSHAKE_TIMEOUT = 203, 204
AUTH_OPEN, AUTH_WPA2_PSK = 0, 3
ASSOCIATE_MS = 300  # from connect() to an IP, when the AP answers
_MAC = b"\x24\x0a\xc4\x12\x34\x56"
_interfaces = {}


def WLAN(interface=STA_IF):
    # One object per interface, as on the board.
    if interface not in (STA_IF, AP_IF):
        raise ValueError("invalid WLAN interface identifier")
    if interface not in _interfaces:
        _interfaces[interface] = _Wlan(interface)
    return _interfaces[interface]


class _Wlan:
    def __init__(self, interface):
        self.interface = interface
        self._active = False
        self._ssid = None
        self._key = None
        self._since = None  # ticks_ms of connect()
        self._status = STAT_IDLE
        self._hostname = "esp32"

    def active(self, on=None):
        if on is None:
            return self._active
        self._active = bool(on)
        if not on:
            self.disconnect()

    def connect(self, ssid=None, key=None, bssid=None):
        if not self._active:
            raise OSError("Wifi Not Started")
        if ssid is not None:
            self._ssid, self._key = ssid, key
        self._since = time.ticks_ms()
        self._status = STAT_CONNECTING

    def disconnect(self):
        self._since = None
        self._status = STAT_IDLE

    def _ap(self):
        ap = hw.control("wifi")
        up = ap.get("up", True)
        if up and ap.get("ssid") not in (None, self._ssid):
            return ap, "no_ap"
        if up and ap.get("password") not in (None, self._key or ""):
            return ap, "password"
        return ap, "up" if up else "no_ap"

    def status(self, param=None):
        ap, link = self._ap()
        self._update(link)
        if param is None:
            return self._status
        if param == "rssi":
            if self._status != STAT_GOT_IP:
                raise OSError("STA is not connected")
            return ap.get("rssi", -61)
        raise ValueError("unknown status param")

    def _update(self, link):
        if self._status == STAT_GOT_IP and link != "up":
            self._status = STAT_BEACON_TIMEOUT  # the AP went away under a connected station
        elif self._status == STAT_CONNECTING and time.ticks_diff(time.ticks_ms(), self._since) >= ASSOCIATE_MS:
            self._status = {"up": STAT_GOT_IP, "no_ap": STAT_NO_AP_FOUND, "password": STAT_WRONG_PASSWORD}[link]

    def isconnected(self):
        return self.status() == STAT_GOT_IP

    def ifconfig(self, config=None):
        if config is not None:
            return None
        if not self.isconnected():
            return ("0.0.0.0", "0.0.0.0", "0.0.0.0", "0.0.0.0")
        ip = hw.control("wifi").get("ip", "127.0.0.1")
        return (ip, "255.255.255.0", "192.168.4.1", "192.168.4.1")

    def config(self, *args, **kwargs):
        if kwargs:
            if "hostname" in kwargs:
                self._hostname = kwargs["hostname"]
            return None
        key = args[0]
        values = {"mac": _MAC, "essid": self._ssid or "", "ssid": self._ssid or "", "hostname": self._hostname,
                  "channel": 6, "txpower": 20, "reconnects": -1, "pm": 1}
        if key not in values:
            raise ValueError("unknown config param")
        return values[key]

    def scan(self):
        ap = hw.control("wifi")
        if not self._active or not ap.get("up", True):
            return []
        ssid = ap.get("ssid") or "hilsim-ap"
        return [(ssid.encode(), b"\x02\x00\x00\x00\x00\x01", 6, ap.get("rssi", -61), AUTH_WPA2_PSK, False)]


def hostname(name=None):
    if name is None:
        return WLAN(STA_IF).config("hostname")
    WLAN(STA_IF).config(hostname=name)
