"""The broker's door: what a connection must get through before amqtt sees it.

A live adapter (asyncio). The embedded broker owns its listening socket and hands each new
connection to :meth:`BrokerGate.admit` first; only an admitted connection reaches amqtt,
so a refused client never touches a session (amqtt takes a client id's session over, or
deletes it, before it asks whether the client may log in).

In order:

1. **Connections per address** are capped (``max_per_address``, 0 for no cap): one address
   cannot fill the broker's file descriptors.
2. **The CONNECT must come within** ``connect_timeout`` seconds, and be the first packet; a
   socket that sends nothing, or something else, is closed (counted ``idle_closed``).
3. **No packet over** ``max_packet`` bytes, the CONNECT included; the size is read from the
   fixed header before the body (``system/mqtt/frames.py``), and the connection is closed.
4. **Credentials**: a user name with its password, checked off the event loop in at most
   ``login_slots`` threads at once; an unknown user is checked against a dummy hash of the
   same cost, so the time does not tell which names exist; a refusal waits
   ``failure_delay`` seconds before CONNACK (outside the slots, so it holds nothing up).
   Without a user name, a TLS client certificate the CA verified names the account (its CN).
5. **The client id belongs to the account** (``system/decisions/mqtt_client_ids.py``); an
   empty one with a clean session gets ``<account>-<random>``.

Refusals answer CONNACK "not authorised" (5), or "identifier rejected" (2) for an empty client
id with a persistent session, and close the connection.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

from amqtt.adapters import ReaderAdapter
from amqtt.errors import MQTTError, NoDataError
from amqtt.mqtt.connect import ConnectPacket

from system.adapters.passwords import dummy_hash_like, verify_password
from system.decisions.mqtt_client_ids import (EMPTY, EMPTY_PERSISTENT, OK, ClientIdRule, assigned_client_id,
                                              check_client_id)
from system.mqtt.frames import FrameMeter, MalformedLength, PacketTooLarge

log = logging.getLogger("system.adapters.amqtt_broker")

_CONNECT = 1
_NOT_AUTHORISED = 5
_IDENTIFIER_REJECTED = 2


@dataclass(frozen=True)
class BrokerLimits:
    """Connection hygiene: the defaults suit a fleet of small devices (a reading is about 150 bytes)."""

    connect_timeout: float = 10.0
    max_packet: int = 64 * 1024
    max_per_address: int = 256
    login_slots: int = 4
    failure_delay: float = 1.0


@dataclass(frozen=True)
class Admission:
    """A connection let through: the CONNECT to replay to amqtt, the account, the client id, the user name."""

    connect: bytes
    account: str
    client_id: str
    meter: FrameMeter = field(compare=False)
    username: str | None = None  # None for a client certificate


class _BytesReader(ReaderAdapter):
    """Reads from bytes already received (amqtt's packet decoders take a reader)."""

    def __init__(self, data: bytes):
        self._data = data

    async def read(self, n: int = -1) -> bytes:
        n = len(self._data) if n < 0 else n
        chunk, self._data = self._data[:n], self._data[n:]
        return chunk

    def feed_eof(self) -> None:
        pass


class GatedReader(ReaderAdapter):
    """amqtt's reader of an admitted connection: the CONNECT first, then the stream, metered."""

    def __init__(self, reader: asyncio.StreamReader, admission: Admission, on_too_large: Callable[[Exception], None]):
        self._reader = reader
        self._first = admission.connect
        self._meter = admission.meter
        self._on_too_large = on_too_large

    async def read(self, n: int = -1) -> bytes:
        if self._first:
            n = len(self._first) if n < 0 else n
            chunk, self._first = self._first[:n], self._first[n:]
            return chunk
        data = await (self._reader.read(n) if n < 0 else self._reader.readexactly(n))
        try:
            self._meter.feed(data)
        except (PacketTooLarge, MalformedLength) as exc:
            self._on_too_large(exc)
            raise  # amqtt ends the connection on an exception it does not know
        return data

    def feed_eof(self) -> None:
        self._reader.feed_eof()


class BrokerGate:
    """Admits or refuses new connections; counts why (``counts``) and calls ``refuse`` for login refusals.

    ``users`` maps user name -> password hash; ``refuse(client, reason, user)`` and
    ``accept(client, **who)`` are the broker's counters and trace.
    """

    def __init__(self, users: dict[str, str], limits: BrokerLimits, client_ids: ClientIdRule,
                 refuse: Callable[..., None], accept: Callable[..., None], trace: Callable[..., None]):
        self.users = users
        self.limits = limits
        self.client_ids = client_ids
        self.counts: Counter[str] = Counter()
        self._refuse, self._accept, self._trace = refuse, accept, trace
        self._per_address: Counter[str] = Counter()
        self._slots = asyncio.Semaphore(max(1, limits.login_slots))
        self._dummy = dummy_hash_like(_most_common_kind(users))

    def enter(self, address: str) -> bool:
        """Count a new connection from ``address``; False (and counted) if the address is at its cap."""
        cap = self.limits.max_per_address
        if cap and self._per_address[address] >= cap:
            self.counts["over_address_cap"] += 1
            self._trace("client.over_address_cap", address=address)
            return False
        self._per_address[address] += 1
        return True

    def leave(self, address: str) -> None:
        """The connection from ``address`` is closed."""
        self._per_address[address] -= 1
        if self._per_address[address] <= 0:
            del self._per_address[address]

    async def admit(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Admission | None:
        """Read and judge the CONNECT; None if the connection was refused (CONNACK sent where due)."""
        meter = FrameMeter(self.limits.max_packet)
        try:
            async with asyncio.timeout(self.limits.connect_timeout):
                data = await self._first_packet(reader, meter)
        except TimeoutError:
            self.counts["idle_closed"] += 1
            self._trace("client.idle_closed", address=_address(writer))
            return None
        except (PacketTooLarge, MalformedLength) as exc:
            self.packet_too_large(exc, writer)
            return None
        except (asyncio.IncompleteReadError, ConnectionError, _NotConnect):
            self.counts["not_connect"] += 1
            return None
        try:
            connect = await ConnectPacket.from_stream(_BytesReader(data))
        except (MQTTError, NoDataError, ValueError, UnicodeDecodeError):
            self.counts["malformed_connect"] += 1
            return None
        return await self._judge(connect, data, meter, writer)

    def packet_too_large(self, exc: Exception, writer: Any) -> None:
        """Count, trace and log a packet over the limit; the caller closes the connection."""
        self.counts["packet_too_large"] += 1
        self._trace("client.packet_too_large", address=_address(writer), error=str(exc))
        log.warning("closed a connection from %s: %s", _address(writer), exc)

    async def _first_packet(self, reader: asyncio.StreamReader, meter: FrameMeter) -> bytes:
        data = await reader.readexactly(1)
        meter.feed(data)
        if meter.first_type != _CONNECT:
            raise _NotConnect()
        while meter.packets == 0 and meter.body_left == 0:  # the remaining length, a byte at a time
            byte = await reader.readexactly(1)
            meter.feed(byte)
            data += byte
        if meter.packets == 0:
            body = await reader.readexactly(meter.body_left)
            meter.feed(body)
            data += body
        return data

    async def _judge(self, connect: ConnectPacket, data: bytes, meter: FrameMeter,
                     writer: asyncio.StreamWriter) -> Admission | None:
        client = connect.client_id if not connect.payload.client_id_is_random else ""
        proven = await self._account(connect, client, writer)
        if proven is None:
            await _connack(writer, _NOT_AUTHORISED)
            return None
        account, who = proven
        verdict = check_client_id(account, client, clean_session=bool(connect.clean_session_flag),
                                  rule=self.client_ids)
        if verdict == EMPTY:
            connect.payload.client_id = client = assigned_client_id(account, secrets.token_hex(6), self.client_ids)
            connect.payload.client_id_is_random = False
            data = bytes(connect.to_bytes())
        elif verdict != OK:
            self._refuse(client, verdict if verdict != EMPTY_PERSISTENT else "empty_client_id", account)
            await asyncio.sleep(self.limits.failure_delay)
            await _connack(writer, _IDENTIFIER_REJECTED if verdict == EMPTY_PERSISTENT else _NOT_AUTHORISED)
            return None
        self._accept(client, **who)
        return Admission(data, account, client, meter, who.get("user"))

    async def _account(self, connect: ConnectPacket, client: str,
                       writer: asyncio.StreamWriter) -> tuple[str, dict[str, str]] | None:
        """The account the CONNECT proves and how, or None (refused, counted, after the failure delay)."""
        username = connect.username if connect.username_flag else None
        if username is not None:
            stored = self.users.get(username)
            async with self._slots:
                ok = await asyncio.to_thread(verify_password, connect.password or "", stored or self._dummy)
            if stored is not None and ok:
                return username, {"user": username}
            self._refuse(client, "unknown_user" if stored is None else "wrong_password", username)
        else:
            ssl_object = writer.get_extra_info("ssl_object")
            cert = ssl_object.getpeercert() if ssl_object is not None else None
            if cert:  # only present when the CA verified it
                name = dict(item for rdn in cert.get("subject", ()) for item in rdn).get("commonName", "")
                if name:
                    return name, {"cert": name}
            self._refuse(client, "no_credentials", "")
        await asyncio.sleep(self.limits.failure_delay)
        return None


class _NotConnect(Exception):
    """The first packet of a connection is not a CONNECT [MQTT-3.1.0-1]."""


async def _connack(writer: asyncio.StreamWriter, return_code: int) -> None:
    try:
        writer.write(bytes([0x20, 0x02, 0x00, return_code]))
        await writer.drain()
    except ConnectionError:
        pass


def _address(writer: Any) -> str:
    peer = writer.get_extra_info("peername") if hasattr(writer, "get_extra_info") else None
    return str(peer[0]) if peer else "?"


def _most_common_kind(users: dict[str, str]) -> str | None:
    """A stored hash of the most common kind and cost, to model the dummy hash on."""
    if not users:
        return None
    kinds = Counter(h.rsplit("$", 2)[0] for h in users.values())
    kind = kinds.most_common(1)[0][0]
    return next(h for h in users.values() if h.rsplit("$", 2)[0] == kind)
