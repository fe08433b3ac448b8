"""The controls a fault acts through, one per kind of target, and what a backend can suffer.

A fault (:mod:`sim.scenario.faults`) never asks which backend runs a party: it applies itself to
the control of its target. Every backend able to suffer the fault implements that control:

=========  ===============================================  =============================================
control    simulated (``sim/``)                             wall clock (``hil/``)
=========  ===============================================  =============================================
link       :class:`sim.models.network.Link`                 the TCP fault proxy (``hil.fault_proxy.ProxyLink``:
                                                            no loss, no duplication)
network    the world's links, clogged by ``clog:``          the fault proxies (clogging pauses their pumps)
node       the simulated node's DHT22, radio and clock      a board's console (``hil.board_node.BoardNode``)
           (``world.SimNodeControl``)                       no clock shift
power      the controller machine (``controller_party``),   the broker process (a restart), else none (a board,
           a node's supply (``sim.models.power.NodePower``), or a simulated node on real TCP: refused at load)
           the broker, the bridge, the cloud
           (``sim.models.power.PartyPower``)
site       the club site (``sim.models.club_site``)         none yet
broker     the broker model's host (``BrokerHost``)          a ``hilsim broker`` process (in memory: a restart
                                                            always loses its sessions)
cloud      the cloud party (``cloud_party``)                 none yet
disk       the controller's SQLite store (``controller_party``) none yet
user       the controller's users (``controller_party``)     none yet
adversary  the adversary device (``sim.models.adversary``)   none yet
=========  ===============================================  =============================================

A :class:`Backend` says, as plain data known before anything runs, which of a fault's needs
(:meth:`Fault.needs`) the backend of a party cannot meet; the loader refuses such a fault with its
line (:func:`sim.scenario.loader.check_backends`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol


class LinkControl(Protocol):
    """A link between two parties (``node-1~broker``): down and up, its latency, jitter, loss and duplication,
    clogged and unclogged (what is sent waits; the connections stay open)."""

    name: str
    latency: float
    loss: float
    jitter: float
    duplicate: float

    def clog(self) -> None: ...

    def unclog(self) -> None: ...

    def set_down(self, reason: str = "fault") -> None: ...

    def set_up(self) -> None: ...

    def configure(self, *, latency: float | None = None, loss: float | None = None, jitter: float | None = None,
                  duplicate: float | None = None) -> None: ...


class NetworkControl(Protocol):
    """Every link of a world, by name, and the world's random streams (clogging draws its links)."""

    links: Mapping[str, LinkControl]

    def rng(self, stream: str) -> Any: ...


class NodeControl(Protocol):
    """A sensor node's DHT22 and WiFi; each fault lasts ``seconds`` (None: for good)."""

    def sensor_fault(self, fault: Any) -> None: ...

    def weaken_wifi(self, rssi: float, seconds: float | None) -> None: ...

    def drop_wifi(self, seconds: float | None) -> None: ...

    def shift_clock(self, seconds: float, restore_after: float | None) -> None: ...


class PowerControl(Protocol):
    def power_loss(self, seconds: float) -> None: ...


class SiteControl(Protocol):
    """The club site: its calendar and its troubles (``sim.models.club_site.ClubSite``)."""

    def reschedule(self, pair: str, kickoff: float, competition: str | None = None) -> None: ...

    def cancel(self, pair: str, competition: str | None = None) -> None: ...

    def postpone(self, pair: str, competition: str | None = None) -> None: ...

    def add_game(self, home: str, away: str, kickoff: float, **extra: Any) -> None: ...

    def serve_errors(self, status: int, duration: float, retry_after: float | None = None) -> None: ...

    def reinstate(self, pair: str, competition: str | None = None) -> None: ...

    def timeouts(self, duration: float) -> None: ...

    def garble_page(self, how: str, duration: float) -> None: ...

    def change_layout(self, layout: str) -> None: ...


class BrokerControl(Protocol):
    def stop(self) -> None: ...

    def start(self) -> None: ...

    def forget(self) -> None:
        """Lose every session, retained message and queued message (a restart without persistence)."""


class CloudControl(Protocol):
    def set_up(self, up: bool) -> None: ...

    def lose_mirror(self) -> None: ...

    def snapshot(self, name: str) -> None: ...

    def restore(self, name: str) -> None: ...

    def lose_store(self) -> None: ...


class DiskControl(Protocol):
    def fill_disk(self) -> None: ...

    def free_disk(self) -> None: ...


class AdversaryControl(Protocol):
    def act(self, act: str, victim: str, count: int) -> None: ...


class UserControl(Protocol):
    def user(self, action: Any) -> None: ...

    def user_racing_scrape(self, action: Any) -> None: ...


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
