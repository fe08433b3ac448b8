"""The cloud's HTTP face (``system/cloud/app.py`` and its handler modules): who may call what, sessions, CSRF,
login limits, refusals, and the dashboard's static files.

Every endpoint is found by walking ``/openapi.json``, so a new endpoint is checked without editing this file.
"""

from __future__ import annotations

import asyncio
import json
import re
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloud_fixtures import PASSWORD, logged_in, login, make_cloud
from job_documents import json_values, malformed_documents


def endpoints(cloud) -> list[tuple[str, str, str]]:
    """(method, path, security scheme) of every documented endpoint, path parameters filled in."""
    async def fetch():
        async with cloud.client() as c:
            return (await c.get("/openapi.json")).json()
    spec = cloud.run(fetch())
    job = cloud.store.create_job("pi", {"operation": "createEvent", "title": "x", "start": 1.0}, 0.0)
    found = []
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            schemes = [name for entry in op.get("security", []) for name in entry]
            found.append((method.upper(), path.replace("{device}", "pi").replace("{job_id}", job.id),
                          schemes[0] if schemes else "public"))
    return found


def test_openapi_lists_the_device_and_user_api(cloud):
    found = endpoints(cloud)
    schemes = {s for _, _, s in found}
    assert schemes == {"public", "device", "session"}
    assert ("POST", "/api/device/pi/sync", "device") in found
    assert ("POST", "/api/devices/pi/jobs", "session") in found
    assert ("GET", "/healthz", "public") in found


def _call(cloud, method, path, *, headers=None, cookies_from=None, body=b"{}"):
    async def go():
        client = cookies_from or cloud.client()
        return await client.request(method, path, headers=headers or {}, content=body if method == "POST" else None)
    return cloud.run(go())


def test_every_endpoint_refuses_missing_wrong_and_other_credentials_and_changes_nothing(cloud):
    user, csrf = cloud.run(logged_in(cloud))
    before = cloud.fingerprint()
    checked = 0
    for method, path, scheme in endpoints(cloud):
        if scheme == "public":
            continue
        before = cloud.fingerprint()
        assert _call(cloud, method, path).status_code == 401, (method, path, "no credentials")
        wrong = {"Authorization": "Bearer pi.not-the-token"}
        if scheme == "device":
            assert _call(cloud, method, path, headers=wrong).status_code == 401, (method, path)
            other = {"Authorization": f"Bearer {cloud.tokens['cam']}"}
            assert _call(cloud, method, path, headers=other).status_code == 403, (method, path, "other device")
            # a logged-in user, CSRF token and all, is still not a device
            assert _call(cloud, method, path, headers={"X-CSRF-Token": csrf},
                         cookies_from=user).status_code == 401, (method, path, "user as device")
        else:
            forged = cloud.client()
            forged.cookies.set("session", "eyJ1c2VyIjogImFubiJ9.forged.sig")
            assert _call(cloud, method, path, cookies_from=forged).status_code == 401, (method, path, "forged cookie")
            device = {"Authorization": f"Bearer {cloud.tokens['pi']}"}
            assert _call(cloud, method, path, headers=device).status_code == 403, (method, path, "device as user")
            if method == "POST":
                assert _call(cloud, method, path, cookies_from=user).status_code == 403, (method, path, "no CSRF")
                assert _call(cloud, method, path, cookies_from=user,
                             headers={"X-CSRF-Token": "x" + csrf}).status_code == 403, (method, path, "wrong CSRF")
        assert cloud.fingerprint() == before, (method, path)
        checked += 1
    assert checked >= 15


def test_session_cookie_is_httponly_and_samesite(cloud):
    response = cloud.run(login(cloud.client()))
    cookie = response.headers["set-cookie"].lower()
    assert response.status_code == 303 and "httponly" in cookie and "samesite=strict" in cookie
    secure = make_cloud(cloud.loop, secure_cookies=True)

    async def first_visit():
        async with secure.client() as c:
            return (await c.get("/login")).headers["set-cookie"].lower()
    assert "; secure" in cloud.run(first_visit())


