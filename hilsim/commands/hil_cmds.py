"""``hilsim record`` and ``hilsim diff``: a board's console as a trace, and two traces compared."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from hilsim.commands.options import duration_option
from hilsim.commands.user_errors import UsageProblem, user_errors


@click.command(context_settings={"help_option_names": ["-h", "--help"]},
               short_help="Hardware: a board's console readings as a trace.")
@click.option("--port", "-p", required=True, metavar="PORT", help="Serial port of the board (or a virtual board).")
@click.option("--for", "duration", default="10m", show_default=True, help="How long to record (90s, 10m, 2h).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("recording.jsonl"),
              show_default=True, help="The trace file to write.")
def record(port: str, duration: str, out: Path) -> None:
    """Store a board's console readings (and its trace lines) as a trace.

    Replay the samples in sim with 'world: {sensor: {replay: FILE}}' in a scenario;
    compare with a run using 'hilsim diff'.
    """
    from hil.dut import Dut
    from hil.record import record as record_console

    with user_errors():
        seconds = duration_option(duration, "--for")
        dut = Dut.open(port, name=port)
    try:
        with open(out, "w", encoding="utf-8") as sink:
            trace = record_console(dut, seconds, sink, port=port)
    except KeyboardInterrupt:
        trace = None
    finally:
        dut.close()
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
