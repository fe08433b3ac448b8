"""Over-the-air update of the controller (the ``updateApplication`` job): check, download, verify, install, restart.

The steps, and what each failure leaves behind (every one: FAILED with the reason, nothing installed, the
running version untouched; the rules are :mod:`system.decisions.signed_updates`):

0. **Check** the job before downloading anything: a controller with no update key refuses every update
   (``no_update_key``), a job with no ``signature`` is ``unsigned``, a version below the running one is a
   ``downgrade`` unless the job says ``allow_downgrade: true``.
1. **Download** the package named by the job's ``url`` (an ``httpx`` client: the internet live, the
   simulated web in sim). A download error: ``download_failed``.
2. **Verify** its SHA-256 against the job's ``sha256`` (``bad_hash``), then its detached Ed25519
   ``signature`` against the controller's update key (``bad_signature``), then that the signed wheel is the
   version the job names (``version_mismatch``).
3. **Install** it beside the running version (the installer port; live:
   :class:`system.adapters.ota_supervisor.DirectoryInstaller`) and mark the update *pending*. An installer error:
   ``install_failed``.
4. **Restart** into the new version: the job is reported IN_PROGRESS (``step: restarting``) and the
   installer restarts the process. The *new* version, once it runs and is connected, finds the pending
   update naming its own version and reports SUCCEEDED. If the new version does not start, the supervisor
   puts the old one back, which finds the pending update failed and reports FAILED with the reason.

The job is recorded in the store when it arrives, so a job delivered again is never installed twice.
"""

from __future__ import annotations

import hashlib
from typing import Any, Protocol

import httpx

from system.decisions.jobs_protocol import FAILED, IN_PROGRESS, SUCCEEDED, Refusal
from system.decisions.signed_updates import (Ed25519PublicKey, package_refusal, signature_refusal,
                                             version_refusal)

MAX_PACKAGE = 200 * 1024 * 1024


class Installer(Protocol):
    """The disk and process side of an update (live: a versions directory and a supervisor)."""

    async def install(self, job_id: str, version: str, package: bytes, filename: str) -> None: ...

    def outcome(self, running_version: str) -> tuple[str, str, dict] | None: ...

    def settle(self) -> None: ...

    def restart(self) -> None: ...


class Updater:
    """Runs ``updateApplication`` jobs for a controller running ``version`` that trusts ``key`` (None: it
    trusts no release and refuses every update)."""

    def __init__(self, rt: Any, client: httpx.AsyncClient, installer: Installer, version: str,
                 key: Ed25519PublicKey | None = None):
        self.rt = rt
        self.client = client
        self.installer = installer
        self.version = version
        self.key = key
        self._finished: tuple[str, str, dict] | None = None

    async def update(self, job_id: str, fields: dict) -> tuple[str, dict]:
        """Steps 0-3; returns the status to report (IN_PROGRESS: call :meth:`restart` after reporting)."""
        target = fields["version"]
        refused = self._check(fields)
        if refused is not None:
            return self._failed(job_id, refused.reason, refused.detail)
        if target == self.version:
            return SUCCEEDED, {"version": self.version, "note": "already running"}
        try:
            response = await self.client.get(fields["url"], follow_redirects=True)
            response.raise_for_status()
            package = response.content
        except httpx.HTTPError as exc:
            return self._failed(job_id, "download_failed", f"{type(exc).__name__}: {exc}")
        if len(package) > MAX_PACKAGE:
            return self._failed(job_id, "download_failed", "package too large")
        digest = hashlib.sha256(package).hexdigest()
        if digest != fields["sha256"]:
            return self._failed(job_id, "bad_hash", f"got {digest}, the job names {fields['sha256']}")
        refused = signature_refusal(package, fields.get("signature"), self.key) or package_refusal(package, target)
        if refused is not None:
            return self._failed(job_id, refused.reason, refused.detail)
        filename = fields["url"].rstrip("/").rsplit("/", 1)[-1] or f"hilsim-{target}.whl"
        try:
            await self.installer.install(job_id, target, package, filename)
        except Exception as exc:  # whatever the installer hit, the running version must stay and say why
            return self._failed(job_id, "install_failed", str(exc)[:300])
        self.rt.trace("ota.installed", job=job_id, version=target, running=self.version)
        return IN_PROGRESS, {"step": "restarting", "version": target}

    def _check(self, fields: dict) -> Refusal | None:
        if self.key is None:
            return Refusal("no_update_key", "no update key is configured on this controller (--update-key)")
        if not fields.get("signature"):
            return Refusal("unsigned", "the job names no signature; sign the wheel with hilsim release sign")
        return version_refusal(fields["version"], self.version, allow_downgrade=bool(fields.get("allow_downgrade")))

    def _failed(self, job_id: str, reason: str, detail: str) -> tuple[str, dict]:
        self.rt.trace("ota.failed", job=job_id, reason=reason, detail=detail[:200])
        return FAILED, {"reason": reason, "detail": detail[:300], "version": self.version}

    def finished(self) -> tuple[str, str, dict] | None:
        """An update that ended before this start: (job id, SUCCEEDED or FAILED, details), else None."""
        self._finished = self.installer.outcome(self.version)
        return self._finished

    def settle(self) -> None:
        """The outcome was reported: forget it (live: ``last-update.json`` is written before the trace line)."""
        self.installer.settle()
        job = self._finished[0] if self._finished else None
        self.rt.trace("ota.settled", job=job, running=self.version)

    def restart(self) -> None:
        self.rt.trace("ota.restarting", running=self.version)
        self.installer.restart()
