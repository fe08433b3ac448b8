"""Sequence gaps: which of a node's readings the bridge never received, the rules in one place.

A node numbers its readings 1, 2, ... within each boot (``firmware/boot_count.py``), and
the bridge stores each ``(node, boot, seq)`` once. From the identities it stored, one
``SequenceGaps`` per node decides what is missing:

- Within a boot every seq from 1 to the highest stored one is expected. A reading above
  the highest opens a gap: ``highest + 1 .. seq - 1`` are missing.
- A reading inside a gap (a late one: a buffer flushed after a newer reading got
  through, a redelivery) fills that one seq: it is taken back off the count.
- A reading that is neither (seq 0, or a seq already seen) changes nothing; the store
  has refused a repeat before the rule sees it.
- Boots are independent: a new boot starts at seq 1 and does not make anything of the
  previous boot missing. Readings lost at the end of a boot (a power cut took the
  node's buffer) are not counted: nothing after them says they existed. Boots seen are
  counted, so a reboot shows.
- Legacy readings without a boot are boot 0 (``LEGACY_BOOT``) under the same rule.

Gaps are kept as ranges, so a liar's seq of 2**52 costs one range, not a set of that size.

For example::

    >>> gaps = SequenceGaps()
    >>> gaps.see(1, 1), gaps.see(1, 4)
    (GapChange(opened=None, filled=False, new_boot=True), GapChange(opened=(2, 3), filled=False, new_boot=False))
    >>> gaps.see(1, 3), gaps.missing, gaps.ranges(1)
    (GapChange(opened=None, filled=True, new_boot=False), 1, [(2, 2)])
    >>> gaps.see(2, 1), gaps.boots
    (GapChange(opened=None, filled=False, new_boot=True), 2)
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass


@dataclass(frozen=True)
class GapChange:
    """What one stored reading changed: a gap it opened ``(first, last)``, or a missing seq it filled."""

    opened: tuple[int, int] | None = None
    filled: bool = False
    new_boot: bool = False


class SequenceGaps:
    """One node's missing readings: ``see(boot, seq)`` for each stored reading; ``missing``, ``boots``.

    A deterministic state machine (no I/O, no clock): the bridge feeds it as it stores, and
    on start replays its store into it, so the counts survive a restart.
    """

    def __init__(self) -> None:
        self._highest: dict[int, int] = {}  # boot -> highest seq stored
        self._holes: dict[int, list[list[int]]] = {}  # boot -> sorted, disjoint [first, last] missing
        self.missing = 0

    @property
    def boots(self) -> int:
        """Boots of this node that had at least one stored reading."""
        return len(self._highest)

    def ranges(self, boot: int) -> list[tuple[int, int]]:
        """The missing seqs of ``boot`` as ``(first, last)`` ranges, lowest first."""
        return [(lo, hi) for lo, hi in self._holes.get(boot, ())]

    def see(self, boot: int, seq: int) -> GapChange:
        """Account for a newly stored reading ``(boot, seq)``; returns what it changed."""
        new_boot = boot not in self._highest
        highest = self._highest.setdefault(boot, 0)
        if seq > highest:
            self._highest[boot] = seq
            if seq == highest + 1:
                return GapChange(new_boot=new_boot)
            self._holes.setdefault(boot, []).append([highest + 1, seq - 1])
            self.missing += seq - 1 - highest
            return GapChange(opened=(highest + 1, seq - 1), new_boot=new_boot)
        return GapChange(filled=self._fill(boot, seq), new_boot=new_boot)

    def see_run(self, boot: int, first: int, last: int) -> None:
        """Account for stored seqs ``first .. last`` of ``boot`` at once, as ``see`` of each in order would.

        For the replay of a store on start, where the runs of consecutive seqs come in
        increasing order: a run is one step, however many readings it holds.
        """
        highest = self._highest.setdefault(boot, 0)
        if first <= highest:  # overlaps what was seen: only its new part counts
            for seq in range(first, min(last, highest) + 1):
                self.see(boot, seq)
            first = highest + 1
            if first > last:
                return
        self.see(boot, first)
        self._highest[boot] = max(self._highest[boot], last)

    def _fill(self, boot: int, seq: int) -> bool:
        holes = self._holes.get(boot)
        if not holes:
            return False
        i = bisect_right(holes, [seq, float("inf")]) - 1
        if i < 0 or holes[i][1] < seq:
            return False
        lo, hi = holes[i]
        holes[i:i + 1] = [hole for hole in ([lo, seq - 1], [seq + 1, hi]) if hole[0] <= hole[1]]
        self.missing -= 1
        return True
