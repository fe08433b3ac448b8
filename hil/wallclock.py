"""Scenarios on wall-clock time with real parts: ``hilsim run SCENARIO --hil node-1=PORT``.

The scenario runs in the sim's one world (``sim.scenario.world.World``) on the asyncio runtime,
with real parts as backends (:mod:`hil.backends`): the broker is a real ``hilsim broker`` started for
the run (or one given by URL); every link ``X~broker`` is a TCP fault proxy in front of it, so link
faults act on real TCP. Each node named with ``--hil`` is a board: a real ESP32 on a serial port, or
``virtual`` for a virtual board started here (our firmware under the MicroPython Unix port; sensor and
WiFi faults reach it as console commands), or ``virtual:esp32``, whose firmware runs the ESP32 layer on
emulated hardware that the faults act on (the AP goes down, the DHT22 times out). Its console lines
become its trace lines. The
other nodes stay simulated: the same firmware ``Node`` assembled as in sim, with a simulated DHT22 and
WiFi and our MQTT client over real TCP. The bridge is the system's ``Bridge`` on the live MQTT client.
The same timeline player applies the same faults; a fault a chosen backend cannot suffer is refused
when the scenario loads (:func:`check_hil`). The expectations are the sim's, read from the trace, and
the trace header and the report say what each part was.

A real board must have been deployed with ``broker`` pointing at this host's
``--board-proxy-port`` (the board's link proxy listens on every interface there), and
its MQTT user must be in the password file given with ``--passwd`` (the run's broker
starts from a copy of it and adds generated users for the simulated parties).
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, TextIO

from hil.backends import WallClockBackends, backend_table
from sim.scenario.expect import check_all
from sim.scenario.loader import check_backends, default_vocabulary, node_names
from sim.scenario.runner import Outcome
from sim.scenario.spec import Scenario
from sim.scenario.world import World
from system.adapters.asyncio_runtime import AsyncioRuntime
from system.errors import ConfigError
from system.trace import Trace


@dataclass
class WallClockResult(Outcome):
    """A wall-clock run, with what each part was: party -> (kind, description), kinds in
    ``hil.backends.PART_KINDS`` (a virtual board is not real hardware)."""

    parts: dict[str, tuple[str, str]] = field(kw_only=True)
    power: dict[str, str] = field(kw_only=True, default_factory=dict)  # board -> its power switch


def parse_hil(values: tuple[str, ...], scenario: Scenario) -> dict[str, str]:
    """``("node-1=/dev/ttyUSB0", "node-2=virtual")`` -> {node: port}; ConfigError for unknown nodes."""
    known = node_names(scenario.world)
    real: dict[str, str] = {}
    for value in values:
        node, sep, port = value.partition("=")
        if not sep or not port:
            raise ConfigError(f"want NODE=PORT (e.g. node-1=/dev/ttyUSB0, node-1=virtual or node-1=virtual:esp32), got {value!r}",
                              source="--hil")
        if node not in known:
            raise ConfigError(f"no node {node!r} in this scenario; nodes: {', '.join(known)}", source="--hil")
        real[node] = port
    if scenario.world.get("controller") is not None:
        raise ConfigError("wall-clock runs cover the sensor telemetry world; this scenario has a controller",
                          source="--hil")
    return real


def check_hil(scenario: Scenario, real: dict[str, str], broker_url: str | None = None) -> None:
    """Refuse (ScenarioError, with the event's line) a fault the run's backends cannot suffer, before it runs."""
    check_backends(scenario, backend_table(scenario, real, broker_url))


def run_wallclock(scenario: Scenario, real: dict[str, str], *, sink: TextIO | None = None,
                  broker_url: str | None = None, board_proxy_port: int = 1884, workdir: Path | None = None,
                  passwd: Path | None = None, power: dict | None = None,
                  log: Callable[[str], None] = lambda s: None) -> WallClockResult:
    """Run ``scenario`` for its duration on the wall clock with the boards in ``real``; the verdicts."""
    check_hil(scenario, real, broker_url)
    header = {"scenario": scenario.name, "seed": scenario.seed, "duration": scenario.duration, "clock": "wall",
              "real": dict(sorted(real.items()))}
    trace = Trace(header, sink)
    rt = AsyncioRuntime(seed=scenario.seed, trace=trace)
    own = workdir is None
    workdir = workdir or Path(tempfile.mkdtemp(prefix="hilsim-hil-"))
    backends = WallClockBackends(rt, scenario, real, workdir, broker_url=broker_url,
                                 board_proxy_port=board_proxy_port, passwd=passwd, power=power, log=log)

    async def main() -> None:
        async with AsyncExitStack() as stack:
            await backends.open(stack)
            world = World(rt, scenario, backends)
            stack.callback(world.stop)
            rt.trace("run.parts", **{party: f"{kind}: {what}" for party, (kind, what) in sorted(backends.parts.items())})
            world.start()
            log(f"running {scenario.name!r} for {scenario.duration:g} s of wall-clock time")
            await asyncio.sleep(max(0.0, rt.start + scenario.duration - rt.now()))
            rt.trace("run.ended")

    try:
        rt.run(main())
    finally:
        if own:
            shutil.rmtree(workdir, ignore_errors=True)
    result = WallClockResult(scenario, trace, scenario.duration, parts=backends.final_parts(),
                             power=dict(backends.power_controls))
    result.verdicts = check_all(result, default_vocabulary().expectations)
    return result
