"""The ``hilsim`` command line.

Exit codes of ``hilsim run``: 0 every expectation holds, 1 one failed (or the
determinism self-check found a difference), 2 the scenario file is unusable (one
``Error: ...`` line, as every command's mistakes: ``hilsim/commands/user_errors.py``),
3 the run hit its ``--timeout`` (wall-clock budget).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from typing import IO

import click

from hilsim.commands.user_errors import user_errors
from system.errors import ConfigError
from system.trace import VERSION, first_difference


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(VERSION, prog_name="hilsim")
def main() -> None:
    """hilsim: run the IoT system in a simulated, hardware-in-the-loop or live world.

    Start with:  hilsim run scenarios/quickstart.yaml
    """


EXIT_TIMEOUT = 3


class RunTimedOut(click.ClickException):
    """The run's wall-clock budget (--timeout) ran out: ``Error: ...`` and exit 3."""

    exit_code = EXIT_TIMEOUT


def _progress(quiet: bool, timeout: float | None = None):
    started = time.monotonic()
    last = [-1]

    def report(now: float, total: float) -> None:
        if timeout is not None and time.monotonic() - started > timeout:
            raise RunTimedOut(f"the run hit --timeout {timeout:g}s at simulated {_hms(now)} of {_hms(total)}")
        # Only long runs talk: after 2 s of wall time, one line per 10% of simulated time.
        if quiet or time.monotonic() - started < 2.0:
            return
        tenth = int(10 * now / total) if total else 10
        if tenth > last[0]:
            last[0] = tenth
            click.echo(f"  simulated {_hms(now)} of {_hms(total)} ({100 * now / total:.0f}%)", err=True)

    return report


def _hms(seconds: float) -> str:
    s = int(seconds)
    days, s = divmod(s, 86400)
    text = f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"
    return f"{days}d {text}" if days else text


@main.command()
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--seed", type=int, default=None, help="Override the scenario's seed (same seed, same trace hash).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory for trace.jsonl, junit.xml and report.html [default: runs/<scenario name>].")
@click.option("--check-determinism", is_flag=True,
              help="Run twice and report the first differing trace line if the two runs diverge.")
@click.option("--no-report", is_flag=True, help="Skip the HTML report (its plot takes a second).")
@click.option("--hash-only", is_flag=True,
              help="Write no trace file and keep in memory only what the expectations read; "
                   "the hash is the full trace's. For long runs and campaigns.")
@click.option("-q", "--quiet", is_flag=True, help="No progress lines on stderr.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None, metavar="SECONDS",
              help="Wall-clock budget for the run: past it the run stops with exit 3 (checked between steps).")
@click.option("--hil", "hil", multiple=True, metavar="NODE=PORT",
              help="Run on the wall clock with NODE as a real board: a serial port, 'virtual' for a virtual "
                   "ESP32 on the simulated hardware layer, or 'virtual:esp32' for a virtual ESP32 running the ESP32 "
                   "layer on emulated WiFi and DHT22 (needs the MicroPython Unix port; the scenario's WiFi, sensor "
                   "and power faults act on that hardware) (repeatable). The other nodes stay simulated; a hilsim "
                   "broker is started for the run.")
@click.option("--broker", default=None, metavar="URL",
              help="With --hil: use this broker (mqtt://user:password@host:port) instead of starting one.")
@click.option("--board-proxy-port", type=click.IntRange(1, 65535), default=1884, show_default=True,
              help="With --hil: where a real board's link proxy listens (the board's config.json points here).")
@click.option("--passwd", "passwd", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="With --hil and a real board: the broker password file that has the board's user.")
@click.option("--power", "power", multiple=True, metavar="NODE=COMMAND",
              help="With --hil: the command that switches NODE's supply (a USB relay, a smart plug), with {state} "
                   "(on/off) or {bit} (1/0) in it; a board's power faults use it instead of holding EN low "
                   "through RTS (repeatable).")