def test_login_without_the_forms_csrf_token_is_refused(cloud):
    async def go():
        async with cloud.client() as c:
            await c.get("/login")  # a session with a CSRF token exists, but the form does not carry it
            refused = await c.post("/login", data={"username": "ann", "password": PASSWORD})
            return refused.status_code, (await c.get("/api/me")).status_code
    assert cloud.run(go()) == (403, 401)


def test_failed_logins_are_rate_limited_per_address_and_user(cloud):
    async def go():
        async with cloud.client() as c:
            codes = [(await login(c, password="wrong")).status_code for _ in range(5)]
            blocked = await login(c)  # even the right password waits now
            return codes, blocked
    codes, blocked = cloud.run(go())
    assert codes == [303] * 5
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0


def test_logout_needs_the_csrf_token_and_ends_the_session(cloud):
    async def go():
        client, csrf = await logged_in(cloud)
        refused = await client.post("/logout", data={})
        still = (await client.get("/api/me")).status_code
        await client.post("/logout", data={"csrf": csrf})
        return refused.status_code, still, (await client.get("/api/me")).status_code
    assert cloud.run(go()) == (403, 200, 401)


def test_a_user_queues_a_job_and_sees_it_pending_first(cloud):
    async def go():
        client, csrf = await logged_in(cloud)
        created = await client.post("/api/devices/pi/jobs", headers={"X-CSRF-Token": csrf},
                                    json={"operation": "snoozeAlert", "local_alert_id": "g/policy/14400"})
        listed = (await client.get("/api/devices/pi/jobs")).json()["jobs"]
        return created, listed
    created, listed = cloud.run(go())
    assert created.status_code == 201 and created.json()["status"] == "QUEUED"
    assert listed[0]["id"] == created.json()["id"] and listed[0]["history"][0]["status"] == "QUEUED"


def test_time_limit_rule_a_job_queued_on_the_dashboard_gets_the_clouds_configured_limit(loop):
    """Time limit rule, from the dashboard: a job a user queues gets the cloud's ``job_timeout`` (here 90 s,
    not the default), so it times out 90 s after the device starts it, not a second before."""
    cloud = make_cloud(loop, job_timeout=90.0)

    async def go():
        client, csrf = await logged_in(cloud)
        return await client.post("/api/devices/pi/jobs", headers={"X-CSRF-Token": csrf},
                                  json={"operation": "snoozeAlert", "local_alert_id": "g/policy/14400"})
    job = cloud.store.job(cloud.run(go()).json()["id"])
    assert job.timeout == 90.0
    started = job.created + 5.0
    cloud.store.start_next("pi", started)
    assert cloud.store.time_out(started + 89.0) == []
    assert [j.id for j in cloud.store.time_out(started + 90.0)] == [job.id]


def test_unknown_device_is_404(cloud):
    async def go():
        client, _ = await logged_in(cloud)
        return (await client.get("/api/devices/nope/jobs")).status_code
    assert cloud.run(go()) == 404


def test_metrics_in_prometheus_text_are_kept_and_garbage_refused(cloud):
    auth = {"Authorization": f"Bearer {cloud.tokens['pi']}"}
    ok = _call(cloud, "POST", "/api/device/pi/metrics", headers=auth,
               body=b"# TYPE events_added gauge\nevents_added 2\nRPI_BACKEND_STATUS 1\n")
    assert ok.status_code == 200
    assert cloud.store.last_heartbeat("pi") is not None
    bad = _call(cloud, "POST", "/api/device/pi/metrics", headers=auth, body=b"this is { not prometheus")
    assert bad.status_code == 400 and bad.json()["error"] == "bad_exposition"


# -- 1,000 malformed bodies: each refused with a reason, none changes anything ---------------------------

DEVICE_PATHS = ["/api/device/pi/sync", "/api/device/pi/snapshot", "/api/device/pi/logs"]

