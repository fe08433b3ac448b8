"""The device side of cloud jobs: the AWS IoT Jobs MQTT API, each job executed at most once.

Its topics, states and message shapes are :mod:`system.decisions.jobs_protocol`'s (``prefix`` is
``$aws/`` for AWS IoT Core; a local broker that reserves ``$`` topics gets another, e.g. ``hil/``).

The agent asks for the next job every ``poll_every`` seconds while connected and whenever
``notify-next`` arrives. A job is checked (:func:`system.decisions.jobs_protocol.validate_job` against the
device's current alerts and events) before anything runs; a refused one is REJECTED with its reason.
A valid one runs inside one store transaction that also records its id, so a job whose update was lost
and that comes again is never run twice: the agent reports the recorded outcome instead.
``updateApplication`` is handed to the ``updater`` port (see :mod:`system.services.updater`).

Each job is its own error boundary: an exception while it is checked or run (a store that can't
hold a value, a scheduler bug) ends that job FAILED with the exception as its reason, and the agent
goes on with the next one; only a lost connection ends the loop's turn. An execution the agent can't
even answer (a job id that is not a safe topic level, e.g. holding ``#``) or one that came as a
retained message (a reply to a request is never retained: someone planted it) is skipped with a
``job.skipped`` line, so a poisoned retained message can't crash the controller at every start.

Each job is taken once per connection: a second hand-over of it (two start-next answers in flight, or
an update in progress handed over again at its new version) is dropped silently, so a job is reported
once and a refused report is not sent again on that connection. After a reconnection (:meth:`JobAgent.connected`)
the agent takes it again, since its report may have been lost with the old connection.

Trace: ``job.received``, ``job.rejected``, ``job.succeeded``, ``job.failed``, ``job.repeated`` (seen
before, outcome reported again), ``job.skipped``, ``job.unrecorded`` (a failure the store could not
record), ``job.reported``, ``job.update_refused``, ``jobs.connected``, ``jobs.disconnected``.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from firmware.backoff import next_backoff
from system.decisions.alerts import alert_id
from system.decisions import jobs_protocol as jobs
from system.decisions.jobs_protocol import (DEFAULT_PREFIX, FAILED, IN_PROGRESS, REJECTED, SUCCEEDED, TERMINAL,
                                            Command, Refusal, validate_job)
from system.errors import ConnectionLost, RefusedInput
from system.mqtt.port import MqttPort
from system.ports import JobStore

# The store's job states as the Jobs API names them ("queued": an update installed, its restart under way).
_STATUS = {"succeeded": SUCCEEDED, "failed": FAILED, "rejected": REJECTED, "queued": IN_PROGRESS}


class JobAgent:
    """Service: fetches, checks, executes and reports the device's jobs.

    ``scheduler`` performs the user operations (snooze, add alert, create event); ``store`` records
    each job in the same transaction as its effect; ``updater`` (optional) installs application
    updates; ``on_done`` is called after every job (the controller syncs then).
    """

    def __init__(self, rt: Any, mqtt: MqttPort, thing: str, store: JobStore, scheduler: Any, *,
                 prefix: str = DEFAULT_PREFIX, poll_every: float = 30.0, updater: Any = None,
                 on_done: Callable[[], None] | None = None):
        self.rt = rt
        self.mqtt = mqtt
        self.thing = thing
        self.store = store
        self.scheduler = scheduler
        self.topics = jobs.ThingTopics.of(prefix, thing)
        self.poll_every = poll_every
        self.updater = updater
        self.on_done = on_done or (lambda: None)
        self.executed: list[str] = []  # job ids this process ran (tests check "at most once")
        self._token = 0
        # Job ids taken on this connection. AWS answers every start-next, so two in flight (a poll, a
        # notify-next, the accepted reply of the last report) hand over the same execution twice; reporting it
        # again is refused (VersionMismatch), or, for an update in progress, accepted at a new version, which
        # makes the cloud hand it over again: a loop that kept an updating controller from ever restarting.
        self._taken: set[str] = set()
        self._restarting = False

    def connected(self) -> None:
        """A new connection: a report sent on the last one may have been lost, so a hand-over seen there is
        taken (and its recorded outcome reported) again."""
        self._taken.clear()
        self.rt.trace("jobs.connected")

    # -- the pure-ish core: one execution in, one report out ------------------------------

    def execute(self, execution: dict) -> tuple[str, dict]:
        """Run one job execution (at most once); returns the (status, statusDetails) to report."""
        job_id = str(execution.get("jobId", ""))
        document = execution.get("jobDocument")
        now = self.rt.now()
        prior = self.store.job(job_id)
        if prior is not None:
            self.rt.trace("job.repeated", job=job_id, status=prior.status)
            return _STATUS.get(prior.status, FAILED), dict(prior.result or {})
        self.rt.trace("job.received", job=job_id, operation=document.get("operation") if isinstance(document, dict)
                      else None)
        plan = self.scheduler.plan(now)
        verdict = validate_job(document, job_id=job_id, alerts={a.id for a in plan.alerts},
                               events={e.key for e in self.store.stored_events()})
        if isinstance(verdict, Refusal):
            return self._refused(job_id, document, verdict.reason, verdict.detail, now)
        if verdict.operation == "updateApplication":
            return self._refused(job_id, document, "no_updater", "this device does not update itself", now)
        try:
            with self.store.atomic():
                self.store.add_job(job_id, verdict.operation, dict(document), now)
                result = self._apply(verdict)
                self.store.finish_job(job_id, "succeeded", result, now)
        except RefusedInput as refused:
            return self._refused(job_id, document, refused.reason, refused.detail, now)
        self.executed.append(job_id)
        self.rt.trace("job.succeeded", job=job_id, operation=verdict.operation, **result)
        return SUCCEEDED, result

    def _refused(self, job_id: str, document: Any, reason: str, detail: str, now: float) -> tuple[str, dict]:
        details = {"reason": reason, "detail": _text(detail)}
        self._record(job_id, document, "rejected", details, now)
        self.rt.trace("job.rejected", job=job_id, reason=reason)
        return REJECTED, details

    def _record(self, job_id: str, document: Any, status: str, details: dict, now: float) -> None:
        operation = document.get("operation") if isinstance(document, dict) else None
        with self.store.atomic():
            self.store.add_job(job_id, _text(str(operation), 64), document if isinstance(document, dict) else {}, now)
            self.store.finish_job(job_id, status, details, now)

    def _crashed(self, job_id: str, document: Any, exc: Exception) -> tuple[str, dict]:
        """The job whose check or run raised ``exc``: FAILED with the exception as its reason, recorded so that
        it is not run again; when the store can't even record that (``job.unrecorded``), FAILED is still
        reported, and the job is checked afresh if it ever comes back."""
        details = {"reason": "internal_error", "detail": _text(f"{type(exc).__name__}: {exc}")}
        try:
            prior = self.store.job(job_id)
            if prior is None:
                self._record(job_id, document, "failed", details, self.rt.now())
            elif prior.status == "queued":  # an update that raised before its restart: it never will restart
                self.store.finish_job(job_id, "failed", details, self.rt.now())
        except Exception as again:  # the store itself is what fails: report anyway
            self.rt.trace("job.unrecorded", job=job_id, error=_text(f"{type(again).__name__}: {again}"))
        self.rt.trace("job.failed", job=job_id, reason="internal_error", error=details["detail"])
        return FAILED, details

    def _apply(self, command: Command) -> dict:
        f = command.fields
        op = command.operation
        if op == "snoozeAlert":
            snooze = self.scheduler.snooze(f["local_alert_id"], until=f.get("until"), for_seconds=f.get("for_seconds"))
            return {"alert": snooze.alert_id, "until": snooze.until}
        if op == "createEvent":
            event = self.scheduler.create_event(f["title"], f["start"], f.get("kind", "custom"))
            return {"event": event.key}
        if op == "createAlert":
            alert = self.scheduler.add_alert(f["event_key"], f["before"], f.get("duration", 600.0))
            return {"alert": alert.id, "at": alert.at}
        if op == "updateAlert":
            alert = next(a for a in self.scheduler.plan().alerts if a.id == f["local_alert_id"])
            if alert.origin != "extra":
                raise RefusedInput("policy_alert", "alerts from the kind's policy change with the policy; "
                                                   "update an alert a user added")
            # the stored rule itself (its exact offset), not one recomputed from times
            rule = next(r for r in self.store.extras().get(alert.event_key, ())
                        if alert_id(alert.event_key, "extra", r.before) == alert.id)
            self.store.remove_extra(alert.event_key, rule.before)
            new = self.scheduler.add_alert(alert.event_key, f.get("before", rule.before),
                                           f.get("duration", alert.duration))
            return {"alert": new.id, "at": new.at}
        raise RefusedInput("unknown_operation", op)  # validate_job let through an operation nobody runs

    async def run_job(self, execution: dict) -> tuple[str, dict, bool]:
        """Like :meth:`execute`, with application updates too; the flag says: restart after reporting."""
        job_id = str(execution.get("jobId", ""))
        document = execution.get("jobDocument")
        if (self.updater is not None and isinstance(document, dict)
                and document.get("operation") == "updateApplication" and self.store.job(job_id) is None):
            verdict = validate_job(document)
            if isinstance(verdict, Command):
                now = self.rt.now()
                self.rt.trace("job.received", job=job_id, operation=verdict.operation)
                self.store.add_job(job_id, verdict.operation, dict(document), now)  # first: never installed twice
                self.executed.append(job_id)
                status, details = await self.updater.update(job_id, dict(verdict.fields))
                if status != IN_PROGRESS:
                    self.store.finish_job(job_id, status.lower(), details, now)
                    self.rt.trace(f"job.{status.lower()}", job=job_id, operation=verdict.operation)
                return status, details, status == IN_PROGRESS
        status, details = self.execute(execution)
        return status, details, False

    # -- MQTT ---------------------------------------------------------------------------------

    def _client_token(self) -> str:
        self._token += 1
        return f"{self.thing}-{self._token}"

    async def _start_next(self) -> None:
        body = jobs.start_next_request(self._client_token())
        await self.mqtt.publish(self.topics.start_next, json.dumps(body), qos=1)

    async def _report(self, job_id: str, status: str, details: dict, version: Any) -> None:
        body = jobs.update_request(status, details, self._client_token(), version)
        await self.mqtt.publish(self.topics.update(job_id), json.dumps(body), qos=1)
        self.rt.trace("job.reported", job=job_id, status=status)

    async def report_pending(self) -> None:
        """Report an update that ended before this start (see :mod:`system.services.updater`): SUCCEEDED from the
        new version, or FAILED from the old one put back."""
        if self.updater is None:
            return
        done = self.updater.finished()
        if done is None:
            return
        job_id, status, details = done
        if self.store.job(job_id) is not None:
            self.store.finish_job(job_id, status.lower(), details, self.rt.now())
        self.rt.trace(f"job.{status.lower()}", job=job_id, operation="updateApplication", **details)
        await self._report(job_id, status, details, None)
        self.updater.settle()
        self.on_done()

    async def handle(self, msg: Any) -> None:
        """One message from the jobs topics."""
        try:
            body = json.loads(msg.payload)
        except ValueError:
            self.rt.trace("job.update_refused", topic=msg.topic, code="not_json")
            return
        if not isinstance(body, dict):
            return
        topic = msg.topic
        reply = self.topics.update_reply(topic)
        if topic == self.topics.notify_next:
            if body.get("execution"):
                await self._start_next()
        elif topic == self.topics.start_accepted:
            execution = body.get("execution")
            if isinstance(execution, dict):
                await self._take(execution, bool(getattr(msg, "retain", False)))
        elif reply == jobs.ACCEPTED:
            state = body.get("executionState")
            if isinstance(state, dict) and state.get("status") in TERMINAL:
                await self._start_next()  # that one is settled: ask for the next (one in progress stays ours)
        elif reply == jobs.REJECTED_REPLY or topic == self.topics.start_rejected:
            self.rt.trace("job.update_refused", topic=topic, code=str(body.get("code")),
                          message=str(body.get("message"))[:200])

    async def _take(self, execution: dict, retained: bool) -> None:
        """Run one handed-over execution in its own error boundary and report it; skip one that can't be."""
        job_id = execution.get("jobId")
        refused = jobs.check_job_id(job_id)
        if retained or refused is not None:
            # no report: a bad id can't be a topic level, and a retained reply was never the cloud's answer
            self.rt.trace("job.skipped", job=_text(ascii(job_id), 80),
                          reason=refused.reason if refused is not None else "retained")
            return
        if job_id in self._taken:
            return  # already run and reported on this connection: that report settles it
        self._taken.add(job_id)
        try:
            status, details, restart = await self.run_job(execution)
        except ConnectionLost:
            raise
        except Exception as exc:  # one job's failure is that job's, never the agent's
            (status, details), restart = self._crashed(job_id, execution.get("jobDocument"), exc), False
        await self._report(job_id, status, details, execution.get("versionNumber"))
        self.on_done()
        if restart:
            self._restarting = True
            self.updater.restart()

    async def run(self) -> None:
        attempt = 0
        rng = self.rt.rng("controller/jobs")
        while True:
            try:
                await self.mqtt.connect()
                for topic in (self.topics.notify_next, self.topics.start_accepted, self.topics.start_rejected,
                              self.topics.update_replies):
                    await self.mqtt.subscribe(topic, 1)
                self.connected()
                attempt = 0
                await self.report_pending()
                await self._start_next()
                while True:
                    try:
                        msg = await self.rt.wait_for(self.mqtt.next_message(), self.poll_every)
                    except TimeoutError:
                        await self._start_next()
                        continue
                    await self.handle(msg)
                    if self._restarting:
                        await self._until_stopped()
            except ConnectionLost as exc:
                attempt += 1
                self.rt.trace("jobs.disconnected", error=str(exc)[:200])
                await self.rt.sleep(next_backoff(attempt, rng, base=2.0, cap=60.0))


    async def _until_stopped(self) -> None:
        """After asking for a restart: take nothing more until the process stops this task. Waiting for a message
        here could lose that stop: Python 3.11's ``asyncio.wait_for`` returns a message that arrives as it is
        cancelled and drops the cancellation, and the updating controller then never exits."""
        while True:
            await self.rt.sleep(self.poll_every)


def _text(text: str, limit: int = 200) -> str:
    """``text`` cut to ``limit``, with anything no UTF-8 store or trace can hold (a lone surrogate) escaped."""
    return text[:limit].encode("utf-8", "backslashreplace").decode("utf-8")
