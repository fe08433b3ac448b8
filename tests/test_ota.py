"""The update steps (``system/services/updater.py``): each failure leaves the running version and says why.

Signatures here are made with ``cryptography`` directly from fixed key bytes, and the package's SHA-256 is
written out: the expected values never come from the code under test.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import zipfile

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sim.kernel.runtime import SimRuntime
from system.adapters.controller_store import Store
from system.services.job_agent import JobAgent
from system.services.updater import Updater

TRUSTED = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
STRANGER = Ed25519PrivateKey.from_private_bytes(bytes(range(32, 64)))


def wheel(version: str) -> bytes:
    """A wheel of ``version`` as far as an update looks into it: its metadata."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as made:
        # A fixed date: the same bytes on every call (the signature and hash are taken from one, served another).
        made.writestr(zipfile.ZipInfo(f"hilsim-{version}.dist-info/METADATA", date_time=(2026, 1, 1, 0, 0, 0)),
                      f"Metadata-Version: 2.1\nName: hilsim\nVersion: {version}\n")
    return out.getvalue()


PACKAGE = wheel("0.2.0")
GOOD = hashlib.sha256(PACKAGE).hexdigest()
SIGNED = base64.b64encode(TRUSTED.sign(PACKAGE)).decode()
URL = "http://x/hilsim-0.2.0.whl"


def flipped(text: str, at: int) -> str:
    """``text`` with the character at ``at`` changed (hex or base64 alike)."""
    return text[:at] + ("1" if text[at] != "1" else "2") + text[at + 1:]


class Installer:
    def __init__(self, fail: bool = False):
        self.fail = fail
        self.installed: list[tuple[str, str, bytes]] = []

    async def install(self, job_id, version, package, filename):
        if self.fail:
            raise OSError("disk full")
        self.installed.append((job_id, version, package))


def updater(handler, installer, *, key=TRUSTED.public_key(), running="0.1.0"):
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return Updater(SimRuntime(seed=1), client, installer, running, key)


def serve(request):
    """``/hilsim-V.whl``: a wheel of V; ``/text-V.whl``: not a wheel at all."""
    name = request.url.path.rsplit("/", 1)[-1]
    if name.startswith("hilsim-"):
        return httpx.Response(200, content=wheel(name[len("hilsim-"):-len(".whl")]))
    if name.startswith("text-"):
        return httpx.Response(200, content=b"hilsim " + name.encode())
    return httpx.Response(404)


def job(version: str = "0.2.0", *, served: str | None = None, **changes) -> dict:
    """A job for ``version`` whose URL serves ``served`` (default: a wheel of ``version``), signed and hashed."""
    served = served or f"hilsim-{version}.whl"
    package = serve(httpx.Request("GET", f"http://x/{served}")).content
    return {"version": version, "url": f"http://x/{served}", "sha256": hashlib.sha256(package).hexdigest(),
            "signature": base64.b64encode(TRUSTED.sign(package)).decode(), **changes}


def run(fields: dict, installer: Installer, **kwargs) -> tuple[str, dict]:
    return asyncio.run(updater(serve, installer, **kwargs).update("j1", fields))


@pytest.mark.parametrize("fields, fail, reason", [
    (job(sha256="0" * 64), False, "bad_hash"),
    (job(url="http://x/missing.whl"), False, "download_failed"),
    (job(), True, "install_failed"),
])
def test_failures_install_nothing_and_name_the_reason(fields, fail, reason):
    installer = Installer(fail=fail)
    status, details = run(fields, installer)
    assert (status, details["reason"], details["version"]) == ("FAILED", reason, "0.1.0")
    assert installer.installed == []


@pytest.mark.parametrize("at", [8, 9, 32, 63])
def test_the_hash_is_compared_in_full_not_by_a_prefix(at):
    """Rule: the whole SHA-256 must match; one hex digit off after the 8th is a bad hash like any other."""
    installer = Installer()
    status, details = run(job(sha256=flipped(GOOD, at)), installer)
    assert (status, details.get("reason")) == ("FAILED", "bad_hash")
    assert installer.installed == []


