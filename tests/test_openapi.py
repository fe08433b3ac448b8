"""``/openapi.json`` is valid OpenAPI, and true: it lists exactly the app's routes and methods, a 405 allows
what it documents, its security schemes are how credentials really travel, and its body limits are the
ones the handlers hold."""

from __future__ import annotations

import asyncio
import json

import pytest
from openapi_spec_validator import validate
from starlette.routing import Mount, Route

from cloud_fixtures import logged_in, make_cloud


@pytest.fixture
def loop():
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture
def cloud(loop):
    return make_cloud(loop)


def spec(cloud) -> dict:
    async def fetch():
        async with cloud.client() as client:
            return (await client.get("/openapi.json")).json()
    return cloud.run(fetch())


def routed(app) -> set[tuple[str, str]]:
    """(method, path) of every route of the Starlette router (HEAD goes with GET, as HTTP has it)."""
    found = set()
    for route in app.routes:
        if isinstance(route, Mount):
            found.add(("GET", route.path + "/{path}"))
        else:
            assert isinstance(route, Route)
            found |= {(method, route.path) for method in route.methods - {"HEAD"}}
    return found


def test_the_description_is_valid_openapi(cloud):
    validate(spec(cloud))


def test_every_route_is_described_and_every_described_operation_is_routed(cloud):
    described = {(method.upper(), path) for path, ops in spec(cloud)["paths"].items() for method in ops}
    assert routed(cloud.app) - described == set(), "routes missing from /openapi.json"
    assert described - routed(cloud.app) == set(), "described but not routed"
    assert ("POST", "/api/devices/{device}/jobs") in described and ("GET", "/api/devices/{device}/jobs") in described


def test_path_parameters_are_declared(cloud):
    ops = spec(cloud)["paths"]["/api/devices/{device}/jobs/{job_id}/cancel"]["post"]
    assert [(p["name"], p["in"], p["required"]) for p in ops["parameters"]] == [
        ("device", "path", True), ("job_id", "path", True)]


def test_a_405_allows_exactly_the_described_methods(cloud):
    paths = spec(cloud)["paths"]

    async def probe():
        answers = {}
        async with cloud.client() as client:
            for path, ops in paths.items():
                url = path.replace("{device}", "pi").replace("{job_id}", "x").replace("{path}", "dashboard.css")
                response = await client.request("DELETE", url)
                answers[path] = (response.status_code, response.headers.get("allow"), set(ops))
        return answers
    for path, (status, allow, documented) in cloud.run(probe()).items():
        assert status == 405, path
        allowed = {m.strip().lower() for m in allow.split(",")}
        assert allowed == documented | ({"head"} if "get" in documented else set()), path


def test_the_security_schemes_are_how_credentials_travel(cloud):
    schemes = spec(cloud)["components"]["securitySchemes"]
    assert {k: (v["type"], v.get("in"), v.get("name"), v.get("scheme")) for k, v in schemes.items()} == {
        "device": ("http", None, None, "bearer"),
        "session": ("apiKey", "cookie", "session", None),
        "csrf": ("apiKey", "header", "X-CSRF-Token", None)}
    paths = spec(cloud)["paths"]
    assert paths["/api/device/{device}/sync"]["post"]["security"] == [{"device": []}]
    assert paths["/api/devices/{device}/jobs"]["get"]["security"] == [{"session": []}]
    assert paths["/api/devices/{device}/jobs"]["post"]["security"] == [{"session": [], "csrf": []}]
    client, csrf = cloud.run(logged_in(cloud))
    assert set(client.cookies) == {"session"}  # the cookie the scheme names is the one a login sets
    job = {"operation": "createEvent", "title": "x", "start": 1.0}
    without = cloud.run(client.post("/api/devices/pi/jobs", json=job))
    with_header = cloud.run(client.post("/api/devices/pi/jobs", json=job, headers={"X-CSRF-Token": csrf}))
    assert (without.status_code, with_header.status_code) == (403, 201)


def _post(cloud, path: str, body: str) -> tuple[int, dict]:
    async def go():
        async with cloud.client() as client:
            return await client.post(path, content=body.encode(), headers={
                "Authorization": f"Bearer {cloud.tokens['pi']}", "Content-Type": "application/json"})
    response = cloud.run(go())
    return response.status_code, response.json()


LINE = '{"at": 1.0, "kind": "log", "line": "%s"}'


@pytest.mark.parametrize("body, status, error", [
    ('{"lines": [%s]}' % (LINE % ("x" * 2000)), 200, None),
    ('{"lines": [%s]}' % (LINE % ("x" * 2001)), 400, "bad_logs"),
    ('{"lines": [], "dropped": 3.0}', 200, None),
    ('{"lines": [], "extra": 1}', 400, "bad_logs"),
    ('{"lines": [%s]}' % ",".join([LINE % "x"] * 1001), 400, "bad_logs"),
    ('{"lines": [{"at": NaN, "kind": "log", "line": "x"}]}', 400, "not_json"),
])
def test_log_bodies_are_held_to_their_schema(cloud, body, status, error):
    answered, answer = _post(cloud, "/api/device/pi/logs", body)
    assert answered == status and answer.get("error") == error, answer


def test_a_sync_whose_ids_do_not_ascend_asks_for_a_snapshot_and_changes_nothing(cloud):
    change = '{"id": %d, "table": "events", "key": "k%d", "payload": {}}'
    body = '{"base": 0, "last": 2, "changes": [%s, %s]}' % (change % (2, 2), change % (1, 1))
    before = cloud.fingerprint()
    assert _post(cloud, "/api/device/pi/sync", body) == (409, {"applied": 0, "resync": "unordered"})
    assert cloud.fingerprint() == before
    body = '{"base": 0, "last": 2, "changes": [%s, %s]}' % (change % (1, 1), change % (2, 2))
    assert _post(cloud, "/api/device/pi/sync", body) == (200, {"applied": 2})


def test_each_described_body_limit_is_in_the_schema(cloud):
    schemas = spec(cloud)["components"]["schemas"]
    assert schemas["Sync"]["properties"]["changes"]["maxItems"] == 1000
    assert schemas["Logs"]["properties"]["lines"]["maxItems"] == 1000
    assert schemas["Logs"]["properties"]["lines"]["items"]["properties"]["line"]["maxLength"] == 2000
    assert all(schemas[name]["additionalProperties"] is False for name in ("Sync", "Snapshot", "Logs"))
    operations = {variant["title"] for variant in schemas["JobDocument"]["oneOf"]}
    assert operations == {"snoozeAlert", "updateAlert", "createEvent", "createAlert", "updateApplication"}
    described = json.dumps(spec(cloud)["info"]["description"])
    assert "1000000 bytes" in described
