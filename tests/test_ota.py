"""The update steps (``system/services/updater.py``): each failure leaves the running version and says why."""

from __future__ import annotations

import asyncio
import hashlib

import httpx
import pytest

from sim.kernel.runtime import SimRuntime
from system.services.updater import Updater

PACKAGE = b"PK\x03\x04 pretend wheel"
GOOD = hashlib.sha256(PACKAGE).hexdigest()


class Installer:
    def __init__(self, fail: bool = False):
        self.fail = fail
        self.installed: list[tuple[str, str, bytes]] = []

    async def install(self, job_id, version, package, filename):
        if self.fail:
            raise OSError("disk full")
        self.installed.append((job_id, version, package))


def updater(handler, installer):
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return Updater(SimRuntime(seed=1), client, installer, "0.1.0")


def serve(request):
    if request.url.path.endswith("missing.whl"):
        return httpx.Response(404)
    return httpx.Response(200, content=PACKAGE)


@pytest.mark.parametrize("url, sha256, fail, reason", [
    ("http://x/hilsim-0.2.0.whl", "0" * 64, False, "bad_hash"),
    ("http://x/missing.whl", GOOD, False, "download_failed"),
    ("http://x/hilsim-0.2.0.whl", GOOD, True, "install_failed"),
])
def test_failures_install_nothing_and_name_the_reason(url, sha256, fail, reason):
    installer = Installer(fail=fail)
    status, details = asyncio.run(updater(serve, installer).update("j1", {"version": "0.2.0", "url": url,
                                                                         "sha256": sha256}))
    assert (status, details["reason"], details["version"]) == ("FAILED", reason, "0.1.0")
    assert installer.installed == []


def test_a_verified_package_is_installed_and_the_restart_announced():
    installer = Installer()
    status, details = asyncio.run(updater(serve, installer).update(
        "j1", {"version": "0.2.0", "url": "http://x/hilsim-0.2.0.whl", "sha256": GOOD}))
    assert (status, details) == ("IN_PROGRESS", {"step": "restarting", "version": "0.2.0"})
    assert installer.installed == [("j1", "0.2.0", PACKAGE)]


def test_the_running_version_is_not_installed_again():
    installer = Installer()
    status, _ = asyncio.run(updater(serve, installer).update(
        "j1", {"version": "0.1.0", "url": "http://x/a.whl", "sha256": GOOD}))
    assert status == "SUCCEEDED" and installer.installed == []