@pytest.mark.parametrize("changes, reason", [
    ({"signature": None}, "unsigned"),
    ({"signature": ""}, "unsigned"),
    ({"signature": flipped(SIGNED, 10)}, "bad_signature"),  # a corrupted signature
    ({"signature": base64.b64encode(TRUSTED.sign(PACKAGE + b"x")).decode()}, "bad_signature"),  # over other bytes
    ({"signature": base64.b64encode(STRANGER.sign(PACKAGE)).decode()}, "bad_signature"),  # by another key
    ({"signature": "not base64!"}, "bad_signature"),
    ({"version": "0.0.9"}, "downgrade"),
    ({"version": "0.1.0rc1"}, "downgrade"),  # a pre-release of the running version is older
    ({"version": "0.1.0", "signature": None}, "unsigned"),  # checked before "already running"
    ({"version": "banana"}, "bad_version"),
])
def test_an_update_not_signed_by_the_trusted_key_or_older_fails_and_installs_nothing(changes, reason):
    installer = Installer()
    fields = {k: v for k, v in job(**changes).items() if v is not None}
    status, details = run(fields, installer)
    assert (status, details["reason"], details["version"]) == ("FAILED", reason, "0.1.0")
    assert installer.installed == []


def test_a_controller_without_an_update_key_refuses_every_update():
    installer = Installer()
    status, details = run(job(), installer, key=None)
    assert (status, details["reason"]) == ("FAILED", "no_update_key")
    assert "no update key is configured" in details["detail"] and installer.installed == []


@pytest.mark.parametrize("target, running", [("0.1.5", "0.2.0"), ("0.2.0", "0.10.0"), ("1.0.0", "1.0.1")])
def test_a_downgrade_installs_only_when_the_job_allows_it(target, running):
    refused, allowed = Installer(), Installer()
    assert run(job(version=target), refused, running=running)[1]["reason"] == "downgrade"
    status, _ = run(job(version=target, allow_downgrade=True), allowed, running=running)
    assert status == "IN_PROGRESS" and allowed.installed == [("j1", target, wheel(target))] and refused.installed == []


@pytest.mark.parametrize("target, running", [("0.10.0", "0.9.0"), ("1.0.0", "1.0.0rc2"), ("0.2.0", "0.1.0")])
def test_a_newer_version_by_version_order_not_text_order_installs(target, running):
    installer = Installer()
    status, details = run(job(version=target), installer, running=running)
    assert (status, details) == ("IN_PROGRESS", {"step": "restarting", "version": target})


@pytest.mark.parametrize("version, served", [("0.5.0", "hilsim-0.0.9.whl"), ("0.2.0", "hilsim-0.2.1.whl"),
                                             ("0.2.0", "text-0.2.0.whl")])
def test_a_signed_package_of_another_version_than_the_job_names_fails(version, served):
    """Rule: an old signed wheel sent again under a new number would pass the downgrade rule; its own metadata
    must name the job's version."""
    installer = Installer()
    status, details = run(job(version, served=served), installer)
    assert (status, details["reason"]) == ("FAILED", "version_mismatch") and installer.installed == []


def test_a_verified_package_is_installed_and_the_restart_announced():
    installer = Installer()
    status, details = run(job(), installer)
    assert (status, details) == ("IN_PROGRESS", {"step": "restarting", "version": "0.2.0"})
    assert installer.installed == [("j1", "0.2.0", PACKAGE)]


def test_the_running_version_is_not_installed_again():
    installer = Installer()
    status, _ = run(job(version="0.1.0"), installer)
    assert status == "SUCCEEDED" and installer.installed == []


def test_an_update_delivered_again_is_never_installed_twice():
    """Rule (the job agent's "already seen" guard): an updateApplication job id is recorded before it installs,
    and the same id handed out again (its report was lost) installs nothing and restarts nothing."""
    rt = SimRuntime(seed=1, start=1_800_000_000.0)
    installer = Installer()
    agent = JobAgent(rt, None, "pi", Store(":memory:"), None, updater=updater(serve, installer))
    execution = {"jobId": "pi-upd-1", "versionNumber": 1,
                 "jobDocument": {"operation": "updateApplication", "version": "0.2.0", "url": URL, "sha256": GOOD,
                                 "signature": SIGNED}}
    first = asyncio.run(agent.run_job(execution))
    again = asyncio.run(agent.run_job(execution))
    assert first == ("IN_PROGRESS", {"step": "restarting", "version": "0.2.0"}, True)
    assert again[2] is False  # no second restart
    assert installer.installed == [("pi-upd-1", "0.2.0", PACKAGE)]
