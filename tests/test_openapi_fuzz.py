"""Schemathesis against the cloud's own ``/openapi.json``, with both credentials: a device token (``pi``'s)
and a logged-in session with its CSRF token. Every operation gets schema-valid requests (each must be
accepted: 2xx, or a documented refusal of state such as a 404 job or a 409 resync) and schema-invalid ones
(each must be refused with a 4xx); no answer may be a 5xx, carry an undocumented status code, or break
its documented schema.

In process (ASGI, a bounded number of examples per operation) and once against ``hilsim cloud`` started as
a real process (``live``).
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys

import httpx
import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig

from cloud_fixtures import PASSWORD, logged_in, make_cloud
from cloud_world import hilsim
from processes import TracedProcess, free_port

CHECKS = ("not_a_server_error", "status_code_conformance", "response_schema_conformance",
          "positive_data_acceptance", "negative_data_rejection",
          # and: a 405 for an undocumented method, with an Allow that lists the documented ones; the documented
          # media types; every credential is really checked (without it, 401)
          "unsupported_method", "allow_header_conformance", "content_type_conformance", "ignored_auth")
EXAMPLES = 25  # per operation and generation mode, beside the coverage phase's boundary cases
LIVE_EXAMPLES = 12


def settings(device_token: str, cookie: str, csrf: str, job_id: str, examples: int = EXAMPLES) -> dict:
    """Schemathesis' settings (as in schemathesis.toml): only our checks, both credentials, and path
    parameters that exist (the device the token is for, a job of it)."""
    return {
        "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
        "generation": {"max-examples": examples, "mode": "all", "deterministic": True},
        "phases": {"coverage": {"enabled": True}, "stateful": {"enabled": False}},
        "auth": {"openapi": {"device": {"bearer": device_token}, "session": {"api_key": cookie},
                             "csrf": {"api_key": csrf}}},
        "parameters": {"path.device": "pi", "path.job_id": job_id, "path.path": "dashboard.css"},
    }


def in_process_schema():
    """The app in process, logged in; built when the module loads (Schemathesis parametrizes at collection)."""
    loop = asyncio.new_event_loop()
    cloud = make_cloud(loop)
    client, csrf = cloud.run(logged_in(cloud))
    job = cloud.store.create_job("pi", {"operation": "createEvent", "title": "x", "start": 1.0}, 0.0)
    given = settings(cloud.tokens["pi"], client.cookies["session"], csrf, job.id)
    return schemathesis.openapi.from_asgi("/openapi.json", cloud.app, config=SchemathesisConfig.from_dict(
        {**given, "suppress-health-check": ["all"]}))


IN_PROCESS = in_process_schema()


@IN_PROCESS.parametrize()
def test_the_app_answers_as_its_description_says(case):
    case.call_and_validate()


def toml(table: dict, prefix: str = "") -> str:
    """``table`` as TOML (what :func:`settings` holds: tables, strings, numbers, booleans, lists of
    those; a list of tables is an array of tables, ``[[name]]``)."""
    def many(v):
        return isinstance(v, list) and v and all(isinstance(x, dict) for x in v)
    plain = [f"{json.dumps(k)} = {json.dumps(v)}" for k, v in table.items() if not isinstance(v, dict) and not many(v)]
    nested = [toml(v, f"{prefix}{json.dumps(k)}.") for k, v in table.items() if isinstance(v, dict)]
    arrays = [f"[[{prefix}{json.dumps(k)}]]\n" + toml(x, "").strip() for k, v in table.items() if many(v) for x in v]
    head = [f"[{prefix[:-1]}]"] if prefix and plain else []
    return "\n".join([*head, *plain, *nested, *arrays]) + "\n"


@pytest.mark.live
def test_a_running_cloud_answers_as_its_description_says(tmp_path):
    """``hilsim cloud`` as a real process; Schemathesis' own command line against it."""
    db, port = str(tmp_path / "cloud.sqlite"), free_port()
    hilsim("cloud", "--db", db, "--add-user", "ann", stdin=PASSWORD + "\n")
    token = hilsim("cloud", "--db", db, "--add-device", "pi").strip()
    cloud = TracedProcess("cloud", "--db", db, "--port", str(port), "--insecure-cookies")
    try:
        cloud.until(lambda r: any(x["kind"] == "cloud.started" for x in r), "cloud started")
        url = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=url, timeout=30.0) as client:
            form = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
            assert client.post("/login", data={"csrf": form, "username": "ann", "password": PASSWORD}).status_code == 303
            csrf = client.get("/api/me").json()["csrf"]
            job = client.post("/api/devices/pi/jobs", headers={"X-CSRF-Token": csrf},
                              json={"operation": "createEvent", "title": "x", "start": 1.0})
            assert job.status_code == 201
            given = settings(token, client.cookies["session"], csrf, job.json()["id"], LIVE_EXAMPLES)
        # Schemathesis' warnings fail the run too: every operation reached with its credentials, every
        # pattern understood, no operation whose valid requests are mostly refused. POST /login is refused
        # (403) without the login page's own CSRF token, which a session holds no longer: as it should.
        given["warnings"] = {"fail-on": ["missing_auth", "validation_mismatch", "unused_openapi_auth",
                                         "unsupported_regex", "method_not_allowed", "low_valid_rate"]}
        given["operations"] = [{"include-path": "/login", "include-method": "POST", "warnings": False}]
        (tmp_path / "schemathesis.toml").write_text(toml(given))
        done = subprocess.run([sys.executable, "-m", "schemathesis.cli", "--config-file",
                               str(tmp_path / "schemathesis.toml"), "run", f"{url}/openapi.json", "--no-color"],
                              capture_output=True, text=True, cwd=tmp_path, timeout=600)
        assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
        # every operation but GET /openapi.json, which Schemathesis leaves out of its run
        operations = sum(len(methods) for methods in httpx.get(f"{url}/openapi.json").json()["paths"].values()) - 1
        assert f"Tested: {operations}" in done.stdout, done.stdout[-3000:]
    finally:
        cloud.stop()
