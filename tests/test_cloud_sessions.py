"""Sessions a user can trust (``system/cloud/auth.py``, ``system/adapters/cloud_sessions.py``, ``system/cloud/app.py``):
server-side records that logout, a new password and a removed user end; login rotates the session and the CSRF
token; the signing key in a 0600 file beside a 0600 database; security headers on every response; a login delay
per (user, address) that an attacker elsewhere can't turn into a lock-out; deep JSON refused with 400.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import sqlite3
import stat
import threading

import httpx
import pytest

from cloud_fixtures import PASSWORD, logged_in, login, make_cloud
from system.adapters.cloud_store import CloudStore
from system.adapters import passwords
from system.adapters.passwords import Busy, PasswordPool, hash_password
from system.cloud.auth import LoginThrottle

# The headers every response carries, written out here (not read from the app's own table).
EXPECTED_HEADERS = {"x-frame-options": "DENY", "x-content-type-options": "nosniff", "referrer-policy": "no-referrer"}


def _client(cloud, address="10.0.0.9", base="http://cloud", headers=None):
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=cloud.app, client=(address, 1234)), base_url=base,
                             headers=headers or {})


def test_a_cookie_saved_before_logout_is_refused_after_it(cloud):
    async def go():
        client, csrf = await logged_in(cloud)
        saved = dict(client.cookies)
        await client.post("/logout", data={"csrf": csrf})
        replay = cloud.client()
        replay.cookies.update(saved)  # the attacker kept a copy of the cookie
        return (await replay.get("/api/me")).status_code, (await replay.get("/")).status_code
    assert cloud.run(go()) == (401, 303)


def test_login_rotates_the_session_and_the_csrf_token(cloud):
    async def go():
        client, first_csrf = await logged_in(cloud)
        first_cookie = client.cookies["session"]
        await login(client)  # logging in again on the same browser
        second = (await client.get("/api/me")).json()["csrf"]
        old = cloud.client()
        old.cookies.set("session", first_cookie)
        return first_csrf, second, first_cookie != client.cookies["session"], (await old.get("/api/me")).status_code
    first_csrf, second_csrf, new_cookie, old_status = cloud.run(go())
    assert first_csrf != second_csrf and new_cookie and old_status == 401


def test_a_cookie_fixed_before_login_is_not_the_session_after_it(cloud):
    async def go():
        async with cloud.client() as c:
            await c.get("/login")
            before = c.cookies["session"]
            await login(c)
            return before != c.cookies["session"], (await c.get("/api/me")).status_code
    assert cloud.run(go()) == (True, 200)


def test_a_new_password_ends_every_session_of_the_user(cloud):
    async def go():
        client, _ = await logged_in(cloud)
        before = (await client.get("/api/me")).status_code
        cloud.store.add_user("ann", "a brand new password", time_cost=1, memory_cost=1024)
        return before, (await client.get("/api/me")).status_code
    assert cloud.run(go()) == (200, 401)


def test_a_session_whose_user_no_longer_exists_is_refused(cloud):
    async def go():
        client, csrf = await logged_in(cloud)
        cloud.store.db.execute("DELETE FROM users WHERE name = 'ann'")  # gone behind the app's back
        me = (await client.get("/api/me")).status_code
        job = await client.post("/api/devices/pi/jobs", json={"operation": "snoozeAlert", "local_alert_id": 1},
                                headers={"X-CSRF-Token": csrf})
        return me, job.status_code
    assert cloud.run(go()) == (401, 401)


def test_the_store_keeps_no_session_id_and_no_signing_key(tmp_path):
    db = tmp_path / "cloud.sqlite"
    store = CloudStore(str(db))
    store.add_user("ann", PASSWORD, time_cost=1, memory_cost=1024)
    key = store.secret("session")
    sid, _ = store.sessions.open("ann", 0.0, 3600)
    store.close()
    dump = "\n".join(sqlite3.connect(db).iterdump())
    assert key not in dump and sid not in dump
    assert (tmp_path / "cloud.sqlite.session.key").read_text().strip() == key


def test_the_database_and_the_key_file_are_created_0600(tmp_path):
    old = os.umask(0o022)
    try:
        store = CloudStore(str(tmp_path / "cloud.sqlite"))
        store.secret("session")
        store.add_user("ann", PASSWORD, time_cost=1, memory_cost=1024)  # writes: the WAL file exists now
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
        store.close()
    finally:
        os.umask(old)
    assert modes["cloud.sqlite"] == 0o600 and modes["cloud.sqlite.session.key"] == 0o600
    assert all(mode == 0o600 for mode in modes.values()), modes


def test_an_old_world_readable_database_is_tightened_and_its_key_row_dropped(tmp_path):
    db = tmp_path / "cloud.sqlite"
    old = sqlite3.connect(db)
    old.executescript("CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);"
                      "INSERT INTO settings VALUES ('session', 'the-old-key-kept-in-the-database');")
    old.close()
    os.chmod(db, 0o644)
    store = CloudStore(str(db))
    assert store.secret("session") != "the-old-key-kept-in-the-database"
    assert store.db.execute("SELECT count(*) FROM settings WHERE name = 'session'").fetchone() == (0,)
    store.close()
    assert stat.S_IMODE(db.stat().st_mode) == 0o600


@pytest.mark.parametrize("path", ["/login", "/healthz", "/static/dashboard.js", "/api/me", "/no/such/page",
                                  "/openapi.json"])
def test_every_response_carries_the_security_headers(cloud, path):
    async def go():
        async with cloud.client() as c:
            return await c.get(path)
    response = cloud.run(go())
    for name, value in EXPECTED_HEADERS.items():
        assert response.headers.get(name) == value, (path, name)
    policy = response.headers["content-security-policy"]
    directives = {d.split()[0]: d.split()[1:] for d in policy.split(";") if d.strip()}
    assert directives["script-src"] == ["'self'"] and "'unsafe-inline'" not in policy
    assert directives["frame-ancestors"] == ["'none'"]
    assert "strict-transport-security" not in response.headers  # plain HTTP: no HSTS


def test_over_tls_the_cookie_is_secure_and_hsts_is_sent(cloud):
    async def go():
        async with _client(cloud, base="https://cloud") as c:
            return await c.get("/login")
    response = cloud.run(go())
    assert "; secure" in response.headers["set-cookie"].lower()
    assert response.headers["strict-transport-security"].startswith("max-age=")
    assert int(response.headers["strict-transport-security"].split("=")[1]) >= 180 * 86400


def test_https_is_believed_from_a_trusted_proxy_only(loop):
    cloud = make_cloud(loop, trusted_proxies=frozenset({"10.0.0.1"}))

    async def visit(address):
        async with _client(cloud, address=address, headers={"X-Forwarded-Proto": "https"}) as c:
            return await c.get("/login")
    proxied, forged = cloud.run(visit("10.0.0.1")), cloud.run(visit("10.0.0.66"))
    assert "strict-transport-security" in proxied.headers and "; secure" in proxied.headers["set-cookie"].lower()
    assert "strict-transport-security" not in forged.headers and "; secure" not in forged.headers["set-cookie"].lower()


def test_the_login_delay_doubles_per_user_and_address():
    clock = [1000.0]
    throttle = LoginThrottle(lambda: clock[0], free=3, base=2.0, cap=60.0)
    waits = []
    for _ in range(8):
        throttle.failed("ann", "10.0.0.66")
        waits.append(throttle.wait("ann", "10.0.0.66"))
    assert waits == [0.0, 0.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0]  # capped at 60
    assert throttle.wait("ann", "10.0.0.9") == 0.0 and throttle.wait("bob", "10.0.0.66") == 0.0
    clock[0] += 59.5
    assert throttle.wait("ann", "10.0.0.66") == pytest.approx(0.5)
    throttle.succeeded("ann", "10.0.0.66")
    assert throttle.wait("ann", "10.0.0.66") == 0.0


def test_an_attacker_cannot_lock_the_owner_out(loop):
    cloud = make_cloud(loop, login_delay=60.0)  # a delay no slow machine outlasts between two tries

    async def go():
        async with _client(cloud, address="203.0.113.66") as attacker:
            tries = [(await login(attacker, password=f"guess {i}")).status_code for i in range(12)]
        async with _client(cloud, address="10.0.0.9") as owner:
            return tries, (await login(owner)).status_code, (await owner.get("/api/me")).status_code
    tries, owner_login, owner_me = cloud.run(go())
    assert tries[:5] == [303] * 5 and 429 in tries[5:]
    assert (owner_login, owner_me) == (303, 200)


def test_a_forged_x_forwarded_for_is_ignored_unless_from_a_trusted_proxy(loop):
    cloud = make_cloud(loop, trusted_proxies=frozenset({"10.0.0.1"}), login_delay=60.0)

    async def go():
        # Rotating X-Forwarded-For from an untrusted peer: still one address, so the delay still applies.
        async with _client(cloud, address="203.0.113.66") as attacker:
            forged = []
            for i in range(10):
                attacker.headers["X-Forwarded-For"] = f"198.51.100.{i}"
                forged.append((await login(attacker, password="wrong")).status_code)
        # Behind the trusted proxy, each client is its own address: the owner's is not delayed by the attacker's.
        async with _client(cloud, address="10.0.0.1", headers={"X-Forwarded-For": "203.0.113.7"}) as via_proxy:
            attacker_via_proxy = [(await login(via_proxy, password="wrong")).status_code for _ in range(7)]
        async with _client(cloud, address="10.0.0.1", headers={"X-Forwarded-For": "192.0.2.10"}) as owner:
            return forged, attacker_via_proxy, (await login(owner)).status_code
    forged, via_proxy, owner = cloud.run(go())
    assert forged.count(303) == 5 and forged.count(429) == 5
    assert via_proxy[:5] == [303] * 5 and 429 in via_proxy[5:]
    assert owner == 303


@pytest.mark.parametrize("path", ["/api/device/pi/sync", "/api/device/pi/snapshot", "/api/device/pi/logs",
                                  "/api/devices/pi/jobs"])
@pytest.mark.parametrize("depth", [33, 1000, 50_000])
def test_deeply_nested_json_is_a_400(cloud, path, depth):
    async def go():
        client, csrf = await logged_in(cloud)
        headers = {"Authorization": f"Bearer {cloud.tokens['pi']}", "X-CSRF-Token": csrf}
        body = "[" * depth + "]" * depth if depth % 2 else '{"a":' * depth + "1" + "}" * depth
        before = cloud.fingerprint()
        response = await client.post(path, content=body.encode(), headers=headers)
        return response, before == cloud.fingerprint()
    response, unchanged = cloud.run(go())
    assert response.status_code == 400 and response.json()["error"] == "too_deep" and unchanged


def test_nesting_as_deep_as_a_real_document_is_accepted(cloud):
    async def go():
        headers = {"Authorization": f"Bearer {cloud.tokens['pi']}"}
        row = {"a": [[[[{"b": 1}]]]]}  # 5 deep inside {upto, rows: {table: {key: row}}}: 9 in all
        async with cloud.client() as c:
            return await c.post("/api/device/pi/snapshot", json={"upto": 1, "rows": {"t": {"k": row}}},
                                headers=headers)
    assert cloud.run(go()).status_code == 200


def test_password_checks_run_off_the_loop_with_bounded_concurrency(monkeypatch):
    digest = hash_password("right password", time_cost=1, memory_cost=1024)
    pool = PasswordPool(workers=2, waiting=1)
    threads: set[str] = set()
    real_verify = passwords.verify_password

    def recording(password, password_hash):
        threads.add(threading.current_thread().name)
        return real_verify(password, password_hash)
    monkeypatch.setattr(passwords, "verify_password", recording)

    async def go():
        return await asyncio.gather(*(pool.verify("right password", digest) for _ in range(3)))

    async def flood():
        # 3 slots (2 running, 1 waiting): the 4th and later callers at the same moment are told "busy" at once.
        outcomes = await asyncio.gather(*(pool.verify("wrong", digest) for _ in range(6)), return_exceptions=True)
        return [type(o).__name__ if isinstance(o, Exception) else o for o in outcomes]
    try:
        assert asyncio.run(go()) == [True, True, True]
        assert threads and all(name.startswith("argon2") for name in threads)  # never the event loop's thread
        assert asyncio.run(flood()) == [False, False, False, "Busy", "Busy", "Busy"]
    finally:
        pool.close()
    assert issubclass(Busy, Exception)


def test_a_busy_password_pool_answers_503_with_retry_after(loop):
    cloud = make_cloud(loop)

    async def always_busy(password, digest):
        raise Busy("full")
    cloud.app.state.cloud = dataclasses.replace(cloud.app.state.cloud, check_password=always_busy)

    async def go():
        async with cloud.client() as c:
            return await login(c)
    response = cloud.run(go())
    assert response.status_code == 503 and response.headers["retry-after"] == "1"
    assert json.loads(response.text)["error"] == "busy"
