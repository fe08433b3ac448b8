"""What the three SQLite stores (bridge, controller, cloud) share about their schema versions.

Each store keeps its version in ``PRAGMA user_version`` and migrates forward when it opens. Before the first
step of a migration the file is copied beside itself, as ``<file>.v<old>.bak``, with SQLite's online backup
API (a consistent copy even in WAL mode): an upgrade that goes wrong leaves the old data to go back to. A file
from newer code is refused (:func:`refuse_newer`) rather than opened: downgrading could lose data.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from system.errors import ConfigError


def refuse_newer(found: int, known: int, path: str, what: str) -> None:
    """A ConfigError, one line naming the file and both versions, when ``found`` > ``known``."""
    if found > known:
        raise ConfigError(f"{what} schema v{found} is newer than this hilsim's (v{known}); "
                          "run the newer hilsim, or give another file", source=path)


def backup_before_migrating(db: sqlite3.Connection, path: str, found: int) -> Path | None:
    """Copy the database at ``path`` (version ``found``) to ``<path>.v<found>.bak``; None for an in-memory one.
    An existing backup of the same version is kept (the first copy of that version is the one worth having)."""
    if path in ("", ":memory:") or path.startswith("file:"):
        return None
    target = Path(f"{path}.v{found}.bak")
    if target.exists():
        return target
    copy = sqlite3.connect(str(target))
    try:
        db.backup(copy)
    finally:
        copy.close()
    return target
