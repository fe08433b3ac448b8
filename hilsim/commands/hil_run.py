"""``hilsim run SCENARIO --hil node-1=PORT``: the scenario on the wall clock with real boards
(see ``hil/wallclock.py``)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from system.errors import BackendError, ConfigError, ScenarioError


def run_with_hardware(scenario_path: Path, hil: tuple[str, ...], *, broker: str | None, board_proxy_port: int,
                      out: Path | None, seed: int | None, quiet: bool, passwd: Path | None = None,
                      no_report: bool = False) -> None:
    """Load, refuse faults the chosen backends cannot suffer, run on the wall clock, print the verdicts and
    what each part was (real hardware, virtual board, live process, simulated), write trace and JUnit; exit."""
    from hil.wallclock import check_hil, parse_hil, run_wallclock
    from sim.scenario.loader import load
    from sim.scenario.report import write_junit

    try:
        scenario = load(scenario_path)
        if seed is not None:
            scenario = scenario.with_seed(seed)
        real = parse_hil(hil, scenario)
        check_hil(scenario, real, broker)
    except (ScenarioError, ConfigError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    out = out or Path("runs") / f"{scenario_path.stem}-hil"
    out.mkdir(parents=True, exist_ok=True)
    say = (lambda s: None) if quiet else (lambda s: click.echo(f"  {s}", err=True))
    try:
        with open(out / "trace.jsonl", "w", encoding="utf-8") as sink:
            result = run_wallclock(scenario, real, sink=sink, broker_url=broker, board_proxy_port=board_proxy_port,
                                   workdir=out, passwd=passwd, log=say)
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except (BackendError, TimeoutError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo("parts:")
    for party, (kind, what) in sorted(result.parts.items()):
        click.echo(f"  {party:<8} {kind:<13}  {what}")
    width = max((len(v.name) for v in result.verdicts), default=0)
    for v in result.verdicts:
        click.echo(f"{'PASS' if v.ok else 'FAIL'}  {v.name:<{width}}  measured {v.measured}  (expected {v.expected})")
    click.echo(f"trace sha256: {result.sha256} (wall clock: not reproducible by design)")
    write_junit(result, out / "junit.xml")
    if not no_report:
        from hil.report import write_hil_html

        write_hil_html(result, out / "report.html")
    click.echo(f"wrote {out / 'trace.jsonl'}, {out / 'junit.xml'}" + ("" if no_report else f", {out / 'report.html'}"),
               err=True)
    sys.exit(0 if result.ok else 1)
