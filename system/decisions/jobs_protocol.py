"""The AWS IoT Jobs protocol, in one place: its topics, job states, document shapes and rules.

Used by both ends: the cloud (:mod:`system.cloud.jobs_api`) and the device (:mod:`system.services.job_agent`);
nothing else spells a Jobs topic. Topics (``prefix`` is :data:`DEFAULT_PREFIX`, ``$aws/``, for AWS IoT
Core; a local broker that reserves ``$`` topics gets another, e.g. ``hil/``), for thing ``T``::

    <prefix>things/T/jobs/notify-next               cloud -> device: the next pending job changed
    <prefix>things/T/jobs/start-next                device -> cloud: give me the next job, IN_PROGRESS
    <prefix>things/T/jobs/start-next/accepted       {"execution": {...}} (no "execution": nothing pending)
    <prefix>things/T/jobs/start-next/rejected       {"code": ..., "message": ...}
    <prefix>things/T/jobs/<jobId>/update            device -> cloud: {"status", "statusDetails", "expectedVersion"}
    <prefix>things/T/jobs/<jobId>/update/accepted   {"executionState": {...}}   (/rejected: {"code", "message"})

:class:`ThingTopics` names one thing's topics (the device's side); :func:`cloud_filters` and
:func:`parse_request` are the cloud's side. Every request may carry a ``clientToken``, echoed in its reply.

Rules:

- A job document is a JSON object with an ``operation`` and that operation's fields
  (:data:`OPERATIONS`). Anything else (an unknown operation, a missing field, a field of
  the wrong type, an unknown field, a non-finite number, text holding a control character or
  a lone UTF-16 surrogate, which no UTF-8 store or response can hold) is refused with a reason
  before anything runs. With ``alerts``/``events`` given (the device's current ones), a
  ``local_alert_id`` or ``event_key`` the device does not know is refused too; the cloud
  checks the shape only (it holds a mirror, not the truth).
- Execution states follow the AWS IoT Jobs API: a job is QUEUED, the device's
  ``start-next`` makes it IN_PROGRESS, the device ends it SUCCEEDED, FAILED or REJECTED;
  the cloud ends it TIMED_OUT (in progress too long) or CANCELED (by a user). A terminal
  state never changes again. Every change bumps the execution's ``versionNumber``; an
  update that names another ``expectedVersion`` is refused (``VersionMismatch``).
- A job id is 1-64 of ``A-Z a-z 0-9 _ -`` (AWS's alphabet): it becomes a topic level, so no
  ``/`` and no MQTT wildcard (``+``, ``#``) can reach a topic through it (:func:`check_job_id`).
  The cloud names each job with a ULID (:func:`new_job_id`): 48 bits of milliseconds and 80
  random bits, unique forever, so a cloud that lost its store can't reuse an id the device has
  already recorded, and ids sort by the time they were made.

For example::

    >>> validate_job({"operation": "snoozeAlert", "local_alert_id": "g1/policy/14400"}).operation
    'snoozeAlert'
    >>> validate_job({"operation": "reboot"}).reason
    'unknown_operation'
    >>> validate_job({"operation": "createEvent", "title": "\\udc80", "start": 0}).reason
    'bad_value'
    >>> check_job_id("pi/#").reason
    'bad_job_id'
    >>> new_job_id(1_800_000_000_000, 0)
    '01MCC5RM000000000000000000'
    >>> ThingTopics.of("$aws/", "pi").update("pi-1")
    '$aws/things/pi/jobs/pi-1/update'
    >>> parse_request("$aws/", "$aws/things/pi/jobs/pi-1/update")
    JobsRequest(thing='pi', action='update', job_id='pi-1')
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Collection, Mapping

DEFAULT_PREFIX = "$aws/"
NOTIFY_NEXT = "notify-next"
START_NEXT = "start-next"
UPDATE = "update"
ACCEPTED = "accepted"
REJECTED_REPLY = "rejected"

QUEUED = "QUEUED"
IN_PROGRESS = "IN_PROGRESS"
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
REJECTED = "REJECTED"
TIMED_OUT = "TIMED_OUT"
CANCELED = "CANCELED"
STATES = (QUEUED, IN_PROGRESS, SUCCEEDED, FAILED, REJECTED, TIMED_OUT, CANCELED)
TERMINAL = frozenset({SUCCEEDED, FAILED, REJECTED, TIMED_OUT, CANCELED})
PENDING = frozenset({QUEUED, IN_PROGRESS})
# What the device may report (the cloud alone times out and cancels).
DEVICE_STATES = frozenset({IN_PROGRESS, SUCCEEDED, FAILED, REJECTED})
TRANSITIONS: dict[str, frozenset[str]] = {
    QUEUED: frozenset({IN_PROGRESS, REJECTED, FAILED, CANCELED}),
    IN_PROGRESS: frozenset({IN_PROGRESS, SUCCEEDED, FAILED, REJECTED, TIMED_OUT, CANCELED}),
    **{state: frozenset() for state in TERMINAL},
}

_NUMBER = "number"
_TEXT = "text"
_FLAG = "flag"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$")

# operation -> {field: (type, required)}
OPERATIONS: dict[str, dict[str, tuple[str, bool]]] = {
    "snoozeAlert": {"local_alert_id": (_TEXT, True), "until": (_NUMBER, False), "for_seconds": (_NUMBER, False),
                    "event_title": (_TEXT, False)},
    "updateAlert": {"local_alert_id": (_TEXT, True), "before": (_NUMBER, False), "duration": (_NUMBER, False),
                    "event_title": (_TEXT, False)},
    "createEvent": {"title": (_TEXT, True), "start": (_NUMBER, True), "kind": (_TEXT, False)},
    "createAlert": {"event_key": (_TEXT, True), "before": (_NUMBER, True), "duration": (_NUMBER, False),
                    "event_title": (_TEXT, False)},
    # signature: base64 Ed25519 over the wheel (system/decisions/signed_updates.py); optional here, so that an
    # unsigned update reaches the device and ends FAILED ("unsigned") with nothing installed.
    "updateApplication": {"version": (_TEXT, True), "url": (_TEXT, True), "sha256": (_TEXT, True),
                          "signature": (_TEXT, False), "allow_downgrade": (_FLAG, False)},
}
EVENT_KINDS = ("game", "custom")
MAX_TEXT = 200
_JOB_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # ULID's base 32: no I, L, O, U


@dataclass(frozen=True)
class Command:
    """A valid job document: ``operation`` and its fields (only the known ones)."""

    operation: str
    fields: Mapping[str, Any]

    ok = True


@dataclass(frozen=True)
class Refusal:
    """A refused job document or update: ``reason`` is a stable code, ``detail`` says what to fix."""

    reason: str
    detail: str = ""

    ok = False


def validate_job(document: Any, *, job_id: Any = None, alerts: Collection[str] | None = None,
                 events: Collection[str] | None = None) -> Command | Refusal:
    """Check a job document (and its ``job_id`` when given); ``alerts`` and ``events`` (alert ids, event
    keys) check references too. The one check of the cloud's API and of the device."""
    if job_id is not None:
        refused = check_job_id(job_id)
        if refused is not None:
            return refused
    if not isinstance(document, dict):
        return Refusal("not_an_object", f"a job document is a JSON object, not {type(document).__name__}")
    operation = document.get("operation")
    if not isinstance(operation, str) or operation not in OPERATIONS:
        return Refusal("unknown_operation", f"operation {operation!r}; known: {', '.join(OPERATIONS)}")
    spec = OPERATIONS[operation]
    unknown = sorted(str(k) for k in document if k != "operation" and k not in spec)
    if unknown:
        return Refusal("unknown_field", f"{operation} has no field {unknown[0]!r}; fields: {', '.join(spec)}")
    fields: dict[str, Any] = {}
    for name, (kind, required) in spec.items():
        if name not in document:
            if required:
                return Refusal("missing_field", f"{operation} needs {name!r}")
            continue
        value = document[name]
        refused = _check(name, kind, value)
        if refused is not None:
            return refused
        fields[name] = float(value) if kind == _NUMBER else value
    refused = _rules(operation, fields)
    if refused is not None:
        return refused
    if alerts is not None and "local_alert_id" in fields and fields["local_alert_id"] not in alerts:
        return Refusal("unknown_alert", f"no alert {fields['local_alert_id']!r} on this device")
    if events is not None and "event_key" in fields and fields["event_key"] not in events:
        return Refusal("unknown_event", f"no event {fields['event_key']!r} on this device")
    return Command(operation, fields)


