"""Attacks on a real ``hilsim cloud`` process on loopback: a cookie replayed after logout, a lock-out tried
through forged ``X-Forwarded-For``, deep JSON, a login flood with ``/healthz`` watched, the MQTT password
looked for in stderr and the trace, cookies and HSTS over TLS.

Loopback has a whole /8: the attacker connects from 127.0.0.2, the owner from 127.0.0.3, so each is its own
client address as it would be on a network.
"""

from __future__ import annotations

import re
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from certificates import make_certificates
from cloud_world import PASSWORD, CloudWorld, hilsim
from processes import TracedProcess, free_port

pytestmark = pytest.mark.live

ATTACKER, OWNER = "127.0.0.2", "127.0.0.3"


class Cloud:
    """``hilsim cloud`` alone (no broker), with the user ann (default Argon2 costs) and the device pi."""

    def __init__(self, tmp_path, *args: str, scheme: str = "http"):
        db = str(tmp_path / "cloud.sqlite")
        hilsim("cloud", "--db", db, "--add-user", "ann", stdin=PASSWORD + "\n")
        self.token = hilsim("cloud", "--db", db, "--add-device", "pi").strip()
        port = free_port()
        self.url = f"{scheme}://127.0.0.1:{port}"
        self.proc = TracedProcess("cloud", "--db", db, "--port", str(port), *args)
        self.proc.until(lambda r: any(x["kind"] == "cloud.started" for x in r), "cloud started")

    def client(self, source: str = OWNER, **kwargs) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30.0,
                            transport=httpx.HTTPTransport(local_address=source, verify=kwargs.pop("verify", True)),
                            **kwargs)


def log_in(client: httpx.Client, user: str = "ann", password: str = PASSWORD) -> httpx.Response:
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    return client.post("/login", data={"csrf": csrf, "username": user, "password": password})


@pytest.fixture
def cloud(tmp_path):
    cloud = Cloud(tmp_path, "--insecure-cookies")
    yield cloud
    cloud.proc.stop()


def test_a_cookie_kept_from_before_logout_is_refused(cloud):
    with cloud.client() as owner:
        assert log_in(owner).status_code == 303
        kept = dict(owner.cookies)
        csrf = owner.get("/api/me").json()["csrf"]
        assert owner.post("/logout", data={"csrf": csrf}).status_code == 303
    with cloud.client(ATTACKER, cookies=kept) as attacker:
        assert attacker.get("/api/me").status_code == 401
        assert attacker.get("/api/devices").status_code == 401


def test_forged_x_forwarded_for_cannot_lock_the_owner_out(cloud):
    heard = limited = 0
    with cloud.client(ATTACKER) as attacker:
        for i in range(30):
            attacker.headers["X-Forwarded-For"] = f"198.51.100.{i}"  # a new "address" every try
            status = log_in(attacker, password=f"guess {i}").status_code
            heard += status == 303
            limited += status == 429
    assert heard <= 6 and limited >= 24, (heard, limited)  # 5 free tries, then 1 s, 2 s, ... between tries
    with cloud.client(OWNER) as owner:
        assert log_in(owner).status_code == 303 and owner.get("/api/me").json()["user"] == "ann"


@pytest.mark.parametrize("depth", [1000, 50_000])
def test_deep_json_is_a_400(cloud, depth):
    body = ("[" * depth + "]" * depth).encode()
    with cloud.client() as device:
        response = device.post("/api/device/pi/sync", content=body, headers={"Authorization": f"Bearer {cloud.token}"})
    assert response.status_code == 400 and response.json()["error"] == "too_deep"
    with cloud.client() as owner:
        log_in(owner)
        csrf = owner.get("/api/me").json()["csrf"]
        response = owner.post("/api/devices/pi/jobs", content=body, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 400
    assert cloud.proc.proc.poll() is None


@pytest.mark.serial  # its bound is wall-clock latency: it runs alone, after the parallel run
def test_healthz_answers_quickly_during_a_login_flood(cloud):
    with cloud.client() as probe:
        baseline = [_timed(probe) for _ in range(20)]
    flood_done = threading.Event()
    during: list[tuple[int, float]] = []

    def watch():
        with cloud.client() as probe:
            while not flood_done.is_set():
                during.append(_timed(probe))

    def attempt(i: int) -> int:
        # A new user name each time: every try is heard and costs a full Argon2 check (unknown users too).
        with cloud.client(ATTACKER) as c:
            return log_in(c, user=f"user{i}", password="wrong password").status_code

    watcher = threading.Thread(target=watch)
    watcher.start()
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(attempt, range(60)))
    flood_seconds = time.monotonic() - started
    flood_done.set()
    watcher.join()
    latencies = [ms for status, ms in during]
    figures = (f"healthz alone: median {statistics.median(ms for _, ms in baseline):.1f} ms; during 60 logins "
               f"({flood_seconds:.1f} s): {len(during)} answers, median {statistics.median(latencies):.1f} ms, "
               f"max {max(latencies):.1f} ms")
    print(figures)
    assert answers == [303] * 60  # every login was heard and refused (none 503: 8 at once fit the pool)
    assert len(during) >= 10 and all(status == 200 for status, _ in during), figures
    assert max(latencies) < 250 and statistics.median(latencies) < 50, figures


def _timed(client: httpx.Client) -> tuple[int, float]:
    started = time.perf_counter()
    status = client.get("/healthz").status_code
    return status, (time.perf_counter() - started) * 1000


def test_cookies_are_secure_by_default_and_hsts_is_sent_over_tls(tmp_path):
    certs = make_certificates(tmp_path)
    cloud = Cloud(tmp_path, "--tls-cert", str(certs["server"]), "--tls-key", str(certs["server_key"]),
                  scheme="https")
    try:
        with cloud.client(verify=str(certs["ca"])) as owner:
            page = owner.get("/login")
            assert "; secure" in page.headers["set-cookie"].lower()
            assert page.headers["strict-transport-security"].startswith("max-age=")
            assert log_in(owner).status_code == 303 and owner.get("/api/me").status_code == 200
    finally:
        cloud.proc.stop()


def test_the_mqtt_password_reaches_neither_stderr_nor_the_trace(tmp_path):
    world = CloudWorld(tmp_path)
    try:
        started = world.cloud.of_kind("cloud.started")[0]
    finally:
        world.stop()
    stderr = world.cloud.proc.stderr.read()
    assert "mqtt-secret" not in stderr and "mqtt-secret" not in repr(world.cloud.records)
    assert started["mqtt"].startswith("mqtt://cloud:***@127.0.0.1:")
