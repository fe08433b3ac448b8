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
@click.option("--tolerance", "tolerances", multiple=True, metavar="TIME|FIELD=NUMBER",
              help="How far apart the same event may be in time (a duration: 5s, the default), or how far a "
                   "field's values may differ (temperature=0.2); repeatable. Values are compared exactly "
                   "without one.")
@click.option("--kind", "kinds", multiple=True, help="Event kinds to compare (repeatable) [default: "
                                                     "reading.sampled, reading.stored, link.down, link.up].")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True,
              help="Print at most this many differences (the summary counts them all).")
def diff(trace_a: Path, trace_b: Path, tolerances: tuple[str, ...], kinds: tuple[str, ...], limit: int) -> None:
    """Compare TRACE_A and TRACE_B event by event: times taken from each node's boot, events paired by
    sequence number, their times and numeric values compared up to a tolerance.

    Prints each difference (up to --limit) and a summary of the events and differences per stream;
    exit 0 when there is none, 1 otherwise.
    """
    from hil.trace_diff import DEFAULT_KINDS, diff as diff_traces, read_trace

    seconds, values = _tolerances(tolerances)
    try:
        a, b = read_trace(trace_a), read_trace(trace_b)
    except ValueError as exc:
        raise UsageProblem(str(exc)) from None
    compared = diff_traces(a, b, tolerance=seconds, kinds=kinds or DEFAULT_KINDS, values=values)
    if not compared.differences:
        click.echo(f"no difference beyond {seconds:g} s in {', '.join(kinds or DEFAULT_KINDS)}")
        click.echo(compared.summary())
        sys.exit(0)
    for difference in compared.differences[:limit]:
        click.echo(str(difference))
    if len(compared.differences) > limit:
        click.echo(f"... and {len(compared.differences) - limit} more (--limit)")
    click.echo(compared.summary())
    sys.exit(1)


def _tolerances(given: tuple[str, ...]) -> tuple[float, dict[str, float]]:
    """The time tolerance (5 s unless given) and each field's value tolerance, from --tolerance options."""
    seconds, values = 5.0, {}
    for text in given:
        name, sep, number = text.partition("=")
        if not sep:
            with user_errors():
                seconds = duration_option(text, "--tolerance", zero=True)
            continue
        try:
            values[name.strip()] = float(number)
        except ValueError:
            raise UsageProblem(f"--tolerance: {text!r}: want FIELD=NUMBER such as temperature=0.2") from None
    return seconds, values
