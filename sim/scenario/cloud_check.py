"""Expectations about the cloud, checked from the trace: the mirror in sync, a job's state, the heartbeat
alarm, jobs executed at most once. The checkers are here; their parsers, with every expectation's, in
:mod:`sim.scenario.expect`.
"""

from __future__ import annotations


def cloud_in_sync(args, run):
    """At ``after + within`` the mirror equals the device's store, and has since the time measured."""
    deadline = args["after"] + args["within"]
    checks = [r for r in run.trace.of_kind("mirror.checked") if args["after"] <= r["t"] <= deadline + 1e-6]
    if not checks or not checks[-1]["in_sync"]:
        behind = checks[-1]["behind"] if checks else "?"
        return False, f"not in sync {args['within']:g} s after ({behind} changes behind)", \
            f"in sync within {args['within']:g} s"
    since = checks[-1]["t"]
    for r in reversed(checks):
        if not r["in_sync"]:
            break
        since = r["t"]
    return True, f"in sync from {since - args['after']:g} s after", f"<= {args['within']:g} s"


def job_state(args, run):
    """The ``job``-th job queued in the run was in ``state`` at ``at`` (default: at the end)."""
    until = run.duration if args["at"] is None else args["at"]
    queued = [r["job"] for r in run.trace.of_kind("job.queued") if r["t"] <= until]
    if len(queued) < args["job"]:
        return False, f"only {len(queued)} jobs queued", args["state"]
    job = queued[args["job"] - 1]
    named = {"job.started": "IN_PROGRESS", "job.timed_out": "TIMED_OUT", "job.canceled": "CANCELED"}
    states = [r["status"] if r["kind"] == "job.updated" else named[r["kind"]] for r in run.trace.records
              if r["kind"] in ("job.updated", *named) and r.get("job") == job and r["src"] == "cloud"
              and r["t"] <= until]
    last = states[-1] if states else "QUEUED"
    return last == args["state"], f"{job}: {' -> '.join(['QUEUED', *states])}", args["state"]


def alarm_raised(args, run):
    n = len(run.trace.of_kind("alarm.raised"))
    return n >= args["min"], f"raised {n} times", f">= {args['min']}"


def alarm_cleared(args, run):
    n = len(run.trace.of_kind("alarm.cleared"))
    return n >= args["min"], f"cleared {n} times", f">= {args['min']}"


def jobs_reported_once(args, run):
    """Each job the controller finished was reported finished once, and the cloud refused none of its reports."""
    reports: dict[str, int] = {}
    for r in run.trace.records:
        if r["kind"] == "job.reported" and r["src"] == "controller" and r["status"] != "IN_PROGRESS":
            reports[r["job"]] = reports.get(r["job"], 0) + 1
    again = sorted(j for j, n in reports.items() if n > 1)
    refused = sum(1 for r in run.trace.of_kind("job.update_refused") if r["src"] == "controller")
    return (bool(reports) and not again and not refused,
            f"{len(reports)} jobs reported, {len(again)} more than once, {refused} reports refused", "each once")


def jobs_executed_once(args, run):
    """No job ran twice on the controller, across lost updates, outages and power cuts, and each job it ran
    is one the users actually sent (the user party's ``user.queued``, the world's side of the dashboard).
    A run without users (jobs from another party only) judges the repeats alone."""
    sent = {r["job"] for r in run.trace.of_kind("user.queued")}
    runs: dict[str, int] = {}
    for r in run.trace.of_kind("job.received"):
        if r["src"] == "controller":
            runs[r["job"]] = runs.get(r["job"], 0) + 1
    twice = sorted(j for j, n in runs.items() if n > 1)
    unsent = sorted(j for j in runs if sent and j not in sent)
    measured = f"{len(sent)} sent by users, {len(runs)} run, {len(twice)} more than once"
    if unsent:
        measured += f", {len(unsent)} never sent by a user"
    return not twice and not unsent, measured, "each sent job at most once"
