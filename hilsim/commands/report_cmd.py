"""``hilsim report TRACE`` and ``hilsim replay TRACE``: a run's report and its hash, from its trace.

The scenario file is found from ``--scenario``, else the ``run.json`` that ``hilsim run`` wrote
beside the trace, else a file in ``scenarios/`` whose name is the one in the trace header.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from hilsim.commands.user_errors import UsageProblem, user_errors

_trace_arg = click.argument("trace", type=click.Path(dir_okay=False, exists=True, path_type=Path))
_scenario_opt = click.option(
    "--scenario", "scenario_file", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
    help="The scenario file the trace was run from [default: from run.json beside the trace, or the "
         "file in scenarios/ named as in the trace header].")


@click.command()
@_trace_arg
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory for report.html, timeline.html and waves.vcd [default: the trace's directory].")
@_scenario_opt
def report(trace: Path, out: Path | None, scenario_file: Path | None) -> None:
    """Rebuild the report of a run from its TRACE (trace.jsonl).

    Expectations are judged again from the trace where they read only the trace; those
    that read the simulated world show the verdict recorded at run time (run.json beside
    the trace), or N/J (not judged) without one. Exit 0 when every judged verdict holds,
    1 when one fails, 2 when a file is unusable.
    """
    from sim.scenario.report import NOT_JUDGED, status, write_reports
    from sim.scenario.runner import Outcome
    from sim.scenario.trace_file import read_run_file, read_trace

    with user_errors():
        recorded = read_trace(trace)
        note = read_run_file(trace)
        loaded = _scenario_of(trace, recorded.header, note, scenario_file)
        outcome = Outcome(loaded, recorded, loaded.duration)
        same_file = note is not None and Path(note.get("scenario_file", "")) == Path(loaded.file).resolve()
        outcome.verdicts = _judged_again(outcome, note if same_file else None)
    out = out or trace.parent
    out.mkdir(parents=True, exist_ok=True)
    written = write_reports(outcome, out)
    for v in outcome.verdicts:
        click.echo(f"{status(v):4}  {v.name}  measured {v.measured}  (expected {v.expected})")
    click.echo(f"trace sha256: {outcome.sha256}")
    click.echo("wrote " + ", ".join(map(str, written)), err=True)
    sys.exit(0 if all(v.ok or v.measured == NOT_JUDGED for v in outcome.verdicts) else 1)


@click.command()
@_trace_arg
@_scenario_opt
def replay(trace: Path, scenario_file: Path | None) -> None:
    """Run again the scenario and seed recorded in TRACE and confirm the same trace hash.

    Exit 0 when the hashes match, 1 (printing both) when they differ, 2 when a file is unusable.
    """
    from sim.scenario.runner import run_scenario
    from sim.scenario.trace_file import read_run_file, read_trace

    with user_errors():
        recorded = read_trace(trace)
        loaded = _scenario_of(trace, recorded.header, read_run_file(trace), scenario_file)
        again = run_scenario(loaded, hash_only=True)
    click.echo(f"scenario: {loaded.file} seed {loaded.seed}")
    click.echo(f"recorded sha256: {recorded.hexdigest()}")
    click.echo(f"replayed sha256: {again.sha256}")
    same = again.sha256 == recorded.hexdigest()
    click.echo("replay: same hash" if same else "replay: the hashes differ")
    sys.exit(0 if same else 1)


def _scenario_of(trace: Path, header: dict, note: dict | None, given: Path | None):
    """The scenario the trace was run from, with the header's seed."""
    from sim.scenario import loader

    path = given or _noted_file(note) or _named_file(header.get("scenario"))
    if path is None:
        raise UsageProblem(f"{trace}: cannot find the scenario {header.get('scenario')!r} "
                           "(no run.json beside the trace): pass --scenario FILE")
    loaded = loader.load(path)
    seed = header.get("seed")
    return loaded.with_seed(seed) if isinstance(seed, int) and seed != loaded.seed else loaded


def _noted_file(note: dict | None) -> Path | None:
    file = (note or {}).get("scenario_file")
    return Path(file) if isinstance(file, str) and Path(file).is_file() else None


def _named_file(name: object) -> Path | None:
    """The file in ./scenarios whose ``name:`` is ``name`` (its first line says it, as the files are written)."""
    if not isinstance(name, str):
        return None
    import yaml

    for path in sorted(Path("scenarios").glob("*.yaml")):
        try:
            if (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("name") == name:
                return path
        except (OSError, yaml.YAMLError, AttributeError):
            continue
    return None


def _judged_again(outcome, note: dict | None) -> list:
    """A verdict per expectation: judged again from the trace, else as recorded in run.json."""
    from sim.scenario.expect import Verdict
    from sim.scenario.loader import default_vocabulary
    from sim.scenario.report import NOT_JUDGED

    kinds = default_vocabulary().expectations
    recorded = {(v.get("name"), v.get("line")): v for v in (note or {}).get("verdicts", [])}
    verdicts = []
    for exp in outcome.scenario.expect:
        old = recorded.get((exp.kind, exp.line))
        try:
            ok, measured, expected = kinds[exp.kind].check(exp.args, outcome)
            if old is not None and (old["ok"], old["measured"]) != (ok, measured):
                measured += f" (at run time: {'PASS' if old['ok'] else 'FAIL'}, measured {old['measured']})"
        except AttributeError:  # the checker reads the world, which a trace does not hold
            if old is None:
                verdicts.append(Verdict(exp.kind, False, NOT_JUDGED, "", exp.line))
                continue
            ok, measured, expected = bool(old["ok"]), f"{old['measured']} (as recorded)", old["expected"]
        verdicts.append(Verdict(exp.kind, ok, measured, expected, exp.line))
    return verdicts
