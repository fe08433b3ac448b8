"""The cloud's dashboard sessions as server-side records, and its private files (the database, the key file).

A session is a row: the SHA-256 of its id (the cookie holds the id itself, so a stolen database
holds no usable session), its user, its CSRF token and when it ends. Rules, in one place:

- a login makes a new record with a new id and a new CSRF token (:meth:`SessionTable.open`);
- logout ends that record (:meth:`SessionTable.close`); a new password ends every record of its user
  (:meth:`SessionTable.close_all`);
- a record is only honoured while it has not ended and its user still exists (:meth:`SessionTable.find`).

The cookie-signing key is not in the database: it lives in a file beside it (:func:`key_file`), and the
database and the key file are created readable by their owner only (0600).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sqlite3
from dataclasses import dataclass
from typing import Callable, ContextManager

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (id_sha256 TEXT PRIMARY KEY, user TEXT NOT NULL, csrf TEXT NOT NULL,
    created REAL NOT NULL, ends REAL NOT NULL);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions(user);
"""


@dataclass(frozen=True)
class Session:
    """A live session: its ``user`` and the CSRF token its state-changing requests carry."""

    user: str
    csrf: str


class SessionTable:
    """The ``sessions`` table of the cloud's database ``db``; ``tx()`` opens a write transaction."""

    def __init__(self, db: sqlite3.Connection, tx: Callable[[], ContextManager[sqlite3.Connection]]):
        self.db, self._tx = db, tx

    def open(self, user: str, now: float, max_age: float) -> tuple[str, Session]:
        """A new session for ``user`` (a fresh id and CSRF token); returns the id for the cookie."""
        sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        with self._tx() as db:
            db.execute("DELETE FROM sessions WHERE ends <= ?", (now,))
            db.execute("INSERT INTO sessions VALUES (?, ?, ?, ?, ?)", (_sha256(sid), user, csrf, now, now + max_age))
        return sid, Session(user, csrf)

    def find(self, sid: str, now: float) -> Session | None:
        """The session with this id, if it has not ended and its user still exists."""
        row = self.db.execute("SELECT s.user, s.csrf FROM sessions s JOIN users u ON u.name = s.user "
                              "WHERE s.id_sha256 = ? AND s.ends > ?", (_sha256(sid), now)).fetchone()
        return Session(*row) if row else None

    def close(self, sid: str) -> None:
        """End one session (logout)."""
        with self._tx() as db:
            db.execute("DELETE FROM sessions WHERE id_sha256 = ?", (_sha256(sid),))

    def close_all(self, user: str) -> int:
        """End every session of ``user`` (a new password, a removed user); how many there were."""
        with self._tx() as db:
            return db.execute("DELETE FROM sessions WHERE user = ?", (user,)).rowcount


def create_private(path: str) -> None:
    """Make ``path`` an empty file readable by its owner only, unless it exists (then tighten it to 0600)."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        if os.stat(path).st_mode & 0o077:
            os.chmod(path, 0o600)


def key_file(path: str) -> str:
    """The secret in the key file ``path``, made (0600, 32 random bytes) on first use."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        with open(path, encoding="ascii") as existing:
            key = existing.read().strip()
        if len(key) < 32:
            raise ValueError(f"{path}: the key file is too short; delete it to make a new one") from None
        return key
    key = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w", encoding="ascii") as new:
        new.write(key + "\n")
    return key


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
