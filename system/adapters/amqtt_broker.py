"""The embedded live MQTT broker: amqtt with per-device passwords, optional TLS, persistent sessions.

A live adapter (asyncio is allowed here). amqtt does the MQTT; this module adds
what the field system needs and amqtt does not give as configured out of the box:

- **Authentication that checks passwords.** ``DeviceAuthPlugin`` accepts a client
  that presents a username listed in the password file *and* the right password
  (Argon2 hashes, the format amqtt's own ``FileAuthPlugin`` reads), or, on a TLS
  connection, a client certificate the CA verified. Everything else is refused
  with CONNACK "not authorised", counted and traced as ``client.refused``. (amqtt's
  ``AnonymousAuthPlugin`` with ``allow_anonymous: false`` accepts *any* username
  without looking at the password.)
- **Sessions that queue.** amqtt queues QoS 1 messages for an offline persistent
  session only if the session is not anonymous; sessions this plugin authenticated
  are not, so a persistent bridge gets what was published while it was away.
- **MQTT 3.1.1 where amqtt departs from it.** ``amqtt_repairs`` wraps private amqtt
  methods while an ``EmbeddedBroker`` runs (importing this module changes nothing):
  keepalive enforced at 1.5x with the will published, unacknowledged QoS 1 and 2
  messages sent again when a persistent session resumes, clean sessions that end
  with their connection, takeover, retained messages on SUBSCRIBE only, delivery at
  min(published, granted) QoS. The rules, and what amqtt does without them, are
  listed there.
- **TLS with required client certificates.** amqtt's own TLS listener hard-codes
  ``CERT_OPTIONAL``; the broker here owns its sockets instead (amqtt's ``external``
  listener type), so ``require_client_cert`` refuses a client without a certificate
  in the TLS handshake. Owning the socket also allows ``port=0`` (a free port, read
  back from ``EmbeddedBroker.port``).

Password file: one ``user:hash`` a line, ``#`` comments; ``add_user`` writes it.
Sessions and retained messages live in memory: a restart of the process loses them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from amqtt.adapters import StreamReaderAdapter, StreamWriterAdapter
from amqtt.broker import Broker
from amqtt.errors import AMQTTError, BrokerError
from amqtt.plugins.base import BaseAuthPlugin
from amqtt.session import Session

from system.adapters import amqtt_repairs
from system.adapters.passwords import hash_password, verify_password
from system.errors import BackendError, ConfigError

log = logging.getLogger(__name__)

# hash_password is re-exported: callers that write password files import it from here.
__all__ = ["BrokerSettings", "DeviceAuthPlugin", "EmbeddedBroker", "TlsConfig", "add_user", "hash_password",
           "read_password_file", "verify_password"]


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
        if not sep or not user or not password_hash.startswith("$argon2"):
            raise ConfigError(f"expected 'user:$argon2id$...' (write entries with "
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
    entry = f"{user}:{hash_password(password)}"
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
    """Where the broker listens and whom it lets in. ``users`` maps user -> Argon2 hash."""

    host: str = "127.0.0.1"
    port: int = 1883
    users: dict[str, str] = field(default_factory=dict)
    tls: TlsConfig | None = None


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


class EmbeddedBroker:
    """An amqtt broker on our own listening socket; use ``async with`` or start()/stop().

    ``rt`` (optional) is the broker party's runtime for trace lines: ``broker.started``,
    ``client.authenticated``, ``client.refused`` (reason ``unknown_user``,
    ``wrong_password``, ``no_credentials``), ``client.connected``,
    ``client.disconnected`` (written once amqtt has fully processed the end of the
    connection, will included), ``broker.stopped``.
    """

    def __init__(self, settings: BrokerSettings, rt: Any = None):
        self.settings = settings
        self.rt = rt
        self.refused: Counter[str] = Counter()
        self.accepted = 0
        self._broker: Broker | None = None
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task] = set()
        self._repaired: Broker | None = None  # the amqtt Broker our repairs act for

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
        try:
            self._broker = Broker(config)
            amqtt_repairs.install(self._broker)
            self._repaired = self._broker
            await self._broker.start()
            self._server = await asyncio.start_server(self._connected, self.settings.host, self.settings.port,
                                                      ssl=ssl_context, reuse_address=True)
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
        self._trace("broker.stopped")

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
        try:
            await self._broker.external_connected(StreamReaderAdapter(reader), StreamWriterAdapter(writer), "default")
        except Exception:  # one broken connection must never stop the broker
            log.exception("connection handler failed")
        finally:
            writer.close()

    async def _authenticate(self, session: Session) -> bool:
        client = session.client_id or ""
        if session.username:
            password_hash = self.settings.users.get(session.username)
            if password_hash is None:
                return self._refuse(client, "unknown_user", session.username)
            ok = await asyncio.to_thread(verify_password, session.password or "", password_hash)
            if not ok:
                return self._refuse(client, "wrong_password", session.username)
            return self._accept(client, user=session.username)
        cert = session.ssl_object.getpeercert() if session.ssl_object is not None else None
        if cert:  # only present when the CA verified it
            subject = dict(item for rdn in cert.get("subject", ()) for item in rdn)
            return self._accept(client, cert=subject.get("commonName", "?"))
        return self._refuse(client, "no_credentials", "")

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
