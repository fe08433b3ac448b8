"""``hilsim campaign``: search fault schedules over a scenario's world (:mod:`sim.scenario.campaign`)."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import click

from hilsim.commands.user_errors import user_errors


@click.command()
@click.argument("scenario", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--examples", type=click.IntRange(1), default=100, show_default=True,
              help="Fault schedules to draw and run (shrinking a failure runs more).")
@click.option("--seed", type=int, default=None,
              help="The campaign's seed: the same seed draws the same schedules [default: a random one, printed].")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where shrunk counterexamples are written [default: runs/campaign-<scenario>].")
@click.option("--property", "properties", multiple=True, metavar="NAME",
              help="Check only this property (repeatable) [default: every one the world has the parts for].")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def campaign(scenario: Path, examples: int, seed: int | None, out: Path | None, properties: tuple[str, ...],
             quiet: bool) -> None:
    """Draw fault schedules over SCENARIO's world and look for one that breaks a property.

    Swarm testing: each example enables a few fault kinds, then draws a timeline of them; the
    events are appended to SCENARIO's timeline and its expectations replaced by the properties
    (no reading lost, none stored twice, readings flow again after the last fault heals; with a
    controller: the light follows the alert windows, no alert fires twice; with a cloud: the
    mirror converges, no job runs twice). A failure is shrunk by Hypothesis and written to --out
    as a scenario file that fails the same way under 'hilsim run FILE'.

    Exit 0 when no example failed, 1 when one did, 2 for a bad file or option.
    """
    from sim.scenario.campaign import PROPERTIES, check_properties, run_campaign

    seed = random.SystemRandom().randrange(2**32) if seed is None else seed
    out = out or Path("runs") / f"campaign-{scenario.stem}"
    with user_errors():
        properties = check_properties(properties or PROPERTIES)
    with user_errors(), click.progressbar(length=examples, label=f"campaign {scenario.name} (seed {seed})",
                                          hidden=quiet, show_pos=True, file=sys.stderr) as bar:
        def progress(report) -> None:
            bar.update(1 if report.runs <= examples else 0)

        report = run_campaign(scenario, examples=examples, seed=seed, out=out,
                              properties=properties, progress=progress)
    _summary(report, examples)
    sys.exit(1 if report.failures else 0)


def _summary(report, examples: int) -> None:
    if report.base_fails:
        click.echo("the scenario breaks a property with no drawn fault: nothing was searched")
    elif report.first_failure is None:
        click.echo(f"examples: {report.runs} in {report.seconds:.1f} s, seed {report.seed}")
    else:
        click.echo(f"examples: first failure at example {report.first_failure}, {report.runs} runs in all with "
                   f"shrinking, in {report.seconds:.1f} s, seed {report.seed}")
    reached = ", ".join(f"{kind} {n}" for kind, n in sorted(report.kinds_reached.items())) or "none"
    click.echo(f"fault kinds reached (examples): {reached}")
    checked = ", ".join(f"{name} {n}" for name, n in report.properties_checked.items()) or "none"
    click.echo(f"properties checked (examples): {checked}")
    click.echo(f"failures: {len(report.failures)}")
    for failure in report.failures:
        click.echo(f"  {failure.path}  breaks {', '.join(failure.properties)} with {failure.events} drawn event(s)")
        for verdict in failure.verdicts:
            click.echo(f"    FAIL  {verdict.name}  measured {verdict.measured}  (expected {verdict.expected})")
        click.echo(f"    replay: hilsim run {failure.path}")
