"""``hilsim record`` and ``hilsim diff``: a board's console as a trace, and two traces compared."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from hilsim.commands.options import duration_option
from hilsim.commands.user_errors import UsageProblem, user_errors


@click.command(context_settings={"help_option_names": ["-h", "--help"]},
               short_help="Hardware: a board's console readings as a trace.")
@click.option("--port", "-p", required=True, metavar="PORT",
              help="Serial port of the board (or a virtual board's), or an rfc2217:// URL.")
@click.option("--for", "duration", default="10m", show_default=True, help="How long to record (90s, 10m, 2h).")
@click.option("--timeout", default="10s", show_default=True,
              help="Give up (exit 1) when the board sends no message within this long.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("recording.jsonl"),
              show_default=True, help="The trace file to write.")
def record(port: str, duration: str, timeout: str, out: Path) -> None:
    """Store a board's console readings (and its trace lines) as a trace.

    Replay the samples in sim with 'world: {sensor: {replay: FILE}}' in a scenario;
    compare with a run using 'hilsim diff'. Exit 1 when the board stays silent.
    """
    from hil.dut import Dut
    from hil.record import record as record_console
    from hil.serial_ports import claim

    with user_errors():
        seconds = duration_option(duration, "--for")
        first_within = duration_option(timeout, "--timeout")
    with user_errors(), claim(port), Dut.open(port, name=port) as dut, open(out, "w", encoding="utf-8") as sink:
        try:
            trace = record_console(dut, seconds, sink, port=port, first_within=first_within)
        except KeyboardInterrupt:
            trace = None
    n = len(trace.of_kind("reading.recorded")) if trace else "some"
    click.echo(f"recorded {n} readings from {port} into {out}")


@click.command(context_settings={"help_option_names": ["-h", "--help"]},
               short_help="Two traces compared event by event.")
@click.argument("trace_a", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.argument("trace_b", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--tolerance", default="5s", show_default=True, help="How far apart in time the same event may be.")
@click.option("--kind", "kinds", multiple=True, help="Event kinds to compare (repeatable) [default: "
                                                     "reading.sampled, reading.stored, link.down, link.up].")
def diff(trace_a: Path, trace_b: Path, tolerance: str, kinds: tuple[str, ...]) -> None:
    """Compare TRACE_A and TRACE_B event by event (order and counts, with a time tolerance).

    Prints where each stream of events parts; exit 0 when none does, 1 otherwise.
    """
    from hil.trace_diff import DEFAULT_KINDS, diff as diff_traces, read_trace

    with user_errors():
        seconds = duration_option(tolerance, "--tolerance", zero=True)
    try:
        a, b = read_trace(trace_a), read_trace(trace_b)
    except ValueError as exc:
        raise UsageProblem(str(exc)) from None
    found = diff_traces(a, b, tolerance=seconds, kinds=kinds or DEFAULT_KINDS)
    if not found:
        click.echo(f"no difference beyond {seconds:g} s in {', '.join(kinds or DEFAULT_KINDS)}")
        sys.exit(0)
    for difference in found:
        click.echo(str(difference))
    sys.exit(1)
