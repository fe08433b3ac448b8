"""Expectations about what the trace holds and what reached the Pushgateway: ``trace`` (the count, or the
absence, of a trace kind with field filters inside a time window) and ``pushed`` (a metric's value in the
bodies a job pushed). Their parsers, with every expectation's, are in :mod:`sim.scenario.expect`.
"""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families


def trace(args: dict, run: Any):
    """The records of ``kind`` (whose fields equal ``where``'s) between ``from`` and ``until`` (seconds since the
    start; default the whole run), against ``count`` (exactly), ``min``/``max``, or ``none``."""
    lo = args["from"] if args["from"] is not None else float("-inf")
    hi = args["until"] if args["until"] is not None else float("inf")
    where = args["where"]
    n = sum(1 for r in run.trace.of_kind(args["kind"])
            if lo <= r["t"] <= hi and all(_same(r.get(k), v) for k, v in where.items()))
    bound = args["bound"]
    ok = {"count": n == bound[1], "min": n >= bound[1], "max": n <= bound[1]}[bound[0]]
    shown = {"count": f"== {bound[1]}", "min": f">= {bound[1]}", "max": f"<= {bound[1]}"}[bound[0]]
    return ok, f"{n} {args['kind']}", shown


def _same(value: Any, written: str) -> bool:
    """A record's field equals the value a scenario file wrote (text; true/false for a flag, 2 for 2.0)."""
    if isinstance(value, bool):
        return written.lower() == str(value).lower()
    if isinstance(value, (int, float)):
        try:
            return float(written) == value
        except ValueError:
            return False
    return str(value) == written


def metric_values(body: str, metric: str) -> list[float]:
    """The values of ``metric`` in a Prometheus text body (a counter's ``_total`` sample counts too)."""
    return [s.value for family in text_string_to_metric_families(body) for s in family.samples
            if s.name in (metric, f"{metric}_total")]


def pushed(args: dict, run: Any):
    """The highest value ``metric`` had in the bodies job ``job`` pushed (the bridge's Pushgateway and the
    controller's push endpoint, as recorded by the world), against ``min``/``max``."""
    world = run.world
    targets = [world.pushgateway] + ([world.controller.cloud] if world.controller is not None else [])
    bodies = [body for target in targets for _t, job, body in target.pushes if job == args["job"]]
    values = [v for body in bodies for v in metric_values(body, args["metric"])]
    if not values:
        return False, f"no {args['metric']} in {len(bodies)} pushes of job {args['job']!r}", _bounds(args)
    top = max(values)
    ok = (args["min"] is None or top >= args["min"]) and (args["max"] is None or top <= args["max"])
    return ok, f"highest {top:g} in {len(bodies)} pushes (latest {values[-1]:g})", _bounds(args)


def _bounds(args: dict) -> str:
    parts = ([f">= {args['min']:g}"] if args["min"] is not None else []) + \
        ([f"<= {args['max']:g}"] if args["max"] is not None else [])
    return " and ".join(parts)
