"""``hilsim coverage``: which fault kinds a library of scenarios applies to which parties, which expectations
they touched, and the "sometimes" states no story reaches (:mod:`sim.scenario.reached`)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import click

from hilsim.commands.user_errors import user_errors


def scenario_files(paths: tuple[Path, ...]) -> list[Path]:
    """The scenario files named, a directory standing for its ``*.yaml``."""
    files: list[Path] = []
    for path in paths:
        files += sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    return files


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--skip", multiple=True, metavar="NAME",
              help="Leave out the scenario files of this name (fleet-1000.yaml); may be repeated.")
def coverage(paths: tuple[Path, ...], skip: tuple[str, ...]) -> None:
    """Run every scenario of PATHS (files, or directories of *.yaml) in the sim and print a fault-coverage table.

    For each fault kind: the parties or links it hit (with how often), and the expectations that were
    exercised in the runs it was applied in. Then the states no run reached: fault kinds never applied,
    and expectations never judged with a non-trivial measure (a measure that holds a number other than 0).
    """
    from sim.scenario import loader
    from sim.scenario.expect import EXPECTATIONS
    from sim.scenario.reached import fault_party_table, unreached
    from sim.scenario.runner import run_scenario

    counts: list[Counter[str]] = []
    touched: dict[str, Counter[str]] = {}
    for file in [f for f in scenario_files(paths) if f.name not in skip]:
        with user_errors(str(file)):
            result = run_scenario(loader.load(file), hash_only=True)
        click.echo(f"{'PASS' if result.ok else 'FAIL'}  {file}", err=True)
        counts.append(result.reached)
        expects = [s[len("expect:"):] for s in result.reached if s.startswith("expect:")]
        for state in result.reached:
            if state.startswith("fault:") and "@" not in state:
                touched.setdefault(state[len("fault:"):], Counter()).update(expects)
    table = fault_party_table(counts)
    click.echo(f"{'fault kind':<16}  {'parties hit':<48}  expectations touched")
    for kind in sorted(table):
        parties = ", ".join(f"{p} x{n}" for p, n in sorted(table[kind].items()))
        click.echo(f"{kind:<16}  {parties:<48}  {', '.join(sorted(touched.get(kind, ()))) or '-'}")
    missing = unreached(counts, EXPECTATIONS)
    click.echo(f"\nnever reached ({len(missing)}): {', '.join(missing) if missing else 'none'}")