def run(scenario: Path, seed: int | None, out: Path | None, check_determinism: bool, no_report: bool,
        hash_only: bool, quiet: bool, timeout: float | None, hil: tuple[str, ...], broker: str | None, board_proxy_port: int,
        passwd: Path | None, power: tuple[str, ...]) -> None:
    """Run SCENARIO (a YAML file) in the simulated world.

    Prints PASS/FAIL with the measured value for each expectation, then the trace's
    SHA-256, and writes the trace, a JUnit XML and an HTML report with a timeline
    plot (report.html, timeline.html) and waves.vcd into --out (with --hash-only: only the
    JUnit XML). Exit 0 when all expectations hold, 1 when any fails, 2 when the scenario
    file is unusable, 3 when the run hit --timeout.

    With --hil the scenario runs on the wall clock with real parts instead (see
    'hilsim run --hil'): a real broker, TCP fault proxies on the links, the boards named.
    """
    if hil:
        from hilsim.commands.hil_run import run_with_hardware

        run_with_hardware(scenario, hil, broker=broker, board_proxy_port=board_proxy_port, out=out, seed=seed,
                          quiet=quiet, passwd=passwd, no_report=no_report, power=power)
    from sim.scenario import loader
    from sim.scenario.runner import run_scenario

    out = out or Path("runs") / scenario.stem
    with user_errors():
        loaded = loader.load(scenario)
        if seed is not None:
            loaded = loaded.with_seed(seed)
        sink = _open_run_files(out, hash_only)
        if sink is None:
            result = run_scenario(loaded, progress=_progress(quiet, timeout), hash_only=True)
        else:
            with sink:
                result = run_scenario(loaded, sink=sink, progress=_progress(quiet, timeout))
    _print_verdicts(result, hash_only)
    _write_reports(result, out, hash_only=hash_only, html=not no_report)
    status = 0 if result.ok else 1
    if check_determinism and not _runs_again_alike(loaded, result, hash_only):
        status = 1
    sys.exit(status)


def _open_run_files(out: Path, hash_only: bool) -> IO[bytes] | None:
    """The run's directory, made; the trace file opened in it (None with --hash-only)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        return None if hash_only else open(out / "trace.jsonl", "wb")
    except OSError as exc:
        raise ConfigError(f"cannot write the run's files ({exc.strerror})", source=str(out)) from exc


def _print_verdicts(result, hash_only: bool) -> None:
    width = max((len(v.name) for v in result.verdicts), default=0)
    for v in result.verdicts:
        click.echo(f"{'PASS' if v.ok else 'FAIL'}  {v.name:<{width}}  measured {v.measured}  (expected {v.expected})")
    states = [f"{k} x{n}" for k, n in sorted(getattr(result, "reached", {}).items()) if "@" not in k]
    if states:  # the "sometimes" states this run reached (hilsim coverage lists a library's unreached ones)
        click.echo(f"reached: {', '.join(states)}")
    click.echo(f"trace sha256: {result.sha256}")
    if hash_only:
        click.echo(f"trace lines: {sum(result.trace.counts.values()) + 1} (not written)")


def _write_reports(result, out: Path, *, hash_only: bool, html: bool) -> None:
    from sim.scenario.report import write_junit, write_reports
    from sim.scenario.trace_file import write_run_file

    write_junit(result, out / "junit.xml")
    written = [out / "junit.xml"]
    if not hash_only:
        written[:0] = [out / "trace.jsonl"]
        written.append(write_run_file(out, result.scenario.file, result.scenario.seed, result.sha256,
                                      result.verdicts))
        written += write_reports(result, out, html=html)
    click.echo("wrote " + ", ".join(map(str, written)), err=True)


def _runs_again_alike(loaded, result, hash_only: bool) -> bool:
    """--check-determinism: run again; print whether the two traces are identical, or where they part."""
    from sim.scenario.runner import run_scenario

    again = run_scenario(loaded, hash_only=hash_only)
    if hash_only:
        diff = None if again.sha256 == result.sha256 else (0, result.sha256, again.sha256)
    else:
        diff = first_difference(result.trace.lines(), again.trace.lines())
    if diff is None:
        click.echo("determinism: two runs wrote identical traces")
        return True
    line, left, right = diff
    click.echo(f"determinism: traces diverge at line {line}\n  first:  {left}\n  second: {right}")
    return False


def _register() -> None:
    from hilsim.commands.board_cmd import board
    from hilsim.commands.bridge_cmd import bridge
    from hilsim.commands.campaign_cmd import campaign
    from hilsim.commands.broker_cmd import broker
    from hilsim.commands.cloud_cmd import cloud
    from hilsim.commands.controller_cmd import controller
    from hilsim.commands.coverage_cmd import coverage
    from hilsim.commands.fixtures_cmd import fixtures
    from hilsim.commands.hil_cmds import diff, record
    from hilsim.commands.plan_cmd import controller_group
    from hilsim.commands.release_cmd import release
    from hilsim.commands.report_cmd import replay, report
    from hilsim.commands.serve_cmd import config, serve
    from hilsim.commands.supervise_cmd import supervise
    from hilsim.commands.sweep_cmd import sweep
    from hilsim.commands.virtual_board_cmd import virtual_board

    main.add_command(broker)
    main.add_command(bridge)
    main.add_command(controller_group(controller))
    main.add_command(fixtures)
    main.add_command(cloud)
    main.add_command(supervise)
    main.add_command(release)
    main.add_command(virtual_board)
    main.add_command(board)
    main.add_command(record)
    main.add_command(diff)
    main.add_command(serve)
    main.add_command(coverage)
    main.add_command(config)
    main.add_command(campaign)
    main.add_command(sweep)
    main.add_command(report)
    main.add_command(replay)


_register()
