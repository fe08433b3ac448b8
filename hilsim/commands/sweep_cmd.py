"""``hilsim sweep``: scenarios x seeds on a process pool or a Dask cluster (:mod:`sim.scenario.sweep`)."""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import click

from hilsim.commands.user_errors import user_errors


@click.command()
@click.argument("scenarios", nargs=-1, required=True, type=click.Path(dir_okay=False, exists=True))
@click.option("--seeds", "seed_text", default="1..100", show_default=True,
              help="Seeds to run each scenario with: 1..1000, 7, 1,5,9 or 1..10,20..30.")
@click.option("--swarm", is_flag=True,
              help="Each seed also draws its faults: a random set of fault kinds and a schedule of them, the "
                   "campaign's properties as expectations (deterministic from the seed).")
@click.option("--results", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="JSON lines file of results, appended as they come; a sweep run again with it skips what it "
                   "holds (resume after an interruption).")
@click.option("--cluster", default=None, metavar="ADDRESS",
              help="Run on a Dask distributed scheduler (tcp://host:8786) instead of local processes; needs "
                   "pip install 'hilsim[cluster]'.")
@click.option("--workers", type=click.IntRange(1), default=None,
              help="Local worker processes [default: the CPUs]; with --cluster, how many to size batches for.")
@click.option("--batch", type=click.IntRange(1), default=None,
              help="Seeds per task [default: about four tasks per worker, at most 50 seeds each].")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("runs/sweep"),
              show_default=True, help="Where the stories of failing --swarm seeds are written.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def sweep(scenarios: tuple[str, ...], seed_text: str, swarm: bool, results: Path | None, cluster: str | None,
          workers: int | None, batch: int | None, out: Path, quiet: bool) -> None:
    """Run every SCENARIO with every seed and print a table of verdicts and trace hashes.

    Each run keeps only what its expectations read (as 'hilsim run --hash-only'); the hash is
    the same on any machine. Failing seeds are listed with the command that replays them.
    Ctrl-C stops the sweep; with --results, running the same command again resumes it.

    Exit 0 when every run passed, 1 when one failed, 2 for a bad file or option.
    """
    from sim.scenario import sweep as sweeps

    with user_errors():
        runs = sweeps.plan(scenarios, sweeps.parse_seeds(seed_text), swarm=swarm)
        already = sweeps.done_in(results)
        todo = sum(1 for one in runs if one.key not in already)
        if already:
            click.echo(f"resuming: {len(runs) - todo} of {len(runs)} runs already in {results}", err=True)
        try:
            with sweeps.executor(cluster, workers) as (pool, count), \
                    click.progressbar(length=todo, label="sweep", hidden=quiet, show_pos=True, file=sys.stderr) as bar:
                rows = sweeps.sweep(runs, pool, size=batch or sweeps.batch_size(todo, count), results=results,
                                    on_result=lambda row: bar.update(1))
        except KeyboardInterrupt:
            kept = f"; the results so far are in {results}: run the same command to resume" if results else ""
            click.echo(f"\ninterrupted{kept}", err=True)
            sys.exit(130)
    _table(rows)
    failed = [row for row in rows if not row["ok"]]
    _failures(failed, {one.key: one for one in runs}, out)
    sys.exit(1 if failed else 0)


def _table(rows: list[dict]) -> None:
    by_scenario: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_scenario[row["scenario"] + (" (swarm)" if row["swarm"] else "")].append(row)
    width = max(len(name) for name in by_scenario)
    click.echo(f"{'scenario':<{width}}  {'seeds':>6}  {'pass':>6}  {'fail':>6}  {'hashes':>6}  first hash")
    for name, group in by_scenario.items():
        passed = sum(1 for r in group if r["ok"])
        click.echo(f"{name:<{width}}  {len(group):>6}  {passed:>6}  {len(group) - passed:>6}  "
                   f"{len({r['sha256'] for r in group}):>6}  {group[0]['sha256'][:16]} (seed {group[0]['seed']})")
    if len(rows) <= 20:
        for row in rows:
            verdicts = " ".join(f"{'PASS' if ok else 'FAIL'}:{name}" for name, ok, _m, _e in row["verdicts"])
            click.echo(f"  {row['scenario']} seed {row['seed']}: {row['sha256']}  {verdicts}")


def _failures(failed: list[dict], runs: dict, out: Path) -> None:
    if not failed:
        click.echo("failing seeds: none")
        return
    click.echo(f"failing seeds: {len(failed)}")
    for row in failed:
        path = row["scenario"]
        if row["swarm"]:  # the drawn story, written out so it can be replayed
            out.mkdir(parents=True, exist_ok=True)
            path = str(out / f"{Path(row['scenario']).stem}-swarm-{row['seed']}.yaml")
            Path(path).write_text(runs[(row["scenario"], row["seed"], True)].text, encoding="utf-8")
        broken = "; ".join(f"{name} measured {measured} (expected {expected})"
                           for name, ok, measured, expected in row["verdicts"] if not ok)
        click.echo(f"  seed {row['seed']}: {broken}\n    replay: hilsim run {path} --seed {row['seed']}")
