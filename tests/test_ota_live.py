"""Over-the-air update of a live controller (``system/services/updater.py``, ``system/adapters/ota_supervisor.py``) with real
processes: ``hilsim supervise`` runs ``hilsim controller``; wheels of hilsim itself are built here, with a
new version number, and served over HTTP.

- a bad hash: FAILED with the reason, the old version keeps running (no restart);
- a good wheel: the controller restarts into it and the *new* version reports SUCCEEDED;
- a wheel whose version cannot start: the supervisor puts the old version back, which reports FAILED.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import queue
import shutil
import subprocess
import sys
import threading

import pytest

from cloud_world import CloudWorld
from processes import ROOT, TracedProcess

pytestmark = [pytest.mark.live, pytest.mark.slow]


def build_wheel(tmp_path, version: str, *, broken: bool = False):
    """A wheel of this checkout with ``version`` (broken: its command line dies at import)."""
    src = tmp_path / f"src-{version}"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".git", "tests", "runs", "test-artifacts", "*.egg-info",
                                                             "__pycache__", ".hypothesis", "build", "bench"))
    (src / "pyproject.toml").write_text((src / "pyproject.toml").read_text().replace(
        'version = "0.1.0"', f'version = "{version}"'))
    trace = src / "system" / "trace.py"
    trace.write_text(trace.read_text().replace('VERSION = "0.1.0"', f'VERSION = "{version}"'))
    if broken:
        cli = src / "hilsim" / "cli.py"
        cli.write_text(cli.read_text() + '\nraise SystemExit("this version cannot start")\n')
    out = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--wheel-dir", str(out), str(src)], check=True, capture_output=True, timeout=300)
    wheel = next(out.glob(f"hilsim-{version}-*.whl"))
    return wheel, hashlib.sha256(wheel.read_bytes()).hexdigest()


@pytest.fixture
def wheels(tmp_path):
    found = {v: build_wheel(tmp_path, v, broken=(v == "0.3.0")) for v in ("0.2.0", "0.3.0")}
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "wheels"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    yield {v: (f"{base}/{wheel.name}", digest) for v, (wheel, digest) in found.items()}
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


@pytest.fixture
def world(tmp_path):
    world = CloudWorld(tmp_path, controller_args=("--sync-every", "2"))
    yield world
    world.stop()


def test_bad_hash_fails_good_wheel_succeeds_from_the_new_version_broken_one_rolls_back(world, wheels, tmp_path):
    root = tmp_path / "ota"
    world.controller = ctl = Supervised(root, *world.controller_args)
    ctl.until(lambda r: any(x["kind"] == "jobs.connected" for x in r), "controller up")
    client, csrf = world.session()

    def job(version: str, url: str, sha256: str) -> str:
        made = client.post("/api/devices/pi/jobs", headers={"X-CSRF-Token": csrf},
                           json={"operation": "updateApplication", "version": version, "url": url, "sha256": sha256})
        assert made.status_code == 201, made.text
        return made.json()["id"]

    def final(job_id: str, status: str) -> dict:
        world.seen("job.updated", job=job_id, status=status)
        return client.get("/api/devices/pi/jobs").json()["jobs"]

    url, digest = wheels["0.2.0"]
    bad = job("0.2.0", url, "0" * 64)
    jobs = final(bad, "FAILED")
    assert next(j for j in jobs if j["id"] == bad)["details"]["reason"] == "bad_hash"
    assert [r.get("version") for r in ctl.of_kind("controller.started")] == ["0.1.0"]  # never restarted

    good = job("0.2.0", url, digest)
    jobs = final(good, "SUCCEEDED")
    details = next(j for j in jobs if j["id"] == good)["details"]
    assert details["version"] == "0.2.0" and details["previous"] == "base"  # the installed package, not an update
    ctl.until(lambda r: len([x for x in r if x["kind"] == "controller.started"]) == 2, "the new version started")
    assert [r["version"] for r in ctl.of_kind("controller.started")] == ["0.1.0", "0.2.0"]
    assert [r["hilsim"] for r in ctl.of_kind("trace.header")] == ["0.1.0", "0.2.0"]
    assert (root / "current").resolve().name == "0.2.0"

    url3, digest3 = wheels["0.3.0"]
    broken = job("0.3.0", url3, digest3)
    jobs = final(broken, "FAILED")
    details = next(j for j in jobs if j["id"] == broken)["details"]
    assert details["reason"] == "new_version_failed" and details["version"] == "0.2.0"  # reported by the old one
    assert (root / "current").resolve().name == "0.2.0"
    assert json.loads((root / "last-update.json").read_text())["version"] == "0.3.0"
