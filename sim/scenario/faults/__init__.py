"""Faults are world events: plain data, made by scenario files and Hypothesis strategies alike.

Each timeline key has a parser that turns the YAML into a fault object, gathered in :data:`TIMELINE`,
one module a kind of target:

- :mod:`.links`: ``link:`` (down, up, latency, loss, jitter, duplication), ``internet:``, ``partition:``,
  ``clog:``, ``broker:`` (a restart, with or without persistence);
- :mod:`.nodes`: ``sensor:``, ``wifi:``, ``clock:`` (a node's DHT22, WiFi and clock);
- :mod:`.power`: ``power:`` (any party with a power control), ``brownout:``;
- :mod:`.controller`: ``fixture:``, ``site:``, ``user:``, ``cloud:``, ``disk:`` (the match-day controller's
  world);
- :mod:`.adversary`: ``adversary:`` (a device account that attacks).

A fault applies itself, in one place, to the control of its target (:mod:`sim.scenario.controls`), whatever
backend runs the target: the simulated link or the TCP fault proxy, the simulated DHT22 or a board's console.
The one timeline player is :mod:`sim.scenario.player`; a fault with a ``trace_kind`` gets a ``fault.*`` trace
line with its fields when it is applied (:func:`.names.fields_of`), for the report's timeline.
Hypothesis draws every kind as a timeline event: :mod:`sim.scenario.fault_draws`.

To add a fault (say an ``earthquake:`` that shakes a node):

1. in the module of its target, one frozen dataclass with a docstring, its ``control`` (the kind of control
   it acts on: link, network, node, power, site, broker, cloud, disk, user, adversary), its ``target`` (the
   party or link), ``needs()`` (what it asks of a backend, in words a refusal can quote), ``trace_kind``
   (``fault.earthquake``) and ``apply(control, stage)``; and its parser ``_earthquake``, raising
   ``node.error(...)`` for anything wrong;
2. if the control lacks a method it needs, add it to the protocol in :mod:`sim.scenario.controls` and to
   every backend that can suffer it (a backend that cannot lists the need in its ``Backend.cannot``, so the
   fault is refused when the scenario loads, not halfway through a run);
3. one line in :data:`TIMELINE`: ``"earthquake": _earthquake``, and a draw in :mod:`sim.scenario.fault_draws`.

For example::

    @dataclass(frozen=True)
    class Earthquake:
        '''A node shakes for ``duration`` seconds.'''

        node: str
        duration: float
        control: ClassVar[str] = "node"
        trace_kind: ClassVar[str] = "fault.earthquake"

        @property
        def target(self) -> str:
            return self.node

        def needs(self) -> tuple[str, ...]:
            return ("a shake",)

        def apply(self, node: NodeControl, stage: Stage) -> None:
            node.shake(self.duration)  # NodeControl.shake: the sim node's and the board's

The loader's whole-scenario checks (:mod:`sim.scenario.loader`) then refuse an earthquake on a party the
world lacks, and ``hilsim run --hil`` refuses it on a backend that cannot suffer it.
"""

from __future__ import annotations

from types import MappingProxyType

from sim.scenario.faults.adversary import ACTS, AdversaryAct, _adversary
from sim.scenario.faults.controller import (CloudFault, CloudStoreFault, DiskFull, FixtureChange, SiteTrouble,
                                            UserAction, _cloud, _disk, _fixture, _site, _user)
from sim.scenario.faults.links import (BrokerRestart, BrokerWipe, Clogging, LinkDegraded, LinkDown, LinkNoise,
                                       LinkUp, Partition, _broker, _clog, _internet, _link, _partition,
                                       link_between)
from sim.scenario.faults.names import (ADVERSARY, BRIDGE, BROKER, CLOUD, CLUB_SITE, CONTROLLER, INTERNET,
                                       fields_of)
from sim.scenario.faults.nodes import SENSOR_FAULTS, ClockShift, SensorFault, WifiDrop, WifiWeak, _clock, _sensor, _wifi
from sim.scenario.faults.power import BrownOut, PowerLoss, _brownout, _power

__all__ = ["ACTS", "ADVERSARY", "BRIDGE", "BROKER", "CLOUD", "CLUB_SITE", "CONTROLLER", "INTERNET",
           "NEEDS_A_CONTROLLER", "SENSOR_FAULTS", "TIMELINE", "AdversaryAct", "BrokerRestart", "BrokerWipe",
           "BrownOut", "ClockShift", "Clogging", "CloudFault", "CloudStoreFault", "DiskFull", "FixtureChange",
           "LinkDegraded", "LinkDown", "LinkNoise", "LinkUp", "Partition", "PowerLoss", "SensorFault",
           "SiteTrouble", "UserAction", "WifiDrop", "WifiWeak", "fields_of", "link_between"]

# Every timeline word: its parser. The loader reads the timeline with these (sim/scenario/loader.py).
TIMELINE = MappingProxyType({
    "link": _link, "internet": _internet, "broker": _broker, "sensor": _sensor, "wifi": _wifi,
    "fixture": _fixture, "site": _site, "user": _user, "power": _power, "cloud": _cloud,
    "partition": _partition, "clog": _clog, "clock": _clock, "brownout": _brownout, "disk": _disk,
    "adversary": _adversary,
})
NEEDS_A_CONTROLLER = ("site", "user", "cloud", "disk")  # controls only a world with a controller has
