# A small MQTT 3.1.1 client on asyncio streams: CONNECT (user/password, last will, TLS),
# QoS 0/1 PUBLISH with PUBACK, keep-alive PINGREQ. What the node needs, nothing more.
#
# Why our own and not a PyPI package installed onto the board: ``micropython-umqtt.simple``
# uses blocking sockets, so a QoS 1 publish waiting for its PUBACK would freeze the
# console, the web server and the sampler during a link outage; ``micropython-mqtt``
# (mqtt_as) is asyncio-based but drives network.WLAN itself, so it cannot run under
# the MicroPython Unix port in CI or beside our WiFi HAL. This one is ~200 lines on
# asyncio streams, runs unchanged on the ESP32, the Unix port and CPython, and is tested
# against the real ``hilsim broker``.
#
# The packet codec is pure (bytes in, packets out: spec sections 2.2, 3.1-3.14); the
# client only moves bytes. Every failure is an OSError, which the node treats as
# "disconnected, retry with backoff".

import asyncio

CONNECT, CONNACK, PUBLISH, PUBACK, PINGREQ, PINGRESP, DISCONNECT = 1, 2, 3, 4, 12, 13, 14


def _varint(n):
    out = bytearray()
    while True:
        byte = n % 128
        n //= 128
        if n:
            byte |= 0x80
        out.append(byte)
        if not n:
            return bytes(out)


def _str(s):
    if isinstance(s, str):
        s = s.encode("utf-8")
    return bytes((len(s) >> 8, len(s) & 0xFF)) + s


def packet(kind, flags, body):
    return bytes(((kind << 4) | flags,)) + _varint(len(body)) + body


def connect_packet(client_id, keepalive=60, user=None, password=None, will=None, clean=True):
    # will: (topic, payload bytes, qos, retain) or None.
    flags = 0x02 if clean else 0
    payload = _str(client_id)
    if will is not None:
        flags |= 0x04 | (will[2] << 3) | (0x20 if will[3] else 0)
        payload += _str(will[0]) + _str(will[1])
    if user is not None:
        flags |= 0x80
        payload += _str(user)
        if password is not None:
            flags |= 0x40
            payload += _str(password)
    body = _str("MQTT") + bytes((4, flags, keepalive >> 8, keepalive & 0xFF)) + payload
    return packet(CONNECT, 0, body)


def publish_packet(topic, payload, qos=0, retain=False, pid=0, dup=False):
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    body = _str(topic)
    if qos:
        body += bytes((pid >> 8, pid & 0xFF))
    return packet(PUBLISH, (8 if dup else 0) | (qos << 1) | (1 if retain else 0), body + payload)


class PacketReader:
    # feed(bytes) -> list of (kind, flags, body); ValueError on a malformed length.
    def __init__(self):
        self._buf = b""

    def feed(self, data):
        self._buf += data
        out = []
        while True:
            n, mult, i = 0, 1, 1
            while True:
                if i >= len(self._buf):
                    return out
                b = self._buf[i]
                n += (b & 0x7F) * mult
                mult *= 128
                i += 1
                if not b & 0x80:
                    break
                if i > 4:
                    raise ValueError("remaining length over 4 bytes")
            if len(self._buf) < i + n:
                return out
            head = self._buf[0]
            out.append((head >> 4, head & 0x0F, self._buf[i:i + n]))
            self._buf = self._buf[i + n:]


CONNACK_REASONS = {1: "unacceptable protocol version", 2: "identifier rejected", 3: "server unavailable",
                   4: "bad user name or password", 5: "not authorized"}


class MqttClient:
    # connect(), publish(topic, payload, qos, retain), close(); ``connected`` as the node reads it.

    def __init__(self, client_id, host, port=1883, user=None, password=None, keepalive=60, will=None,
                 ssl=None, timeout=10.0, gate=None):
        self.client_id = client_id
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.keepalive = keepalive
        self.will = will
        self.ssl = ssl
        self.timeout = timeout
        self.gate = gate  # callable -> None or raises OSError (e.g. WiFi down)
        self.connected = False
        self._reader = None
        self._writer = None
        self._tasks = []
        self._pid = 0
        self._acked = {}
        self._ack = asyncio.Event()
        self._connack = None
        self._got_connack = asyncio.Event()

    async def connect(self):
        self.close()
        if self.gate is not None:
            self.gate()
        try:
            if self.ssl is not None:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(self.host, self.port, ssl=self.ssl), self.timeout)
            else:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port),
                                                        self.timeout)
        except asyncio.TimeoutError:
            raise OSError("connect to %s:%d timed out" % (self.host, self.port))
        self._reader, self._writer = reader, writer
        self._got_connack = asyncio.Event()
        self._connack = None
        self._tasks = [asyncio.create_task(self._read_loop(reader))]
        try:
            await self._send(connect_packet(self.client_id, self.keepalive, self.user, self.password, self.will))
            await asyncio.wait_for(self._got_connack.wait(), self.timeout)
        except asyncio.TimeoutError:
            self.close()
            raise OSError("no CONNACK within %ds" % self.timeout)
        except OSError:
            self.close()
            raise
        if self._connack is None:
            self.close()
            raise OSError("connection closed before CONNACK")
        if self._connack != 0:
            code = self._connack
            self.close()
            raise OSError("broker refused: " + CONNACK_REASONS.get(code, "code %d" % code))
        self.connected = True
        self._tasks.append(asyncio.create_task(self._ping_loop(writer)))

    async def publish(self, topic, payload, qos=0, retain=False):
        if not self.connected:
            raise OSError("not connected")
        pid = 0
        if qos:
            self._pid = self._pid % 65535 + 1
            pid = self._pid
            self._acked[pid] = False
        try:
            await self._send(publish_packet(topic, payload, qos, retain, pid))
            if qos:
                await asyncio.wait_for(self._wait_ack(pid), self.timeout)
        except asyncio.TimeoutError:
            self.close()
            raise OSError("no PUBACK within %ds" % self.timeout)
        except OSError:
            self.close()
            raise
        finally:
            self._acked.pop(pid, None)

    async def _wait_ack(self, pid):
        while not self._acked.get(pid):
            if not self.connected:
                raise OSError("connection lost")
            self._ack.clear()
            await self._ack.wait()

    async def _send(self, data):
        writer = self._writer
        if writer is None:
            raise OSError("not connected")
        writer.write(data)
        await writer.drain()

    async def _read_loop(self, reader):
        codec = PacketReader()
        try:
            while True:
                data = await reader.read(512)
                if not data:
                    break
                for kind, flags, body in codec.feed(data):
                    if kind == CONNACK and len(body) == 2:
                        self._connack = body[1]
                        self._got_connack.set()
                    elif kind == PUBACK and len(body) == 2:
                        pid = (body[0] << 8) | body[1]
                        if pid in self._acked:
                            self._acked[pid] = True
                        self._ack.set()
        except (OSError, ValueError):
            pass
        if reader is self._reader:
            self.connected = False
            self._got_connack.set()
            self._ack.set()

    async def _ping_loop(self, writer):
        try:
            while writer is self._writer:
                await asyncio.sleep(self.keepalive / 2)
                if writer is self._writer:
                    writer.write(packet(PINGREQ, 0, b""))
                    await writer.drain()
        except OSError:
            pass

    def close(self):
        # Drop the connection at once (no DISCONNECT: the broker publishes the last will).
        self.connected = False
        writer, self._writer, self._reader = self._writer, None, None
        for task in self._tasks:
            task.cancel()
        self._tasks = []
        if writer is not None:
            try:
                writer.close()
            except OSError:
                pass
        self._ack.set()
        self._got_connack.set()
