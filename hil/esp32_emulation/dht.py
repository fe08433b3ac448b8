# The emulated ``dht`` module of an ESP32: DHT11/DHT22 on a machine.Pin and dht_readinto.
#
# The sensor the host wires (control "dht": pin, temperature, humidity, fault) answers on its pin;
# on any other pin nothing answers. A fault "timeout" makes the read fail as the C driver does,
# OSError(ETIMEDOUT); "checksum" flips a bit of the frame, so measure() raises a checksum error and
# a driver decoding the raw frame sees it too. A host "hang" holds the bus: the read never returns.

import errno
import time

try:
    import _esp32_hw as hw
except ImportError:  # CPython, importing the package only to look at it (the layout tests): never run there
    from hil.esp32_emulation import _esp32_hw as hw


def _frame(temperature, humidity):
    h10 = int(round(humidity * 10))
    t10 = int(round(temperature * 10))
    t_word = (-t10) | 0x8000 if t10 < 0 else t10
    body = bytes((h10 >> 8, h10 & 0xFF, t_word >> 8, t_word & 0xFF))
    return body + bytes(((body[0] + body[1] + body[2] + body[3]) & 0xFF,))


def _hang():
    # A stuck bus: spin until a reset (which removes the hang file) or the host lets go.
    while hw.exists("hang"):
        time.sleep_ms(20)


def dht_readinto(pin, buf):
    if hw.exists("hang"):
        _hang()
    sensor = hw.control("dht")
    wired = sensor.get("pin", 4)
    fault = sensor.get("fault")
    if getattr(pin, "id", pin) != wired or fault == "timeout":
        raise OSError(errno.ETIMEDOUT)
    frame = bytearray(_frame(sensor.get("temperature", 21.5), sensor.get("humidity", 45.0)))
    if fault == "checksum":
        frame[3] ^= 0x01
    time.sleep_ms(5)  # the 40 bits take about 5 ms on the wire
    buf[:5] = frame


class DHTBase:
    def __init__(self, pin):
        self.pin = pin
        self.buf = bytearray(5)

    def measure(self):
        buf = self.buf
        dht_readinto(self.pin, buf)
        if (buf[0] + buf[1] + buf[2] + buf[3]) & 0xFF != buf[4]:
            raise Exception("checksum error")


class DHT11(DHTBase):
    def humidity(self):
        return self.buf[0]

    def temperature(self):
        return self.buf[2]


class DHT22(DHTBase):
    def humidity(self):
        return ((self.buf[0] << 8) | self.buf[1]) * 0.1

    def temperature(self):
        value = (((self.buf[2] & 0x7F) << 8) | self.buf[3]) * 0.1
        return -value if self.buf[2] & 0x80 else value
