"""Live over-the-air updates: versions installed side by side, a ``current`` link, and a supervisor.

Layout under the update root (``--ota-root``)::

    versions/<version>/     one installed package each (``pip install --no-deps --target``)
    current -> versions/X   the version the supervisor starts (switched atomically: a new link, then rename)
    pending.json            an update in flight: job, version, previous version, phase, attempts

Design for systemd: the unit runs the *supervisor* (``hilsim supervise --ota-root DIR -- controller ...``),
which runs the controller of ``current`` as its child with ``PYTHONPATH=<root>/current``. systemd restarts
the supervisor if it dies (``Restart=always``); the supervisor restarts the controller for an update:

- the old version installs the new one beside itself, writes ``pending.json`` (phase ``trying``), points
  ``current`` at the new version and stops itself (SIGTERM, the ordinary ordered shutdown);
- the supervisor sees the update pending and starts ``current``, counting the attempt;
- the new version, once connected to the jobs topics, reports SUCCEEDED and marks the update ``done``;
- if the new version exits (or crashes) before that, the supervisor points ``current`` back at the
  previous version, marks the update ``failed`` with the reason and starts the old version, which
  reports FAILED.

The supervisor forwards SIGTERM/SIGINT to its child and exits with the child's code when no update is
pending. The example unit is ``deploy/systemd/hilsim-controller.service``.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Sequence

from system.adapters.child_process import stop
from system.errors import BackendError
from system.decisions.jobs_protocol import FAILED, SUCCEEDED

TRYING, DONE, FAILED_PHASE = "trying", "done", "failed"


class DirectoryInstaller:
    """The installer port over an update root (see the module docstring)."""

    def __init__(self, root: str | Path, *, pip: Sequence[str] = (sys.executable, "-m", "pip")):
        self.root = Path(root)
        self.pip = list(pip)

    @property
    def pending_file(self) -> Path:
        return self.root / "pending.json"

    def pending(self) -> dict | None:
        try:
            return json.loads(self.pending_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def _write_pending(self, state: dict) -> None:
        tmp = self.pending_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.pending_file)

    def current(self) -> str | None:
        """The version ``current`` points at (None before the first update)."""
        link = self.root / "current"
        return Path(os.readlink(link)).name if link.is_symlink() else None

    def point_current(self, version: str) -> None:
        link, tmp = self.root / "current", self.root / "current.tmp"
        if tmp.is_symlink():
            tmp.unlink()
        os.symlink(Path("versions") / version, tmp)
        os.replace(tmp, link)  # atomic: current names the old version or the new one, never nothing

    async def install(self, job_id: str, version: str, package: bytes, filename: str) -> None:
        versions = self.root / "versions"
        versions.mkdir(parents=True, exist_ok=True)
        downloads = self.root / "downloads"
        downloads.mkdir(exist_ok=True)
        wheel = downloads / Path(filename).name
        wheel.write_bytes(package)
        target = versions / version
        staging = versions / f".{version}.staging"
        for leftover in (staging, target):
            if leftover.exists():
                await asyncio.to_thread(_remove_tree, leftover)
        proc = await asyncio.create_subprocess_exec(
            *self.pip, "install", "--quiet", "--no-deps", "--no-compile", "--disable-pip-version-check",
            "--target", str(staging), str(wheel), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        output, _ = await proc.communicate()
        if proc.returncode != 0:
            await asyncio.to_thread(_remove_tree, staging)
            raise BackendError(f"pip could not install {wheel.name}: {output.decode(errors='replace')[-300:]}")
        os.replace(staging, target)
        previous = self.current()
        self._write_pending({"job": job_id, "version": version, "previous": previous, "phase": TRYING,
                             "attempts": 0})
        self.point_current(version)

    def outcome(self, running_version: str) -> tuple[str, str, dict] | None:
        state = self.pending()
        if state is None:
            return None
        if state["phase"] == TRYING and state["version"] == running_version:
            return state["job"], SUCCEEDED, {"version": running_version, "previous": state["previous"] or "base"}
        if state["phase"] == FAILED_PHASE:
            return state["job"], FAILED, {"reason": "new_version_failed", "detail": state.get("reason", ""),
                                          "version": running_version}
        return None

    def settle(self) -> None:
        state = self.pending()
        if state is not None:
            state["phase"] = DONE if state["phase"] == TRYING else "reported"
            self._write_pending(state)
            os.replace(self.pending_file, self.root / "last-update.json")

    def restart(self) -> None:
        # The ordinary ordered shutdown (the process helper handles SIGTERM); the supervisor starts current.
        os.kill(os.getpid(), signal.SIGTERM)


def _remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def supervise(root: str | Path, args: Sequence[str], *, python: str = sys.executable) -> int:
    """Run ``python -m hilsim ARGS`` from ``current`` until it exits with no update pending; returns its code."""
    installer = DirectoryInstaller(root)
    child: subprocess.Popen | None = None

    def forward(signum: int, _frame: object) -> None:
        if child is not None and child.poll() is None:
            child.send_signal(signum)
        stopping.append(signum)

    stopping: list[int] = []
    code: int | None = None
    previous = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        while True:
            state = installer.pending()
            if state is not None and state["phase"] == TRYING:
                if state["attempts"] >= 1:  # the new version ran and never confirmed: put the old one back
                    if state["previous"]:
                        installer.point_current(state["previous"])
                    elif (installer.root / "current").is_symlink():
                        (installer.root / "current").unlink()
                    state.update(phase=FAILED_PHASE, reason=f"version {state['version']} exited before it "
                                                            f"confirmed (code {code})")
                else:
                    state["attempts"] += 1
                installer._write_pending(state)
            env = dict(os.environ)
            current = installer.root / "current"
            if current.is_symlink():
                env["PYTHONPATH"] = os.pathsep.join([str(current.resolve()), *filter(None, [env.get("PYTHONPATH")])])
            # cwd is the update root: "python -m" puts the working directory first on the path, and a source
            # checkout there would shadow the version current names.
            child = subprocess.Popen([python, "-m", "hilsim", *args], env=env, cwd=installer.root)
            code = child.wait()
            state = installer.pending()
            if stopping or state is None or state["phase"] not in (TRYING, FAILED_PHASE):
                return code
            if state["phase"] == FAILED_PHASE and code != 0:
                return code  # the old version failed too: let systemd see it
    finally:
        if child is not None:  # normally exited already; after an error here, no orphan controller is left
            stop(child)
        for s, handler in previous.items():
            signal.signal(s, handler)