def _check(name: str, kind: str, value: Any) -> Refusal | None:
    if kind == _FLAG:
        return None if isinstance(value, bool) else Refusal("wrong_type", f"{name!r} must be true or false")
    if kind == _NUMBER:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return Refusal("wrong_type", f"{name!r} must be a number, not {type(value).__name__}")
        if not math.isfinite(value) or abs(value) > 1e12:
            return Refusal("bad_value", f"{name!r} must be a finite number of seconds")
        return None
    if not isinstance(value, str):
        return Refusal("wrong_type", f"{name!r} must be text, not {type(value).__name__}")
    if not value.strip() or len(value) > MAX_TEXT or not _printable(value):
        return Refusal("bad_value", f"{name!r} must be 1-{MAX_TEXT} printable characters")
    return None


def _printable(text: str) -> bool:
    """No control character (C0, DEL, C1) and no lone surrogate (JSON's "\\udc80": not encodable as UTF-8)."""
    return not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F or 0xD800 <= ord(c) <= 0xDFFF for c in text)


def check_job_id(job_id: Any) -> Refusal | None:
    """Why ``job_id`` can't name a job (it becomes a topic level: no ``/``, ``+`` or ``#``), or None."""
    if isinstance(job_id, str) and _JOB_ID.match(job_id):
        return None
    return Refusal("bad_job_id", f"a job id is 1-64 of A-Z a-z 0-9 _ -, not {ascii(job_id)[:80]}")