malformed_sync = st.one_of(
    json_values,
    st.fixed_dictionaries({"base": json_values, "last": json_values, "changes": json_values}),
    st.fixed_dictionaries({"base": st.just(0), "last": st.just(1), "changes": st.lists(
        st.one_of(json_values, st.fixed_dictionaries({"id": st.one_of(st.integers(max_value=0), st.text(), st.none()),
                                                      "table": json_values, "key": json_values})),
        min_size=1, max_size=3)}),
)
raw_bodies = st.one_of(st.binary(max_size=40), st.text(max_size=40).map(str.encode))


@pytest.mark.slow
@settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
@given(target=st.sampled_from(["job"] * 3 + DEVICE_PATHS), doc=malformed_documents, sync=malformed_sync,
       raw=raw_bodies, as_raw=st.booleans())
def test_malformed_bodies_are_refused_with_reasons_and_change_nothing(target, doc, sync, raw, as_raw):
    loop = asyncio.new_event_loop()
    try:
        cloud = make_cloud(loop)
        client, csrf = cloud.run(logged_in(cloud))
        before = cloud.fingerprint()
        if target == "job":
            path, headers, body = "/api/devices/pi/jobs", {"X-CSRF-Token": csrf}, json.dumps(doc).encode()
        else:
            path, headers, body = target, {"Authorization": f"Bearer {cloud.tokens['pi']}"}, json.dumps(sync).encode()
            client = cloud.client()
        if as_raw:
            body = raw
        response = _call(cloud, "POST", path, headers=headers, cookies_from=client, body=body)
        if response.status_code == 200:
            # a raw or generated body that happens to be a well-formed empty batch: harmless, and it said so
            assert path.endswith("/sync") and response.json()["applied"] == 0
            return
        assert response.status_code in (400, 409, 413), (path, body, response.text)
        refusal = response.json()
        assert refusal.get("error") or refusal.get("resync")
        if response.status_code != 409:
            assert cloud.fingerprint() == before
    finally:
        loop.close()


# -- the dashboard: static files, no inline script ----------------------------------------------------

def test_the_dashboard_is_static_files_for_a_logged_in_user_only(cloud):
    async def go():
        async with cloud.client() as anonymous:
            redirected = await anonymous.get("/")
        client, _ = await logged_in(cloud)
        page = await client.get("/")
        files = {name: await client.get(f"/static/{name}") for name in ("dashboard.js", "dashboard.css")}
        return redirected, page, files
    redirected, page, files = cloud.run(go())
    assert redirected.status_code == 303 and redirected.headers["location"] == "/login"
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert files["dashboard.js"].status_code == 200 and "javascript" in files["dashboard.js"].headers["content-type"]
    assert files["dashboard.css"].headers["content-type"].startswith("text/css")
    assert 'src="/static/dashboard.js"' in page.text and 'href="/static/dashboard.css"' in page.text


def test_no_page_holds_inline_script_or_style(cloud):
    """What a Content-Security-Policy of 'self' forbids: inline scripts, event handler attributes, inline styles."""
    async def go():
        async with cloud.client() as c:
            login_page = (await c.get("/login")).text
        client, _ = await logged_in(cloud)
        return login_page, (await client.get("/")).text, (await client.get("/static/dashboard.js")).text
    login_page, dashboard, script = cloud.run(go())
    for html in (login_page, dashboard):
        assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", html))
        assert not re.search(r"<style|\son[a-z]+=|\sstyle=", html)
    assert not re.search(r"\son[a-z]+=|\sstyle=|<script", script)  # nor in the markup the script writes


def test_the_static_files_are_in_the_wheel():
    root = Path(__file__).resolve().parent.parent
    globs = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["system.cloud"]
    shipped = {p.name for g in globs for p in (root / "system" / "cloud").glob(g)}
    assert shipped == {"dashboard.html", "dashboard.js", "dashboard.css", "clubtime.js", "devicelog.js"}
    assert shipped == {p.name for p in (root / "system" / "cloud" / "static").iterdir()}
