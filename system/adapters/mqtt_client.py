"""The live MQTT port: paho-mqtt driven by the asyncio event loop, no threads.

Same interface as the sim port (``sim/models/sim_mqtt.py``), the protocol ``system.mqtt.port.MqttPort``::

    await connect() -> session_present      await publish(topic, payload, qos, retain)
    await subscribe(filter, qos) -> granted  await next_message() -> Message
    await disconnect()                       connected

Every failure (refused TCP connection, TLS error, CONNACK refusal such as a bad
password, broken connection, missing PUBACK/SUBACK within ``ack_timeout``) is
raised as ``ConnectionLost`` at this edge; a dropped connection also ends a
pending ``next_message()`` with ``ConnectionLost``, as in sim. MQTT 3.1.1;
``clean_session=False`` keeps the broker-side session (QoS 1 messages queue while
the client is away) and paho's own in-flight state across reconnects.

Why paho and not amqtt's client (amqtt 0.12.1, ``amqtt/client.py``): its
``connect()`` returns only the CONNACK return code, so the session-present flag is
lost (``ClientProtocolHandler.mqtt_connect``); when the connection drops, a pending
``deliver_message()`` ends in ``CancelledError`` (its task is cancelled by
``handle_connection_close``), which a caller cannot tell from its own cancellation;
and a ``subscribe()`` whose SUBACK never comes waits forever. paho reports each of
these through callbacks that map onto the port cleanly. paho is driven through its
external-loop API (``loop_read``/``loop_write``/``loop_misc`` on socket readiness).
The one blocking step is paho's TCP (+TLS) connect, bounded by ``connect_timeout``.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlparse

import paho.mqtt.client as paho

from system.mqtt.inbox import Inbox
from system.decisions.redaction import redacted_url
from system.errors import ConfigError, ConnectionLost
from system.mqtt.message import Message, PendingAcks


@dataclass(frozen=True)
class TlsOptions:
    """TLS to the broker: ``ca_file`` to verify it, ``cert_file``/``key_file`` for a client certificate."""

    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    insecure: bool = False  # skip hostname verification (test certificates)


@dataclass(frozen=True)
class Will:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


_READ_BURST = 256  # packets read per readable socket event at most


class LiveMqttClient:
    """MQTT client port on a real broker. ``url`` is ``mqtt://[user:pass@]host[:port]`` or ``mqtts://``."""

    def __init__(self, url: str, client_id: str, *, clean_session: bool = True, username: str | None = None,
                 password: str | None = None, tls: TlsOptions | None = None, will: Will | None = None,
                 keepalive: int = 30, connect_timeout: float = 5.0, ack_timeout: float = 10.0,
                 manual_ack: bool = False):
        parts = urlparse(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ConfigError(f"broker URL {redacted_url(url)!r}: expected mqtt://host[:port] or mqtts://host[:port]")
        self.host = parts.hostname
        self.port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
        self.client_id = client_id
        self.keepalive = keepalive
        self.connect_timeout = connect_timeout
        self.ack_timeout = ack_timeout
        self._connected = False
        self._inbox = Inbox(asyncio.Queue())
        self._events = 0  # paho callbacks so far: tells _readable whether a read made progress
        self._waiting: dict[Any, asyncio.Future] = {}
        self._misc: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sock: Any = None
        self.manual_ack = manual_ack
        self._unacked = PendingAcks()
        c = self._client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id,
                                       clean_session=clean_session, protocol=paho.MQTTv311,
                                       reconnect_on_failure=False, manual_ack=manual_ack)
        c.connect_timeout = connect_timeout
        user = username if username is not None else (unquote(parts.username) if parts.username else None)
        word = password if password is not None else (unquote(parts.password) if parts.password else None)
        if user is not None:
            c.username_pw_set(user, word)
        if parts.scheme == "mqtts" or tls is not None:
            tls = tls or TlsOptions()
            c.tls_set(ca_certs=tls.ca_file, certfile=tls.cert_file, keyfile=tls.key_file,
                      cert_reqs=ssl.CERT_REQUIRED, tls_version=ssl.PROTOCOL_TLS_CLIENT)
            c.tls_insecure_set(tls.insecure)
        if will is not None:
            c.will_set(will.topic, will.payload, will.qos, will.retain)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        c.on_publish = self._on_publish
        c.on_subscribe = self._on_subscribe
        c.on_socket_open = self._on_socket_open
        c.on_socket_close = self._on_socket_close
        c.on_socket_register_write = self._on_register_write
        c.on_socket_unregister_write = self._on_unregister_write

    @property
    def connected(self) -> bool:
        return self._connected

    async def connect(self) -> bool:
        """Open a session; returns whether the broker still had it (session present)."""
        if self._connected:
            return True
        self._loop = asyncio.get_running_loop()
        self._inbox = Inbox(asyncio.Queue())
        self._unacked.clear()
        done = self._waiting["connack"] = self._loop.create_future()
        try:
            self._client.connect(self.host, self.port, self.keepalive)
        except (OSError, ssl.SSLError, ValueError) as exc:
            self._waiting.pop("connack", None)
            raise ConnectionLost(f"{self.client_id}: cannot reach {self.host}:{self.port}: {exc!r}") from exc
        return await self._wait("connack", done)

    async def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        """Publish; with QoS 1 returns once the broker's PUBACK arrived."""
        if isinstance(payload, str):
            payload = payload.encode("utf-8")
        self._require()
        info = self._client.publish(topic, payload, qos, retain)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            raise ConnectionLost(f"{self.client_id}: publish failed: {paho.error_string(info.rc)}")
        if qos == 0:
            return
        key = ("puback", info.mid)
        if info.is_published():
            return
        await self._wait(key, self._future(key))

    async def subscribe(self, topic_filter: str, qos: int = 1) -> int:
        """Subscribe; returns the granted QoS (128: the broker refused)."""
        self._require()
        rc, mid = self._client.subscribe(topic_filter, qos)
        if rc != paho.MQTT_ERR_SUCCESS:
            raise ConnectionLost(f"{self.client_id}: subscribe failed: {paho.error_string(rc)}")
        key = ("suback", mid)
        return await self._wait(key, self._future(key))

    async def next_message(self) -> Message:
        """The next delivered message; raises ConnectionLost when the connection drops."""
        return await self._inbox.next()

    def received(self, limit: int) -> list[Message]:
        """Up to ``limit`` messages that have already arrived, without waiting (a burst to store together)."""
        return self._inbox.received(limit)

    def ack(self, msg: Message) -> None:
        """With ``manual_ack``: send the PUBACK of a QoS 1 message once it is safely handled."""
        if self._unacked.release(msg) and self._connected:
            self._client.ack(msg.packet_id, 1)

    async def disconnect(self) -> None:
        """Send DISCONNECT (the broker drops the will) and close the socket."""
        if not self._connected:
            return
        done = self._waiting["closed"] = self._loop.create_future()
        self._client.disconnect()
        try:
            await asyncio.wait_for(asyncio.shield(done), 2.0)
        except (asyncio.TimeoutError, ConnectionLost):
            pass
        finally:
            self._waiting.pop("closed", None)
            if self._sock is not None:  # the DISCONNECT could not be written in time
                _close_socket(self._client)

    # --- waiting for the broker -------------------------------------------------------

    def _require(self) -> None:
        if not self._connected:
            raise ConnectionLost(f"{self.client_id}: not connected")

    def _future(self, key: Any) -> asyncio.Future:
        fut = self._waiting[key] = self._loop.create_future()
        return fut

    async def _wait(self, key: Any, fut: asyncio.Future) -> Any:
        try:
            return await asyncio.wait_for(fut, self.ack_timeout)
        except asyncio.TimeoutError:
            self._client.disconnect()  # no answer in time: treat the connection as dead
            self._drop()
            raise ConnectionLost(f"{self.client_id}: no answer to {key} within {self.ack_timeout} s") from None
        finally:
            self._waiting.pop(key, None)

    def _settle(self, key: Any, value: Any = None, error: BaseException | None = None) -> None:
        fut = self._waiting.get(key)
        if fut is not None and not fut.done():
            fut.set_exception(error) if error is not None else fut.set_result(value)

    # --- paho callbacks (called from loop_read/loop_write/loop_misc on the event loop) -------

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        self._events += 1
        if reason_code.is_failure:
            self._settle("connack", error=ConnectionLost(f"{self.client_id}: broker refused: {reason_code}"))
            return
        self._connected = True
        self._settle("connack", bool(flags.session_present))

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._drop(f"{self.client_id}: connection lost ({reason_code})")

    def _drop(self, why: str = "connection lost") -> None:
        was = self._connected
        self._connected = False
        self._unacked.clear()
        self._settle("closed", True)
        for key in list(self._waiting):
            self._settle(key, error=ConnectionLost(why))
        if was:
            self._inbox.put(ConnectionLost(why))

    def _on_message(self, client, userdata, message) -> None:
        msg = Message(topic_text(message), bytes(message.payload), message.qos, bool(message.retain),
                      bool(message.dup), message.mid or None)
        if self.manual_ack and msg.qos == 1:
            self._unacked.hold(msg)
        self._events += 1
        self._inbox.put(msg)

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        self._events += 1
        self._settle(("puback", mid), True)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        self._events += 1
        code = reason_codes[0]
        self._settle(("suback", mid), 128 if code.is_failure else int(code.value))

    def _on_socket_open(self, client, userdata, sock) -> None:
        self._sock = sock
        self._loop.add_reader(sock, self._readable)
        self._misc = self._loop.create_task(self._misc_loop())

    def _on_socket_close(self, client, userdata, sock) -> None:
        self._loop.remove_reader(sock)
        self._loop.remove_writer(sock)
        if self._misc is not None:
            self._misc.cancel()
            self._misc = None
        self._sock = None
        self._drop(f"{self.client_id}: connection closed")

    def _on_register_write(self, client, userdata, sock) -> None:
        self._loop.add_writer(sock, self._writable)

    def _on_unregister_write(self, client, userdata, sock) -> None:
        self._loop.remove_writer(sock)

    def _readable(self) -> None:
        # paho reads one packet per loop_read; read on while packets keep coming (up to a bound, so
        # other tasks still run), so a burst lands in the inbox together and the bridge can commit it
        # as one transaction instead of waking once per message.
        for _ in range(_READ_BURST):
            before = self._events
            self._client.loop_read()
            if self._events == before or self._sock is None:
                break
        sock = self._sock
        while sock is not None and isinstance(sock, ssl.SSLSocket) and sock.pending() and self._sock is sock:
            self._client.loop_read()  # TLS may hold decrypted bytes the selector cannot see

    def _writable(self) -> None:
        self._client.loop_write()

    async def _misc_loop(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self._client.loop_misc()  # keep-alive pings; a silent broker is detected here


def topic_text(message: paho.MQTTMessage) -> str:
    """A received message's topic as text, even when it is not valid UTF-8 (escaped, so it can be refused).

    paho's public ``topic`` decodes strictly and raises on bytes that are not UTF-8
    (a broker that does not check topics passes them on); the raw topic is then the
    object of the ``UnicodeDecodeError`` (paho decodes the whole topic in one call).
    """
    try:
        return message.topic
    except UnicodeDecodeError as exc:
        return bytes(exc.object).decode("utf-8", "backslashreplace")


def _close_socket(client: paho.Client) -> None:
    """Close the client's socket now, through paho, so paho's state and our socket callbacks follow.

    paho-mqtt 2.2 (written against 2.2.0) has no public call for this: ``disconnect()``
    only queues a DISCONNECT packet, and paho closes the socket itself once the packet
    is written (or on a read error). When the packet cannot be written in time (a
    broker that stopped reading), the only way to give the socket back is paho's own
    private ``_sock_close``, which calls ``on_socket_close`` (we stop watching the
    socket there) and leaves the client ready for ``connect()``. Recheck on a paho upgrade.
    """
    client._sock_close()
