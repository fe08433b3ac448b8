"""Meetings: telling apart the games of a pairing met more than once in a season (play-offs, a replay).

A source without ids keys a game by its pairing (``home|away|competition|season``,
:func:`~system.decisions.events.pairing_key`). When the pairing meets again, its games are
told apart here, in both places that need it:

- Reading a source, :func:`number_meetings` numbers a pairing's games by date (the first
  keeps the plain key, the second gets ``#2``, ...), and finds a row that merely repeats
  another (same pairing, same kickoff): that row is refused alone.
- Reconciling, :func:`match_meetings` gives each listed game the key of the stored game it
  is: within a pairing, the pairs nearest in time first. So when one meeting moves (even
  past another), the others keep their exact dates and match first, and the moved one
  keeps its key, its alerts and its snoozes, whatever number the page now gives it. A
  listed game left over is a new meeting: it keeps its number when free, else takes the
  next free one. A stored game whose key the source lists as pending (time not fixed) is
  left to that pending game.

For example::

    >>> number_meetings([("A|B|Cup|2025-26", (2, 0)), ("A|B|Cup|2025-26", (1, 0)), (None, (0, 0))])
    ({1: 1, 0: 2}, {})
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Collection, Sequence

from system.decisions.events import Event, pairing_of, with_ordinal


def number_meetings(games: Sequence[tuple[str | None, Any]]) -> tuple[dict[int, int], dict[int, int]]:
    """For ``games`` as ``(pairing or None, order)`` in the order read: the ordinal of each game of a pairing
    (by ``order``, ties by position), and for each game that repeats an earlier one (same pairing, same
    ``order``) the position of the game it repeats; games without a pairing are in neither."""
    by_pairing: dict[str, list[int]] = {}
    for i, (pairing, _order) in enumerate(games):
        if pairing is not None:
            by_pairing.setdefault(pairing, []).append(i)
    ordinals: dict[int, int] = {}
    repeats: dict[int, int] = {}
    for positions in by_pairing.values():
        last: int | None = None
        for i in sorted(positions, key=lambda i: (games[i][1], i)):
            if last is not None and games[last][1] == games[i][1]:
                repeats[i] = last
                continue
            ordinals[i] = ordinals[last] + 1 if last is not None else 1
            last = i
    return ordinals, repeats


def match_meetings(stored: Sequence[Event], listed: Sequence[Event], pending: Collection[str],
                   taken: Collection[str]) -> list[Event]:
    """``listed`` with the keys of the ``stored`` games they are (see the module docstring); games keyed by a
    source's own id come back as they are. ``taken``: every key in use, which a new meeting avoids."""
    olds: dict[str, list[Event]] = {}
    for old in stored:
        pairing = pairing_of(old)
        if pairing is not None and old.key not in pending:
            olds.setdefault(pairing, []).append(old)
    news: dict[str, list[int]] = {}
    for i, new in enumerate(listed):
        pairing = pairing_of(new)
        if pairing is not None:
            news.setdefault(pairing, []).append(i)
    out = list(listed)
    used = set(taken) | set(pending)
    for pairing, positions in news.items():
        matched = _nearest_first(olds.get(pairing, []), listed, positions)
        used |= set(matched.values())
        for i in sorted(positions, key=lambda i: (listed[i].start, listed[i].key)):
            key = matched.get(i) or _free_key(pairing, listed[i].key, used)
            used.add(key)
            out[i] = replace(listed[i], key=key)
    return out


def _nearest_first(olds: Sequence[Event], listed: Sequence[Event], positions: Sequence[int]) -> dict[int, str]:
    """Listed position -> stored key, taking the pairs closest in time first (ties by date, then key)."""
    pairs = sorted((abs(listed[i].start - old.start), old.start, old.key, listed[i].start, i)
                   for i in positions for old in olds)
    matched: dict[int, str] = {}
    for _gap, _start, key, _new_start, i in pairs:
        if i not in matched and key not in matched.values():
            matched[i] = key
    return matched


def _free_key(pairing: str, wanted: str, used: set[str]) -> str:
    if wanted not in used:
        return wanted
    n = 2
    while with_ordinal(pairing, n) in used:
        n += 1
    return with_ordinal(pairing, n)
