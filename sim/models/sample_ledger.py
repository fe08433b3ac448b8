"""The world's own record of what each simulated node sampled: the truth ``readings_lost`` counts from.

A sample is one DHT22 frame the firmware turned into a reading. Its id is the frame's number in
the simulated sensor's own count of reads (``SimDHT22.reads``): a number that never leaves the
world, so no identity rule of the system (``(node, seq)``, ``(node, boot, seq)``) can hide a loss
from the checker. The ledger keeps, per sample, that id, the time the reading was made and the values
it carried, and which samples were still in the node's RAM (unacknowledged) when its power was cut.

Two hooks fill it, both on the world's side of the HAL:

- the sensor calls ``frame(...)`` for every frame it sends intact (a flipped bit never becomes a
  reading: the firmware refuses its checksum), so ``last`` is the frame behind the firmware's
  latest verified read;
- :func:`watching` gives the firmware a view of its runtime that calls ``sampled()`` when the
  firmware writes ``reading.sampled``: at that moment the reading is made of ``last``.

Nothing is traced: the ledger is world state, read by the checker through the run's world, so a
run's trace (and its hash) is the same with it or without it. For example::

    ledger = SampleLedger("node-1")
    sensor.ledger = ledger
    node = Node(watching(node_rt, ledger), hal, "node-1")
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from typing import Any

SAMPLED = "reading.sampled"


@dataclass(frozen=True)
class Sample:
    """One reading a node made: the sensor's frame number, when the firmware made it (epoch s), its tenths."""

    id: int
    t: float
    h10: int
    t10: int
    in_ram_at_cut: bool = False


class SampleLedger:
    """The samples of one node, in order; compact (arrays), as a fleet's day holds a million."""

    def __init__(self, node: str):
        self.node = node
        self.last: tuple[int, int, int] | None = None  # (id, h10, t10) of the last intact frame
        self._ids = array("q")
        self._times = array("d")
        self._h10 = array("i")
        self._t10 = array("i")
        self._in_ram: set[int] = set()  # indexes of samples unacknowledged when the power was cut

    def frame(self, frame_id: int, h10: int, t10: int) -> None:
        """The sensor sent frame ``frame_id`` intact, with these values."""
        self.last = (frame_id, h10, t10)

    def sampled(self, at: float) -> None:
        """The firmware made a reading at ``at`` (epoch s): of the last intact frame."""
        if self.last is None:  # a firmware that samples without a verified read: nothing to count it by
            return
        frame_id, h10, t10 = self.last
        self._ids.append(frame_id)
        self._times.append(at)
        self._h10.append(h10)
        self._t10.append(t10)

    def power_cut(self, unacknowledged: int) -> None:
        """The power goes with ``unacknowledged`` readings in the node's buffer: its newest samples."""
        self._in_ram.update(range(max(0, len(self._ids) - unacknowledged), len(self._ids)))
        self.last = None  # the next boot reads afresh

    def __len__(self) -> int:
        return len(self._ids)

    def samples(self) -> list[Sample]:
        return [Sample(self._ids[i], self._times[i], self._h10[i], self._t10[i], i in self._in_ram)
                for i in range(len(self._ids))]


def watching(rt: Any, ledger: SampleLedger) -> Any:
    """A view of ``rt`` for a node's firmware that tells ``ledger`` of each reading it samples; its
    trace lines are the same as ``rt``'s."""
    view = rt.child(rt.src)
    write = view.trace

    def trace(kind: str, **fields: Any) -> None:
        if kind == SAMPLED:
            ledger.sampled(view.now())
        write(kind, **fields)

    view.trace = trace
    return view
