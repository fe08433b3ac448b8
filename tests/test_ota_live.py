"""Over-the-air update of a live controller (``system/services/updater.py``, ``system/adapters/ota_supervisor.py``)
with real processes: ``hilsim supervise`` runs ``hilsim controller --update-key``; wheels of hilsim itself are
written here (``tests/wheels.py``, no build and no network) with new version numbers, signed with
``hilsim release sign``, and served over HTTP.

- a bad hash, no signature, a corrupt signature, another key's signature, a downgrade, an old signed wheel
  under a new version number: FAILED with the reason, nothing installed, the old version keeps running;
- a good signed wheel: the controller restarts into it and the *new* version reports SUCCEEDED;
- a signed wheel whose version cannot start: the supervisor puts the old version back, which reports FAILED;
- a controller started without ``--update-key`` refuses a good signed wheel.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import http.server
import json
import queue
import subprocess
import sys
import threading

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cloud_world import CloudWorld, hilsim
from processes import ROOT, TracedProcess
from wheels import write_wheel

pytestmark = [pytest.mark.live, pytest.mark.slow]

STRANGER = Ed25519PrivateKey.from_private_bytes(bytes(range(100, 132)))  # a key no controller trusts


@pytest.fixture
def release(tmp_path):
    """The release key pair, made by the command an operator runs."""
    hilsim("release", "keygen", "--out", str(tmp_path / "release"))
    return tmp_path / "release.key", tmp_path / "release.pub"


@pytest.fixture
def wheels(tmp_path, release):
    """version -> (url, sha256, signature by the release key, the wheel's bytes); 0.3.0 cannot start."""
    directory = tmp_path / "wheels"
    found = {}
    for version in ("0.0.9", "0.2.0", "0.3.0"):
        wheel = write_wheel(directory, version, broken=(version == "0.3.0"))
        signature = hilsim("release", "sign", str(wheel), "--key", str(release[0])).strip()
        found[version] = (wheel.name, hashlib.sha256(wheel.read_bytes()).hexdigest(), signature, wheel.read_bytes())
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    yield {v: (f"{base}/{name}", digest, sig, data) for v, (name, digest, sig, data) in found.items()}
    server.shutdown()
    server.server_close()


class Supervised(TracedProcess):
    """``hilsim supervise --ota-root R controller --trace - ARGS``: every controller version's trace on one stdout."""

    def __init__(self, root, *args: str):
        self.proc = subprocess.Popen([sys.executable, "-m", "hilsim", "supervise", "--ota-root", str(root),
                                      "controller", "--trace", "-", "--ota-root", str(root), *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        self.records = []
        self._lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def started(self) -> list[str]:
        return [r.get("version") for r in self.of_kind("controller.started")]


@pytest.fixture
def world(tmp_path):
    world = CloudWorld(tmp_path, controller_args=("--sync-every", "2"))
    yield world
    world.stop()


class Dashboard:
    """A user queueing updateApplication jobs, and the outcome the cloud records."""

    def __init__(self, world: CloudWorld):
        self.world = world
        self.client, self.csrf = world.session()

    def update(self, version: str, url: str, sha256: str, signature: str | None, **extra) -> str:
        document = {"operation": "updateApplication", "version": version, "url": url, "sha256": sha256, **extra}
        if signature is not None:
            document["signature"] = signature
        made = self.client.post("/api/devices/pi/jobs", headers={"X-CSRF-Token": self.csrf}, json=document)
        assert made.status_code == 201, made.text
        return made.json()["id"]

    def final(self, job_id: str, status: str) -> dict:
        """The job's details once the cloud recorded ``status``."""
        self.world.seen("job.updated", job=job_id, status=status)
        return next(j for j in self.client.get("/api/devices/pi/jobs").json()["jobs"] if j["id"] == job_id)["details"]


def _signature_failures(wheels) -> list[tuple[str, dict, str]]:
    """(what, job fields, the reason it must fail with): each way an update may not install."""
    url, digest, signature, data = wheels["0.2.0"]
    corrupt = base64.b64encode(bytes([base64.b64decode(signature)[0] ^ 1]) + base64.b64decode(signature)[1:]).decode()
    old_url, old_digest, old_signature, _ = wheels["0.0.9"]
    return [
        ("bad hash", dict(version="0.2.0", url=url, sha256="0" * 64, signature=signature), "bad_hash"),
        ("unsigned", dict(version="0.2.0", url=url, sha256=digest, signature=None), "unsigned"),
        ("corrupt signature", dict(version="0.2.0", url=url, sha256=digest, signature=corrupt), "bad_signature"),
        ("another key", dict(version="0.2.0", url=url, sha256=digest,
                             signature=base64.b64encode(STRANGER.sign(data)).decode()), "bad_signature"),
        ("downgrade", dict(version="0.0.9", url=old_url, sha256=old_digest, signature=old_signature), "downgrade"),
        ("an old signed wheel under a new number", dict(version="0.5.0", url=old_url, sha256=old_digest,
                                                        signature=old_signature), "version_mismatch"),
    ]


def test_signed_update_installs_each_bad_one_fails_broken_one_rolls_back(world, wheels, release, tmp_path):
    root = tmp_path / "ota"
    world.controller = ctl = Supervised(root, *world.controller_args, "--update-key", str(release[1]))
    ctl.until(lambda r: any(x["kind"] == "jobs.connected" for x in r), "controller up")
    user = Dashboard(world)

    for what, fields, reason in _signature_failures(wheels):
        details = user.final(user.update(**fields), "FAILED")
        assert (details["reason"], details["version"]) == (reason, "0.1.0"), what
        assert ctl.started() == ["0.1.0"], what  # never restarted
        assert not (root / "versions").exists() or not any((root / "versions").iterdir()), what  # nothing installed

    url, digest, signature, _ = wheels["0.2.0"]
    good = user.update("0.2.0", url, digest, signature)
    details = user.final(good, "SUCCEEDED")
    assert details["version"] == "0.2.0" and details["previous"] == "base"  # the installed package, not an update
    ctl.until(lambda r: len([x for x in r if x["kind"] == "controller.started"]) == 2, "the new version started")
    assert ctl.started() == ["0.1.0", "0.2.0"]
    assert [r["hilsim"] for r in ctl.of_kind("trace.header")] == ["0.1.0", "0.2.0"]
    assert (root / "current").resolve().name == "0.2.0"

    url3, digest3, signature3, _ = wheels["0.3.0"]
    broken = user.update("0.3.0", url3, digest3, signature3)
    details = user.final(broken, "FAILED")
    assert details["reason"] == "new_version_failed" and details["version"] == "0.2.0"  # reported by the old one
    assert (root / "current").resolve().name == "0.2.0"
    # The old version settles the record after it reported: wait for that, then read it.
    ctl.until(lambda r: any(x["kind"] == "ota.settled" and x.get("job") == broken for x in r),
              "the failed update settled by the old version")
    assert json.loads((root / "last-update.json").read_text())["version"] == "0.3.0"


def test_without_an_update_key_a_signed_update_is_refused(world, wheels, tmp_path):
    root = tmp_path / "ota"
    world.controller = ctl = Supervised(root, *world.controller_args)
    ctl.until(lambda r: any(x["kind"] == "jobs.connected" for x in r), "controller up")
    user = Dashboard(world)
    url, digest, signature, _ = wheels["0.2.0"]
    details = user.final(user.update("0.2.0", url, digest, signature), "FAILED")
    assert details["reason"] == "no_update_key" and "no update key is configured" in details["detail"]
    assert ctl.started() == ["0.1.0"] and not (root / "versions").exists()