def new_job_id(ms: int, entropy: int) -> str:
    """A ULID: ``ms`` (milliseconds since 1970, 48 bits) then ``entropy`` (80 random bits), 26 characters of
    Crockford base 32. The caller draws both (the runtime's clock and random stream), so a sim stays
    deterministic; ids made later sort after earlier ones."""
    value = ((ms & (2**48 - 1)) << 80) | (entropy & (2**80 - 1))
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def _rules(operation: str, fields: Mapping[str, Any]) -> Refusal | None:
    if fields.get("duration", 1.0) <= 0 or fields.get("for_seconds", 1.0) <= 0:
        return Refusal("bad_value", "durations must be positive")
    if fields.get("before", 0.0) < 0:
        return Refusal("bad_value", "'before' is seconds before the event, not negative")
    if operation == "snoozeAlert" and "until" in fields and "for_seconds" in fields:
        return Refusal("bad_value", "give 'until' or 'for_seconds', not both")
    if operation == "updateAlert" and "before" not in fields and "duration" not in fields:
        return Refusal("missing_field", "updateAlert changes 'before' or 'duration'")
    if operation == "createEvent" and fields.get("kind", "custom") not in EVENT_KINDS:
        return Refusal("bad_value", f"kind is one of {', '.join(EVENT_KINDS)}")
    if operation == "updateApplication":
        if not _SHA256.match(fields["sha256"]):
            return Refusal("bad_value", "'sha256' is 64 lowercase hex digits")
        if not _VERSION.match(fields["version"]):
            return Refusal("bad_value", "'version' is like 1.2.3 (letters, digits, . + _ -)")
        if not fields["url"].startswith(("http://", "https://")):
            return Refusal("bad_value", "'url' is an http(s) URL")
    return None


def check_update(status: str, version: int, new_status: Any, expected_version: Any) -> Refusal | None:
    """Whether a device may move an execution in ``status`` (at ``version``) to ``new_status``."""
    if not isinstance(new_status, str) or new_status not in DEVICE_STATES:
        return Refusal("InvalidRequest", f"status {new_status!r}; a device reports one of {sorted(DEVICE_STATES)}")
    if expected_version is not None:
        if isinstance(expected_version, bool) or not isinstance(expected_version, int):
            return Refusal("InvalidRequest", "expectedVersion must be an integer")
        if expected_version != version:
            return Refusal("VersionMismatch", f"expected version {expected_version}, the execution is at {version}")
    if new_status not in TRANSITIONS[status]:
        return Refusal("InvalidStateTransition", f"{status} -> {new_status}")
    return None


def check_details(details: Any) -> Refusal | None:
    """Why a device's ``statusDetails`` can't be kept (AWS: a map of strings; none may hold a lone surrogate,
    which would break every later answer that shows it), or None."""
    if details is None:
        return None
    if not isinstance(details, dict):
        return Refusal("InvalidRequest", "statusDetails must be an object")
    for key, value in details.items():
        if not isinstance(value, str) or len(key) > 128 or len(value) > 1024 or not _encodable(key + value):
            return Refusal("InvalidRequest", "statusDetails maps names to text (up to 1024 characters, UTF-8)")
    return None


def _encodable(text: str) -> bool:
    return not any(0xD800 <= ord(c) <= 0xDFFF for c in text)


