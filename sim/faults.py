"""Faults are world events: plain data, made by scenario files and Hypothesis strategies alike.

Each timeline key (``link:``, ``internet:``, ``broker:``) has a parser here that
turns the YAML into a fault object; ``sim/world.py`` applies fault objects.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.scenario import TIMELINE, Node


@dataclass(frozen=True)
class LinkDown:
    """The link goes down; comes back after ``duration`` seconds (None: stays down)."""

    link: str
    duration: float | None = None


@dataclass(frozen=True)
class LinkUp:
    link: str


@dataclass(frozen=True)
class LinkDegraded:
    """Latency and/or loss change on a link, for ``duration`` seconds (None: for good)."""

    link: str
    latency: float | None = None
    loss: float | None = None
    duration: float | None = None


@dataclass(frozen=True)
class BrokerRestart:
    """The broker process stops and starts again ``down_for`` seconds later; sessions persist."""

    down_for: float = 0.0


def _link(node: Node) -> object:
    body = node.keys("link", {"name": True, "down_for": False, "down": False, "up": False,
                              "latency": False, "loss": False, "for": False})
    name = body["name"].text("link name")
    if "down_for" in body:
        return LinkDown(name, body["down_for"].duration("down_for"))
    if "down" in body and body["down"].boolean("down"):
        return LinkDown(name)
    if "up" in body and body["up"].boolean("up"):
        return LinkUp(name)
    if "latency" in body or "loss" in body:
        loss = body["loss"].number("loss") if "loss" in body else None
        if loss is not None and not 0 <= loss <= 1:
            raise body["loss"].error("loss is a fraction between 0 and 1")
        return LinkDegraded(
            name,
            latency=body["latency"].duration("latency") if "latency" in body else None,
            loss=loss,
            duration=body["for"].duration("for") if "for" in body else None,
        )
    raise node.error("a link event needs one of: down_for, down: true, up: true, latency, loss")


def _internet(node: Node) -> object:
    body = node.keys("internet", {"down_for": False, "down": False, "up": False})
    if "down_for" in body:
        return LinkDown("controller~internet", body["down_for"].duration("down_for"))
    if "up" in body and body["up"].boolean("up"):
        return LinkUp("controller~internet")
    if "down" in body and body["down"].boolean("down"):
        return LinkDown("controller~internet")
    raise node.error("an internet event needs down_for, down: true or up: true")


def _broker(node: Node) -> object:
    body = node.keys("broker", {"restart": True, "down_for": False})
    if not body["restart"].boolean("restart"):
        raise body["restart"].error("the only broker event is 'restart: true'")
    return BrokerRestart(body["down_for"].duration("down_for") if "down_for" in body else 0.0)


TIMELINE.update({"link": _link, "internet": _internet, "broker": _broker})
