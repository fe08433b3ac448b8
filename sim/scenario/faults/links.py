"""Faults of links and the broker: down and up, latency, loss, jitter and duplication, partitions,
clogging, broker restarts (with or without its sessions)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from sim.scenario.controls import BrokerControl, LinkControl, Stage
from sim.scenario.faults.names import BROKER, CLOUD, CLUB_SITE, CONTROLLER, INTERNET
from sim.scenario.yaml_value import YamlValue


@dataclass(frozen=True)
class LinkDown:
    """The link goes down; comes back after ``duration`` seconds (None: stays down)."""

    link: str
    duration: float | None = None
    control: ClassVar[str] = "link"

    @property
    def target(self) -> str:
        return self.link

    def needs(self) -> tuple[str, ...]:
        return ("down and up",)

    def apply(self, link: LinkControl, stage: Stage) -> None:
        stage.hold_down(link, "fault")
        if self.duration is not None:
            stage.later(self.duration, lambda: stage.release(link, "fault"), f"{link.name}/restore")


@dataclass(frozen=True)
class LinkUp:
    """The link comes back up, whatever faults held it down."""

    link: str
    control: ClassVar[str] = "link"

    @property
    def target(self) -> str:
        return self.link

    def needs(self) -> tuple[str, ...]:
        return ("down and up",)

    def apply(self, link: LinkControl, stage: Stage) -> None:
        stage.release(link, "fault", all_holds=True)


@dataclass(frozen=True)
class LinkDegraded:
    """Latency and/or loss change on a link, for ``duration`` seconds (None: for good)."""

    link: str
    latency: float | None = None
    loss: float | None = None
    duration: float | None = None
    control: ClassVar[str] = "link"

    @property
    def target(self) -> str:
        return self.link

    def needs(self) -> tuple[str, ...]:
        needs = ("latency",) if self.latency is not None else ()
        return needs + ("packet loss",) if self.loss else needs

    def apply(self, link: LinkControl, stage: Stage) -> None:
        before = (link.latency, link.loss)
        link.configure(latency=self.latency, loss=self.loss)
        if self.duration is not None:
            stage.later(self.duration, lambda: link.configure(latency=before[0], loss=before[1]),
                        f"{link.name}/restore")


@dataclass(frozen=True)
class BrokerRestart:
    """The broker process stops and starts again ``down_for`` seconds later; sessions persist."""

    down_for: float = 0.0
    control: ClassVar[str] = "broker"
    target: ClassVar[str] = BROKER

    def needs(self) -> tuple[str, ...]:
        return ("a restart",)

    def apply(self, broker: BrokerControl, stage: Stage) -> None:
        broker.stop()
        stage.later(self.down_for, broker.start, "broker/restart")


@dataclass(frozen=True)
class LinkNoise:
    """A link turns noisy for ``duration`` seconds (None: for good): ``latency`` plus up to ``jitter``
    seconds more per message (order kept, as TCP keeps it), ``loss`` and ``duplicate`` (the fraction of
    messages lost, delivered twice)."""

    link: str
    latency: float | None = None
    jitter: float = 0.0
    loss: float | None = None
    duplicate: float = 0.0
    duration: float | None = None
    control: ClassVar[str] = "link"
    trace_kind: ClassVar[str] = "fault.link_noise"

    @property
    def target(self) -> str:
        return self.link

    def needs(self) -> tuple[str, ...]:
        wanted = {"latency": self.latency is not None, "jitter": self.jitter > 0, "packet loss": bool(self.loss),
                  "duplication": self.duplicate > 0}
        return tuple(need for need, on in wanted.items() if on)

    def apply(self, link: Any, stage: Stage) -> None:
        before = (link.latency, link.loss, link.jitter, link.duplicate)
        link.configure(latency=self.latency, loss=self.loss, jitter=self.jitter, duplicate=self.duplicate)
        if self.duration is not None:
            stage.later(self.duration, lambda: link.configure(latency=before[0], loss=before[1], jitter=before[2],
                                                              duplicate=before[3]), f"{link.name}/restore")


# The one link between two parties, where they meet: every party but the controller reaches the broker over
# its own link ``X~broker``; the controller reaches the internet (club site, cloud, broker) over its one link.
_BEHIND_INTERNET = (BROKER, CLUB_SITE, CLOUD, "internet")


def link_between(a: str, b: str) -> str | None:
    """The name of the link joining parties ``a`` and ``b``, or None when they only meet through a third."""
    for one, other in ((a, b), (b, a)):
        if one == CONTROLLER and other in _BEHIND_INTERNET:
            return INTERNET
        if other == BROKER and one != BROKER:
            return f"{one}~{BROKER}"
    return None


@dataclass(frozen=True)
class Partition:
    """Parties ``a`` and ``b`` cannot reach each other for ``duration`` seconds (None: until a ``link: {up}``);
    everyone else still reaches both. The partition holds down the one link between them."""

    a: str
    b: str
    link: str
    duration: float | None = None
    control: ClassVar[str] = "link"
    trace_kind: ClassVar[str] = "fault.partition"

    @property
    def target(self) -> str:
        return self.link

    def needs(self) -> tuple[str, ...]:
        return ("down and up",)

    def apply(self, link: LinkControl, stage: Stage) -> None:
        stage.hold_down(link, "partition")
        if self.duration is not None:
            stage.later(self.duration, lambda: stage.release(link, "partition"), f"{link.name}/heal")


@dataclass(frozen=True)
class Clogging:
    """FoundationDB's swizzle: ``count`` links of the world, drawn from the scenario's seed, clog one by one
    every ``step`` seconds (what is sent waits, connections stay open), stay so for ``hold`` seconds, then
    unclog one by one in another random order. Deterministic: the draw is the ``faults/clog`` stream."""

    count: int
    step: float = 10.0
    hold: float = 60.0
    control: ClassVar[str] = "network"
    target: ClassVar[str] = "network"
    trace_kind: ClassVar[str] = "fault.clogging"

    def needs(self) -> tuple[str, ...]:
        return ("clogging",)

    def apply(self, network: Any, stage: Stage) -> None:
        rng = network.rng("faults/clog")
        names = sorted(network.links)
        chosen = rng.sample(names, min(self.count, len(names)))
        unclog = rng.sample(chosen, len(chosen))
        for i, name in enumerate(chosen):
            stage.later(i * self.step, network.links[name].clog, f"{name}/clog")
        start = (len(chosen) - 1) * self.step + self.hold
        for i, name in enumerate(unclog):
            stage.later(start + i * self.step, network.links[name].unclog, f"{name}/unclog")


@dataclass(frozen=True)
class BrokerWipe:
    """The broker restarts without persistence: ``down_for`` seconds later it starts empty, its sessions,
    retained messages and queued QoS 1 messages gone (as ``hilsim broker`` and a Mosquitto without
    ``persistence true`` do)."""

    down_for: float = 0.0
    control: ClassVar[str] = "broker"
    target: ClassVar[str] = BROKER
    trace_kind: ClassVar[str] = "fault.broker_wipe"

    def needs(self) -> tuple[str, ...]:
        return ("a restart", "a restart without persistence")

    def apply(self, broker: Any, stage: Stage) -> None:
        broker.stop()
        broker.forget()
        stage.later(self.down_for, broker.start, "broker/restart")


def _fraction(body: dict[str, YamlValue], key: str) -> float | None:
    if key not in body:
        return None
    value = body[key].number(key)
    if not 0 <= value <= 1:
        raise body[key].error(f"{key} is a fraction between 0 and 1")
    return value


def _link(node: YamlValue) -> object:
    body = node.keys("link", {"name": True, "down_for": False, "down": False, "up": False, "latency": False,
                              "loss": False, "for": False, "jitter": False, "duplicate": False})
    name = body["name"].text("link name")
    if "down_for" in body:
        return LinkDown(name, body["down_for"].duration("down_for"))
    if "down" in body and body["down"].boolean("down"):
        return LinkDown(name)
    if "up" in body and body["up"].boolean("up"):
        return LinkUp(name)
    latency = body["latency"].duration("latency") if "latency" in body else None
    duration = body["for"].duration("for") if "for" in body else None
    loss = _fraction(body, "loss")
    if "jitter" in body or "duplicate" in body:
        return LinkNoise(name, latency, jitter=body["jitter"].duration("jitter") if "jitter" in body else 0.0,
                         loss=loss, duplicate=_fraction(body, "duplicate") or 0.0, duration=duration)
    if "latency" in body or "loss" in body:
        return LinkDegraded(name, latency=latency, loss=loss, duration=duration)
    raise node.error("a link event needs one of: down_for, down: true, up: true, latency, loss, jitter, duplicate")


def _internet(node: YamlValue) -> object:
    body = node.keys("internet", {"down_for": False, "down": False, "up": False})
    if "down_for" in body:
        return LinkDown(INTERNET, body["down_for"].duration("down_for"))
    if "up" in body and body["up"].boolean("up"):
        return LinkUp(INTERNET)
    if "down" in body and body["down"].boolean("down"):
        return LinkDown(INTERNET)
    raise node.error("an internet event needs down_for, down: true or up: true")


def _broker(node: YamlValue) -> object:
    body = node.keys("broker", {"restart": True, "down_for": False, "persistence": False})
    if not body["restart"].boolean("restart"):
        raise body["restart"].error("the only broker event is 'restart: true'")
    down_for = body["down_for"].duration("down_for") if "down_for" in body else 0.0
    if "persistence" in body and not body["persistence"].boolean("persistence"):
        return BrokerWipe(down_for)
    return BrokerRestart(down_for)


def _partition(node: YamlValue) -> object:
    body = node.keys("partition", {"between": True, "for": False})
    parties = body["between"].sequence("between")
    if len(parties) != 2:
        raise body["between"].error("a partition is between two parties, e.g. between: [bridge, broker]")
    a, b = (p.text("a party") for p in parties)
    link = link_between(a, b)
    if link is None:
        raise body["between"].error(f"{a} and {b} meet only through the broker: partition each from it, e.g. "
                                    f"between: [{a}, broker]")
    return Partition(a, b, link, body["for"].duration("for") if "for" in body else None)


def _clog(node: YamlValue) -> object:
    body = node.keys("clog", {"links": True, "step": False, "hold": False})
    return Clogging(body["links"].integer("links", minimum=1),
                    step=body["step"].duration("step") if "step" in body else 10.0,
                    hold=body["hold"].duration("hold") if "hold" in body else 60.0)