# -- topics ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ThingTopics:
    """The Jobs topics of one thing (see the table above)."""

    base: str  # <prefix>things/<thing>/jobs

    @classmethod
    def of(cls, prefix: str, thing: str) -> "ThingTopics":
        return cls(f"{prefix}things/{thing}/jobs")

    @property
    def notify_next(self) -> str:
        return f"{self.base}/{NOTIFY_NEXT}"

    @property
    def start_next(self) -> str:
        return f"{self.base}/{START_NEXT}"

    @property
    def start_accepted(self) -> str:
        return reply(self.start_next, True)

    @property
    def start_rejected(self) -> str:
        return reply(self.start_next, False)

    @property
    def update_replies(self) -> str:
        """The filter matching every ``<jobId>/update/accepted`` and ``/rejected`` of this thing."""
        return f"{self.base}/+/{UPDATE}/+"

    def update(self, job_id: str) -> str:
        return f"{self.base}/{job_id}/{UPDATE}"

    def update_reply(self, topic: str) -> str | None:
        """``accepted`` or ``rejected`` when ``topic`` answers one of this thing's updates, else None."""
        head, _, last = topic.rpartition("/")
        if last in (ACCEPTED, REJECTED_REPLY) and head.startswith(self.base + "/") and head.endswith("/" + UPDATE):
            return last
        return None


def reply(topic: str, accepted: bool) -> str:
    """The topic answering a request sent on ``topic``."""
    return f"{topic}/{ACCEPTED if accepted else REJECTED_REPLY}"


def cloud_filters(prefix: str) -> tuple[str, str]:
    """What the cloud subscribes to: every thing's ``start-next`` and ``<jobId>/update``."""
    return f"{prefix}things/+/jobs/{START_NEXT}", f"{prefix}things/+/jobs/+/{UPDATE}"


@dataclass(frozen=True)
class JobsRequest:
    """A device's request: ``action`` is ``start-next`` or ``update`` (then of job ``job_id``)."""

    thing: str
    action: str
    job_id: str | None = None


def parse_request(prefix: str, topic: str) -> JobsRequest | None:
    """The request ``topic`` carries, or None when it is not one (a reply, another API, another prefix)."""
    if not topic.startswith(f"{prefix}things/"):
        return None
    parts = topic[len(prefix):].split("/")
    if len(parts) == 4 and parts[2] == "jobs" and parts[3] == START_NEXT:
        return JobsRequest(parts[1], START_NEXT)
    if len(parts) == 5 and parts[2] == "jobs" and parts[4] == UPDATE:
        return JobsRequest(parts[1], UPDATE, parts[3])
    return None


# -- documents --------------------------------------------------------------------------------------


def execution(job_id: str, thing: str, status: str, document: dict, queued_at: float, updated_at: float,
              started_at: float | None, version: int, details: dict) -> dict:
    """A job as the Jobs API shows a device its execution."""
    return {"jobId": job_id, "thingName": thing, "status": status, "jobDocument": document,
            "queuedAt": queued_at, "lastUpdatedAt": updated_at, "startedAt": started_at,
            "versionNumber": version, "executionNumber": 1, "statusDetails": details}


def notify_next_message(pending: dict | None, now: float) -> dict:
    """``notify-next``: the next pending execution (without its status details), or none."""
    body: dict = {"timestamp": now}
    if pending is not None:
        body["execution"] = {k: v for k, v in pending.items() if k != "statusDetails"}
    return body


def start_next_request(client_token: str) -> dict:
    return {"clientToken": client_token}


def start_next_accepted(started: dict | None, now: float, token: dict) -> dict:
    """The answer to ``start-next``: the execution now in progress, or no ``execution`` (nothing pending)."""
    answer: dict = {"timestamp": now, **token}
    if started is not None:
        answer["execution"] = started
    return answer


def update_request(status: str, details: Mapping[str, Any], client_token: str, version: Any) -> dict:
    """A device's ``<jobId>/update``: the new status, its details as text, and the version it saw."""
    body: dict = {"status": status, "statusDetails": {k: str(v) for k, v in details.items()},
                  "clientToken": client_token}
    if isinstance(version, int):
        body["expectedVersion"] = version
    return body


def update_accepted(status: str, details: dict, version: int, now: float, token: dict) -> dict:
    return {"executionState": {"status": status, "statusDetails": details, "versionNumber": version},
            "timestamp": now, **token}


def rejected(code: str, message: str, now: float, token: dict) -> dict:
    """A ``/rejected`` answer: ``code`` is the Jobs API's (``InvalidRequest``, ``VersionMismatch``, ...)."""
    return {"code": code, "message": message, "timestamp": now, **token}


def client_token(body: Mapping[str, Any]) -> dict:
    """The request's ``clientToken`` to echo in the answer (empty when it sent none)."""
    return {"clientToken": body["clientToken"]} if isinstance(body.get("clientToken"), str) else {}
