"""The embedded live MQTT broker: amqtt with per-device passwords, optional TLS, persistent sessions.

A live adapter (asyncio is allowed here). amqtt does the MQTT; this module adds
what the field system needs and amqtt does not give as configured out of the box:

- **A door before amqtt** (``system/adapters/broker_gate.py``): a connection gets
  to amqtt only with a CONNECT within the connect timeout, no packet over the size
  limit, a username listed in the password file *and* the right password (Mosquitto's
  ``$7$`` PBKDF2 lines, or Argon2 lines written before; ``system/adapters/passwords.py``)
  or, on a TLS connection, a client certificate the CA verified (its CN is the
  account), and a client id that belongs to the account
  (``system/decisions/mqtt_client_ids.py``). Everything else is refused with CONNACK
  "not authorised", counted and traced as ``client.refused``, before amqtt touches a
  session. ``DeviceAuthPlugin`` lets in exactly the connections the door admitted.
- **Topic access control** in Mosquitto's acl_file format
  (``system/decisions/mqtt_acl.py``): ``BrokerSettings.acl`` decides every publish
  (a denied one is dropped) and subscription (a denied one gets 0x80); denials are
  counted per account (``acl_denied``), traced ``acl.denied`` and logged at most once
  a minute per account. ``acl=None`` allows everything. amqtt's own hook
  (``Broker._topic_filtering``) is replaced on our broker instance only: it would
  start a task per plugin for every message. So is the sending of retained
  messages to a new subscription, which amqtt does without asking the hook: a
  retained message the client may not read (a deny rule inside a granted filter)
  stays unsent.
- **File descriptors running out** make asyncio log each failed ``accept()``; the
  broker logs it at most once a minute (with the count) and serves the clients it has.
- **Sessions that queue.** amqtt queues QoS 1 messages for an offline persistent
  session only if the session is not anonymous; sessions this plugin authenticated
  are not, so a persistent bridge gets what was published while it was away.
- **MQTT 3.1.1 where amqtt departs from it.** ``amqtt_repairs`` wraps private amqtt
  methods while an ``EmbeddedBroker`` runs (importing this module changes nothing):
  keepalive enforced at 1.5x with the will published, unacknowledged QoS 1 and 2
  messages sent again when a persistent session resumes, clean sessions that end
  with their connection, takeover, retained messages on SUBSCRIBE only (each read-checked
  against the ACL), delivery at min(published, granted) QoS. The rules, and what amqtt
  does without them, are listed there.
- **TLS with required client certificates.** amqtt's own TLS listener hard-codes
  ``CERT_OPTIONAL``; the broker here owns its sockets instead (amqtt's ``external``
  listener type), so ``require_client_cert`` refuses a client without a certificate
  in the TLS handshake. Owning the socket also allows ``port=0`` (a free port, read
  back from ``EmbeddedBroker.port``).

Password file: one ``user:hash`` a line, ``#`` comments, the format of Mosquitto's ``password_file``;
``add_user`` writes ``$7$`` lines (``mosquitto_passwd`` writes the same), and Argon2 lines are still read.
Sessions and retained messages live in memory: a restart of the process loses them.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import ssl
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from amqtt.adapters import StreamWriterAdapter
from amqtt.broker import Broker
from amqtt.errors import AMQTTError, BrokerError
from amqtt.plugins.base import BaseAuthPlugin
from amqtt.session import Session

from amqtt.contexts import Action

from system.adapters import amqtt_repairs
from system.adapters.broker_gate import BrokerGate, BrokerLimits, GatedReader
from system.adapters.passwords import hash_device_password, hash_password, is_known_format, verify_password
from system.decisions.mqtt_acl import AclPolicy, parse_acl
from system.decisions.mqtt_client_ids import ClientIdRule
from system.errors import BackendError, ConfigError

log = logging.getLogger(__name__)

#: The shipped topic policy, in the wheel: the same text as deploy/mosquitto/acl, which Mosquitto reads
#: (a test keeps the two identical).
DEFAULT_ACL_FILE = Path(__file__).with_name("default.acl")

# hash_password is re-exported: callers that write password files import it from here.
__all__ = ["BrokerLimits", "BrokerSettings", "ClientIdRule", "DeviceAuthPlugin", "EmbeddedBroker", "TlsConfig",
           "add_user", "hash_password", "read_password_file", "verify_password"]


def read_password_file(path: Path) -> dict[str, str]:
    """The users of a password file; refuses a malformed file with its line number and the fix."""
    users: dict[str, str] = {}
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the password file ({exc.strerror}); "
                          f"create it with `hilsim broker --passwd {path} --add-user NAME`", source=str(path)) from exc
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, password_hash = line.partition(":")
        if not sep or not user or not is_known_format(password_hash):
            raise ConfigError(f"expected 'user:$argon2id$...' or Mosquitto's 'user:$7$...' (write entries with "
                              f"`hilsim broker --passwd {path} --add-user NAME`)", source=str(path), line=number)
        users[user] = password_hash
    return users


def add_user(path: Path, user: str, password: str) -> bool:
    """Add ``user`` to the password file (or replace its password); returns True if it was new.

    The file is rewritten atomically and kept readable by its owner only.
    """
    if not user or ":" in user or any(c.isspace() for c in user):
        raise ConfigError(f"user name {user!r} must be non-empty, without ':' or spaces", source="--add-user")
    if not password:
        raise ConfigError("the password must not be empty", source="--add-user")
    path = Path(path)
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    entry = f"{user}:{hash_device_password(password)}"
    kept = [ln for ln in lines if ln.partition(":")[0].strip() != user or ln.lstrip().startswith("#")]
    new = len(kept) == len(lines)
    fd, tmp = tempfile.mkstemp(dir=path.parent or Path("."), prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("\n".join([*kept, entry]) + "\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return new


@dataclass(frozen=True)
class TlsConfig:
    """Server certificate and key; ``ca_cert`` verifies client certificates."""

    cert: Path
    key: Path
    ca_cert: Path | None = None
    require_client_cert: bool = False

    def context(self) -> ssl.SSLContext:
        """The server-side SSL context (client certificates required, optional, or not asked for)."""
        if self.require_client_cert and self.ca_cert is None:
            raise ConfigError("requiring client certificates needs a CA certificate to verify them",
                              source="--ca-cert")
        try:
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH,
                                             cafile=str(self.ca_cert) if self.ca_cert else None)
            ctx.load_cert_chain(str(self.cert), str(self.key))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"TLS setup failed: a certificate or key does not load ({exc})",
                              source="--tls-cert/--tls-key/--ca-cert") from exc
        if self.require_client_cert:
            ctx.verify_mode = ssl.CERT_REQUIRED
        elif self.ca_cert is not None:
            ctx.verify_mode = ssl.CERT_OPTIONAL
        else:
            ctx.verify_mode = ssl.CERT_NONE
        return ctx


@dataclass(frozen=True)
class BrokerSettings:
    """Where the broker listens and whom it lets in. ``users`` maps user -> password hash.

    ``acl`` None allows every account everything, and ``client_ids`` defaults to the ``free``
    rule: right for a broker embedded in a test. ``hilsim broker`` passes the shipped default
    policy and the ``account`` rule unless told otherwise.
    """

    host: str = "127.0.0.1"
    port: int = 1883
    users: dict[str, str] = field(default_factory=dict)
    tls: TlsConfig | None = None
    acl: AclPolicy | None = None
    client_ids: ClientIdRule = ClientIdRule("free")
    limits: BrokerLimits = BrokerLimits()


def secure_settings(**fields: Any) -> BrokerSettings:
    """``BrokerSettings`` with the shipped policy: the default ACL (:data:`DEFAULT_ACL_FILE`), client ids bound
    to accounts, the default connection limits; ``fields`` as for BrokerSettings (host, port, users, tls)."""
    text = DEFAULT_ACL_FILE.read_text(encoding="utf-8")
    return BrokerSettings(**{"acl": parse_acl(text, str(DEFAULT_ACL_FILE)), "client_ids": ClientIdRule("account"),
                             **fields})


class DeviceAuthPlugin(BaseAuthPlugin):
    """amqtt auth plugin: a known user with the right password, or a CA-verified client certificate."""

    @dataclass
    class Config:
        owner: Any = None  # the EmbeddedBroker: users, refusal counters, trace

    async def authenticate(self, *, session: Session) -> bool | None:
        return await self.config.owner._authenticate(session)

    async def on_broker_client_connected(self, *, client_id: str, client_session: Session) -> None:
        self.config.owner._trace("client.connected", client=client_id,
                                 session_present=bool(getattr(client_session, "parent", 0)))

    async def on_broker_client_disconnected(self, *, client_id: str, client_session: Session) -> None:
        self.config.owner._trace("client.disconnected", client=client_id)


_ACCOUNT = "hilsim.account"
_ACCESS = "hilsim.access"  # the session's ClientAccess, or None without an ACL
_VERDICTS = "hilsim.verdicts"  # (action, topic) -> allowed: a client's topics repeat
_MINUTE = 60.0
_OUT_OF_DESCRIPTORS = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)




class EmbeddedBroker:
    """An amqtt broker on our own listening socket; use ``async with`` or start()/stop().

    ``rt`` (optional) is the broker party's runtime for trace lines: ``broker.started``,
    ``client.authenticated``, ``client.refused`` (reason ``unknown_user``,
    ``wrong_password``, ``no_credentials``), ``client.connected``,
    ``client.disconnected`` (written once amqtt has fully processed the end of the
    connection, will included), ``acl.denied``, ``client.idle_closed``,
    ``client.packet_too_large``, ``client.over_address_cap``, ``broker.stopped``.
    """

    def __init__(self, settings: BrokerSettings, rt: Any = None):
        self.settings = settings
        self.rt = rt
        self.refused: Counter[str] = Counter()
        self.accepted = 0
        self.acl_denied: Counter[str] = Counter()  # by account
        self.out_of_descriptors = 0  # accept() calls that failed for want of a file descriptor
        self._broker: Broker | None = None
        self._server: asyncio.Server | None = None
        self._gate: BrokerGate | None = None
        self._tickets: dict[str, tuple[str, str | None]] = {}  # client id -> (account, user name) admitted
        self._logged_at: dict[str, float] = {}  # what was last logged when (rate-limited lines)
        self._loop_handler: Any = None
        self._connections: set[asyncio.Task] = set()
        self._writers: dict[asyncio.StreamWriter, str] = {}  # each admitted connection -> its account
        self._only: frozenset[str] | None = None  # while set, only these accounts get in (admit_only)
        self._repaired: Broker | None = None  # the amqtt Broker our repairs act for

    @property
    def hygiene(self) -> Counter[str]:
        """Connections the door closed, by reason (idle_closed, packet_too_large, over_address_cap, ...)."""
        return self._gate.counts if self._gate is not None else Counter()

    @property
    def port(self) -> int:
        """The port it listens on (the real one when settings asked for port 0)."""
        if self._server is None:
            raise BackendError("the broker is not started")
        return self._server.sockets[0].getsockname()[1]

    async def start(self) -> None:
        ssl_context = self.settings.tls.context() if self.settings.tls else None
        config = {
            "listeners": {"default": {"type": "external"}},
            "plugins": {f"{__name__}.DeviceAuthPlugin": {"owner": self}},
        }
        self._gate = BrokerGate(self.settings.users, self.settings.limits, self.settings.client_ids,
                                refuse=self._refuse, accept=self._accept, trace=self._trace)
        self._watch_descriptors()
        try:
            self._broker = Broker(config)
            amqtt_repairs.install(self._broker)
            self._repaired = self._broker
            self._broker._topic_filtering = self._topic_allowed  # this instance only (see the module docstring)
            self._broker.hilsim_may_read = self._may_read_retained  # the repairs' retained sends ask it
            await self._broker.start()
            self._server = await asyncio.start_server(
                self._connected, self.settings.host, self.settings.port, ssl=ssl_context, reuse_address=True,
                ssl_handshake_timeout=self.settings.limits.connect_timeout if ssl_context else None)
        except (OSError, AMQTTError, BrokerError) as exc:
            await self.stop()
            raise BackendError(f"cannot start the broker on {self.settings.host}:{self.settings.port}: {exc}") from exc
        self._trace("broker.started", port=self.port, tls=ssl_context is not None)

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()  # no new connections
        if self._broker is not None and self._broker.transitions.state == "started":
            await self._broker.shutdown()
        self._broker = None
        # Connection handlers still running would otherwise be torn down with the event loop.
        for task in self._connections:
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if server is not None:
            await server.wait_closed()
        if self._repaired is not None:
            amqtt_repairs.remove(self._repaired)
            self._repaired = None
        if self._loop_handler is not None:
            asyncio.get_running_loop().set_exception_handler(self._loop_handler[0])
            self._loop_handler = None
        self._trace("broker.stopped")

    def admit_only(self, accounts: frozenset[str] | None) -> None:
        """Let in only ``accounts`` from now on (None: everyone again). This broker keeps no session across a
        restart: a node that publishes before the bridge has subscribed again would publish to nobody, so
        ``hilsim serve`` opens the doors to the nodes only once the bridge is subscribed."""
        self._only = accounts
        self._trace("broker.admitting", accounts="everyone" if accounts is None else sorted(accounts))

    def quiesce(self, keep: frozenset[str]) -> int:
        """Take no more messages: no new connection, and every client of an account not in ``keep`` is cut off
        (a node keeps what was not acknowledged and sends it to the next broker it reaches). Before a stop,
        so that a bridge in ``keep`` can drain its queue: this broker keeps sessions in memory only.
        Returns how many connections were cut."""
        if self._server is not None:
            self._server.close()
        cut = [writer for writer, account in self._writers.items() if account not in keep]
        for writer in cut:
            writer.transport.abort()
        self._trace("broker.quiesced", cut=len(cut), kept=sorted(keep))
        return len(cut)

    async def serve_forever(self) -> None:
        """Run until cancelled."""
        await asyncio.Event().wait()

    async def __aenter__(self) -> "EmbeddedBroker":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._connections.add(task)
        task.add_done_callback(self._connections.discard)
        peer = writer.get_extra_info("peername")
        address = str(peer[0]) if peer else "?"
        if not self._gate.enter(address):
            writer.close()
            return
        try:
            admission = await self._gate.admit(reader, writer)
            if admission is not None:
                self._tickets[admission.client_id] = (admission.account, admission.username)
                if self._only is not None and admission.account not in self._only:
                    self._trace("client.turned_away", client=admission.client_id, reason="broker not open yet")
                    return  # the connection closes; the client retries, as after any drop
                self._writers[writer] = admission.account
                gated = GatedReader(reader, admission, lambda exc: self._too_large(exc, writer))
                await self._broker.external_connected(gated, StreamWriterAdapter(writer), "default")
        except Exception:  # one broken connection must never stop the broker
            log.exception("connection handler failed")
        finally:
            self._writers.pop(writer, None)
            self._gate.leave(address)
            writer.close()

    def _too_large(self, exc: Exception, writer: asyncio.StreamWriter) -> None:
        self._gate.packet_too_large(exc, writer)
        writer.transport.abort()

    async def _authenticate(self, session: Session) -> bool:
        """Let in what the door admitted: the account it proved, bound to this client id."""
        account, username = self._tickets.pop(session.client_id or "", (None, None))
        if account is None or session.username != username:  # not what the door let in for this id
            return False
        session.attributes[_ACCOUNT] = account
        acl = self.settings.acl
        session.attributes[_ACCESS] = acl.access_for(account, session.client_id) if acl is not None else None
        session.attributes[_VERDICTS] = {}
        return True

    async def _topic_allowed(self, session: Session, topic: str, action: Action) -> bool:
        """amqtt's topic hook: may this session publish, subscribe to, or receive ``topic``?"""
        if self.settings.acl is None:
            return True
        verdicts = session.attributes.setdefault(_VERDICTS, {})
        allowed = verdicts.get((action, topic))
        if allowed is None:
            access = session.attributes.get(_ACCESS)
            if access is None:
                allowed = False
            elif action == Action.PUBLISH:
                allowed = access.may_publish(topic)
            elif action == Action.SUBSCRIBE:
                allowed = access.may_subscribe(topic)
            else:
                allowed = access.may_read(topic)
            if len(verdicts) >= 1024:  # a client that walks many topics must not grow memory
                verdicts.clear()
            verdicts[(action, topic)] = allowed
        if not allowed and action != Action.RECEIVE:
            self._denied(session, str(action), topic)
        return allowed

    def _may_read_retained(self, session: Session, topic: str) -> bool:
        """Whether a retained message on ``topic`` may go to ``session`` when it subscribes (amqtt sends
        retained messages without asking the topic filter, so a deny rule inside a granted filter is kept here)."""
        access = session.attributes.get(_ACCESS)
        return self.settings.acl is None or (access is not None and access.may_read(topic))

    def _denied(self, session: Session, action: str, topic: str) -> None:
        account = session.attributes.get(_ACCOUNT, "?")
        self.acl_denied[account] += 1
        self._trace("acl.denied", account=account, client=session.client_id, action=action, topic=topic[:200])
        if self._first_in_a_minute(f"acl/{account}"):
            log.warning("acl denied client %r (user %r): %s %s (%d denials of this account so far)",
                        session.client_id, account, action, topic[:200], self.acl_denied[account])

    def _first_in_a_minute(self, what: str) -> bool:
        now = asyncio.get_running_loop().time()
        if now - self._logged_at.get(what, -_MINUTE) < _MINUTE:
            return False
        self._logged_at[what] = now
        return True

    def _watch_descriptors(self) -> None:
        """asyncio logs every accept() that finds no file descriptor; log that once a minute instead."""
        loop = asyncio.get_running_loop()
        previous = loop.get_exception_handler()
        self._loop_handler = (previous,)

        def handler(loop: asyncio.AbstractEventLoop, context: dict) -> None:
            exc = context.get("exception")
            if isinstance(exc, OSError) and exc.errno in _OUT_OF_DESCRIPTORS:
                self.out_of_descriptors += 1
                if self._first_in_a_minute("descriptors"):
                    log.error("out of file descriptors (%s): new connections wait; %d refused accept()s so far",
                              exc.strerror, self.out_of_descriptors)
                return
            if previous is not None:
                previous(loop, context)
            else:
                loop.default_exception_handler(context)

        loop.set_exception_handler(handler)

    def _accept(self, client: str, **who: str) -> bool:
        self.accepted += 1
        self._trace("client.authenticated", client=client, **who)
        return True

    def _refuse(self, client: str, reason: str, user: str) -> bool:
        self.refused[reason] += 1
        self._trace("client.refused", client=client, reason=reason, user=user)
        log.warning("refused client %r (user %r): %s", client, user, reason)
        return False

    def _trace(self, kind: str, **fields: Any) -> None:
        if self.rt is not None:
            self.rt.trace(kind, **fields)
