"""The controls a fault acts through, one per kind of target, and what a backend can suffer.

A fault (:mod:`sim.scenario.faults`) never asks which backend runs a party: it applies itself to
the control of its target. Every backend able to suffer the fault implements that control:

=========  ===============================================  =============================================
control    simulated (``sim/``)                             wall clock (``hil/``)
=========  ===============================================  =============================================
link       :class:`sim.models.network.Link`                 the TCP fault proxy (``hil.fault_proxy.ProxyLink``)
node       the simulated node's DHT22 and radio (``world``)  a board's console (``hil.board_node.BoardNode``)
power      the controller machine (``controller_party``),   none (a board, or a simulated node on real TCP:
           a node's supply (``sim.models.power.NodePower``)  refused at load)
site       the club site (``sim.models.club_site``)         none yet
broker     the broker model's host (``BrokerHost``)          a ``hilsim broker`` process
cloud      the cloud party (``cloud_party``)                 none yet
user       the controller's users (``controller_party``)     none yet
=========  ===============================================  =============================================

A :class:`Backend` says, as plain data known before anything runs, which of a fault's needs
(:meth:`Fault.needs`) the backend of a party cannot meet; the loader refuses such a fault with its
line (:func:`sim.scenario.loader.check_backends`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol


class LinkControl(Protocol):
    """A link between two parties (``node-1~broker``): down and up, its latency and loss."""

    name: str
    latency: float
    loss: float

    def set_down(self, reason: str = "fault") -> None: ...

    def set_up(self) -> None: ...

    def configure(self, *, latency: float | None = None, loss: float | None = None) -> None: ...


class NodeControl(Protocol):
    """A sensor node's DHT22 and WiFi; each fault lasts ``seconds`` (None: for good)."""

    def sensor_fault(self, fault: Any) -> None: ...

    def weaken_wifi(self, rssi: float, seconds: float | None) -> None: ...

    def drop_wifi(self, seconds: float | None) -> None: ...


class PowerControl(Protocol):
    def power_loss(self, seconds: float) -> None: ...


class SiteControl(Protocol):
    """The club site: its calendar and its troubles (``sim.models.club_site.ClubSite``)."""

    def reschedule(self, pair: str, kickoff: float, competition: str | None = None) -> None: ...

    def cancel(self, pair: str, competition: str | None = None) -> None: ...

    def postpone(self, pair: str, competition: str | None = None) -> None: ...

    def add_game(self, home: str, away: str, kickoff: float, **extra: Any) -> None: ...

    def serve_errors(self, status: int, duration: float) -> None: ...

    def timeouts(self, duration: float) -> None: ...

    def garble_page(self, how: str, duration: float) -> None: ...

    def change_layout(self, layout: str) -> None: ...


class BrokerControl(Protocol):
    def stop(self) -> None: ...

    def start(self) -> None: ...


class CloudControl(Protocol):
    def set_up(self, up: bool) -> None: ...

    def lose_mirror(self) -> None: ...


class UserControl(Protocol):
    def user(self, action: Any) -> None: ...


class Stage(Protocol):
    """What applying a fault may ask of the world it happens in: a timer, and holds on links."""

    def later(self, seconds: float, action: Callable[[], None], name: str) -> None: ...

    def hold_down(self, link: LinkControl, reason: str) -> None: ...

    def release(self, link: LinkControl, reason: str, *, all_holds: bool = False) -> None: ...


class Fault(Protocol):
    """A timeline event: the kind of control it acts on, its target party or link, what it needs of
    the backend there, and the one function that applies it."""

    control: str

    @property
    def target(self) -> str: ...

    def needs(self) -> tuple[str, ...]: ...

    def apply(self, control: Any, stage: Stage) -> None: ...


@dataclass(frozen=True)
class Backend:
    """A party's backend as the loader sees it: ``what`` it is ("a virtual board"), the ``needs`` of
    faults it cannot meet (need -> why, "" for no more to say)."""

    what: str
    cannot: Mapping[str, str] = field(default_factory=dict)

    def refusal(self, target: str, fault: Fault) -> str | None:
        """Why this backend cannot suffer ``fault`` on ``target``, or None when it can."""
        for need in fault.needs():
            if need in self.cannot:
                why = self.cannot[need]
                return f"{target} is {self.what} without {need}" + (f": {why}" if why else "")
        return None


SIMULATED = Backend("simulated")  # the sim world's backends meet every need
