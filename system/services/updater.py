"""Over-the-air update of the controller (the ``updateApplication`` job): download, verify, install, restart.

The steps, and what each failure leaves behind:

1. **Download** the package named by the job's ``url`` (an ``httpx`` client: the internet live, the
   simulated web in sim). A download error: FAILED (``download_failed``), nothing installed.
2. **Verify** its SHA-256 against the job's ``sha256``. A mismatch: FAILED (``bad_hash``), nothing installed.
3. **Install** it beside the running version (the installer port; live:
   :class:`system.adapters.ota_supervisor.DirectoryInstaller`) and mark the update *pending*. An installer error:
   FAILED (``install_failed``), the running version untouched.
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

from system.decisions.jobs_protocol import FAILED, IN_PROGRESS, SUCCEEDED

MAX_PACKAGE = 200 * 1024 * 1024


class Installer(Protocol):
    """The disk and process side of an update (live: a versions directory and a supervisor)."""

    async def install(self, job_id: str, version: str, package: bytes, filename: str) -> None: ...

    def outcome(self, running_version: str) -> tuple[str, str, dict] | None: ...

    def settle(self) -> None: ...

    def restart(self) -> None: ...


class Updater:
    """Runs ``updateApplication`` jobs for a controller running ``version``."""

    def __init__(self, rt: Any, client: httpx.AsyncClient, installer: Installer, version: str):
        self.rt = rt
        self.client = client
        self.installer = installer
        self.version = version

    async def update(self, job_id: str, fields: dict) -> tuple[str, dict]:
        """Steps 1-3; returns the status to report (IN_PROGRESS: call :meth:`restart` after reporting)."""
        target = fields["version"]
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
        filename = fields["url"].rstrip("/").rsplit("/", 1)[-1] or f"hilsim-{target}.whl"
        try:
            await self.installer.install(job_id, target, package, filename)
        except Exception as exc:  # whatever the installer hit, the running version must stay and say why
            return self._failed(job_id, "install_failed", str(exc)[:300])
        self.rt.trace("ota.installed", job=job_id, version=target, running=self.version)
        return IN_PROGRESS, {"step": "restarting", "version": target}

    def _failed(self, job_id: str, reason: str, detail: str) -> tuple[str, dict]:
        self.rt.trace("ota.failed", job=job_id, reason=reason, detail=detail[:200])
        return FAILED, {"reason": reason, "detail": detail[:300], "version": self.version}

    def finished(self) -> tuple[str, str, dict] | None:
        """An update that ended before this start: (job id, SUCCEEDED or FAILED, details), else None."""
        return self.installer.outcome(self.version)

    def settle(self) -> None:
        """The outcome was reported: forget it."""
        self.installer.settle()

    def restart(self) -> None:
        self.rt.trace("ota.restarting", running=self.version)
        self.installer.restart()
