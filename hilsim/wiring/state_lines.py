"""State lines: what a long-running live command tells its operator on stderr, one line per change.

The services stay unchanged: they trace as they do in sim, and a listener on the
live trace turns the kinds below into one human line each, with a timestamp, for
example::

    2026-11-28T20:14:03+01:00 bridge: started: broker mqtt://127.0.0.1:1883, store readings.sqlite3
    2026-11-28T20:14:03+01:00 bridge: disconnected: cannot reach 127.0.0.1:1883 (...); retry in 0.6 s
    2026-11-28T20:14:09+01:00 bridge: stopped (SIGTERM)

They are written whether or not ``--trace`` is given; every other trace kind is
left to the trace.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Callable, TextIO


def _or_none(value: object) -> str:
    return "none" if value in (None, "") else str(value)


def _bridge_started(r: dict) -> str:
    text = f"started: broker {r.get('broker')}, store {r.get('db')}"
    if r.get("pushgateway"):
        text += f", pushing to {r['pushgateway']}"
    if r.get("metrics_port") is not None:
        text += f", /metrics on port {r['metrics_port']}"
    return text


def _connected(r: dict) -> str:
    resumed = " (session resumed)" if r.get("session_present") else ""
    return f"connected to the broker{resumed}"


def _disconnected(r: dict) -> str:
    return f"disconnected: {r.get('error')}; retry in {r.get('retry_in', 0):.1f} s"


def _session_lost(r: dict) -> str:
    return f"session lost: {r.get('reason')}; connecting again to take it back"


def _refused(r: dict) -> str:
    detail = f" ({r['detail']})" if r.get("detail") else ""
    return f"refused input on {r.get('topic')}: {r.get('reason')}{detail}"


def _controller_started(r: dict) -> str:
    return (f"started: relay {r.get('relay')}, fixtures {_or_none(r.get('fixtures'))}, "
            f"push {_or_none(r.get('push'))}")


def _broker_started(r: dict) -> str:
    return f"started: listening on port {r.get('port')}" + (" with TLS" if r.get("tls") else "")


def _relay_failed(r: dict) -> str:
    return f"relay failed to switch {r.get('op')}: {r.get('error')}; retry in {r.get('retry_in', 0):.1f} s"


def _scrape_failed(r: dict) -> str:
    return f"scrape of {r.get('url')} failed: {r.get('reason')} (after {r.get('attempts')} attempts)"


def _suspicious(r: dict) -> str:
    return f"refused input from {r.get('url')}: {r.get('reason')} ({r.get('detail')}); the stored fixtures are kept"


def _push_failed(r: dict) -> str:
    node = f" for {r['node']}" if r.get("node") else ""
    return f"push of job {r.get('job')}{node} failed: {r.get('error')}"


def _cloud_started(r: dict) -> str:
    return f"started: http://{r.get('host')}:{r.get('port')}, store {r.get('db')}, jobs broker {_or_none(r.get('mqtt'))}"


def _alarm(r: dict) -> str:
    state = "raised: no heartbeat" if r.get("kind") == "alarm.raised" else "cleared: heartbeat back"
    return f"alarm {state} from {r.get('device')}"


def _jobs_down(r: dict) -> str:
    return f"jobs topics disconnected: {r.get('error')}"


def _sync_failed(r: dict) -> str:
    return f"cloud sync failed: {r.get('error')}; retry in {r.get('retry_in', 0):.1f} s"


def _ota(r: dict) -> str:
    if r.get("kind") == "ota.installed":
        return f"update {r.get('version')} installed beside {r.get('running')}; restarting into it"
    return f"update refused: {r.get('reason')} ({r.get('detail')}); this version keeps running"


def _board_started(r: dict) -> str:
    return f"started: port {r.get('port')}, filesystem {r.get('fs')}"


def _stopped(r: dict) -> str:
    return f"stopped ({r.get('reason')})"


#: Trace kind -> its state line. Kinds not listed here stay in the trace only.
LINES: dict[str, Callable[[dict], str]] = {
    "bridge.started": _bridge_started,
    "bridge.connected": _connected,
    "bridge.disconnected": _disconnected,
    "bridge.session_lost": _session_lost,
    "reading.refused": _refused,
    "controller.started": _controller_started,
    "relay.failed": _relay_failed,
    "scrape.failed": _scrape_failed,
    "source.suspicious": _suspicious,
    "metrics.failed": _push_failed,
    "broker.started": _broker_started,
    "cloud.started": _cloud_started,
    "alarm.raised": _alarm,
    "alarm.cleared": _alarm,
    "jobs.disconnected": _jobs_down,
    "sync.failed": _sync_failed,
    "ota.installed": _ota,
    "ota.failed": _ota,
    "virtual_board.started": _board_started,
    "process.stopped": _stopped,
}


def state_line(record: dict) -> str | None:
    """The operator's line for one trace record (without time and name), or None if it is not a state change.

    For example::

        >>> state_line({"kind": "bridge.disconnected", "error": "connection refused", "retry_in": 0.61})
        'disconnected: connection refused; retry in 0.6 s'
        >>> state_line({"kind": "reading.stored", "node": "node-1", "seq": 7}) is None
        True
    """
    render = LINES.get(record.get("kind", ""))
    return render(record) if render else None


class StateLines:
    """A trace listener writing ``<local time> <name>: <state line>`` to ``out``, flushed line by line.

    ``epoch()`` is the wall-clock time of the trace's ``t`` = 0 (the runtime's start).
    """

    def __init__(self, name: str, out: TextIO, epoch: Callable[[], float]):
        self.name = name
        self.out = out
        self.epoch = epoch

    def __call__(self, record: dict) -> None:
        text = state_line(record)
        if text is None:
            return
        when = datetime.fromtimestamp(self.epoch() + record["t"]).astimezone().isoformat(timespec="seconds")
        self.out.write(f"{when} {self.name}: {text}\n")
        self.out.flush()


WARNINGS = ("failed", "disconnected", "refused", "suspicious", "raised", "lost")


class JsonLines(StateLines):
    """The same state changes as one JSON object per line (``hilsim serve``: for journald and log shippers):
    ``{"time", "level", "service", "event", "message"}``, the service being the party that traced it."""

    def __call__(self, record: dict) -> None:
        text = state_line(record)
        if text is None:
            return
        kind = record.get("kind", "")
        when = datetime.fromtimestamp(self.epoch() + record["t"]).astimezone().isoformat(timespec="milliseconds")
        line = {"time": when, "level": "warning" if any(w in kind for w in WARNINGS) else "info",
                "service": str(record.get("src", self.name)).split("/")[0], "event": kind, "message": text}
        self.out.write(json.dumps(line) + "\n")
        self.out.flush()
