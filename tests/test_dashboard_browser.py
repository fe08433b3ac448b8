"""The cloud's dashboard in a real headless browser (Debian's chromium, driven by Playwright), on a phone-sized
screen, against real ``hilsim broker``, ``hilsim cloud`` and ``hilsim controller`` processes.

A user logs in, snoozes an alert while the controller is away (the job shows QUEUED), the controller comes
back and picks the job up (SUCCEEDED), and the alert shows snoozed. Two browsers, one in New York in English and
one in Tokyo in Japanese, see the same club-local times (Europe/Brussels, 24-hour clock) and type a kickoff in
club time; the device log reads as dated lines with a level and a sentence, periodic pushes folded, filtered by
level and kind. Screenshots of each step are kept in ``$HILSIM_ARTIFACTS/dashboard`` (default
``test-artifacts/dashboard``) for the CI run's artifacts. Every wait is on a condition in the page or in a process's trace.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from browsers import chromium

from cloud_world import PASSWORD, CloudWorld
import httpx

from processes import ROOT
from system.adapters.controller_store import Store

pytestmark = pytest.mark.live

PHONE = {"width": 390, "height": 844}
ARTIFACTS = Path(os.environ.get("HILSIM_ARTIFACTS", ROOT / "test-artifacts")) / "dashboard"


@pytest.fixture
def browser():
    with chromium() as browser:
        yield browser


@pytest.fixture
def world(tmp_path):
    world = CloudWorld(tmp_path, controller_args=("--sync-every", "2", "--push-every", "1", "--log-every", "1"))
    yield world
    world.stop()


def wait_until(page, expression: str, timeout: float = 30_000) -> None:
    """Wait until ``expression`` holds in the page. Playwright's ``wait_for_function`` compiles its predicate
    with ``eval``, which the dashboard's Content-Security-Policy (rightly) forbids; ``evaluate`` goes through
    the debugging protocol and is not blocked, so the condition is polled with it."""
    deadline = time.monotonic() + timeout / 1000
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"not seen within {timeout / 1000:g} s: {expression}"
        page.wait_for_timeout(100)


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_log_in_snooze_an_alert_and_watch_the_job_succeed(world, browser):
    # The controller knows a concert whose first alert lights the light in a minute.
    store = Store(str(world.controller_db))
    concert = store.create_event("Concert in the stadium", time.time() + 4 * 3600 + 60)
    store.close()
    first_alert = f"{concert.key}/policy/14400"
    controller = world.start_controller()
    world.seen("sync.applied", device="pi")
    controller.stop()  # the controller goes away: the snooze will have to wait for it

    page = browser.new_page(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    # Anything the Content-Security-Policy blocks is reported on the console: the dashboard must cause none.
    violations = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(world.url + "/")
    page.wait_for_selector("#login")
    page.fill("#username", "ann")
    page.fill("#password", "wrong password")
    page.click("#login")
    page.wait_for_selector("#login-error")
    page.fill("#username", "ann")
    page.fill("#password", PASSWORD)
    shot(page, "1-login")
    page.click("#login")
    alert = page.locator(f'li.alert[data-alert="{first_alert}"]')
    alert.wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # nothing wider than a phone
    assert "snoozed" not in alert.inner_text()
    shot(page, "2-dashboard")

    alert.locator("button.snooze").click()
    job = page.locator("li.job").first
    wait_until(page, "document.querySelector('li.job .status')?.textContent === 'QUEUED'")
    assert "snoozeAlert" in job.inner_text() and "Concert in the stadium" in job.inner_text()
    shot(page, "3-job-queued")

    world.start_controller()
    wait_until(page, "document.querySelector('li.job .status')?.textContent === 'SUCCEEDED'", timeout=60_000)
    wait_until(page, f"document.querySelector('li.alert[data-alert=\"{first_alert}\"] .snoozed') !== null",
                           timeout=60_000)
    assert "snoozed until" in alert.inner_text()
    page.wait_for_selector("#chart polyline", state="attached")  # the heartbeat over time (flat: zero height)
    assert "RPI_BACKEND_STATUS" in page.text_content("#legend")
    shot(page, "4-job-succeeded-alert-snoozed")

    # the controller's log, filtered by kind: the snooze it ran
    page.fill("#log-kind", "job.succeeded")
    page.click("#logfilter button")
    # the unfiltered list may hold a job.succeeded line too: wait until the filtered list has replaced it
    wait_until(page, "(() => { const kinds = [...document.querySelectorAll('li.log')].map(e => e.dataset.kind);"
                           " return kinds.length > 0 && kinds.every(k => k === 'job.succeeded'); })()",
                           timeout=30_000)
    assert set(page.eval_on_selector_all("li.log", "els => els.map(e => e.dataset.kind)")) == {"job.succeeded"}
    shot(page, "5-log-filtered")


    page.click("#logout")
    page.wait_for_selector("#login")
    assert page.context.request.get(world.url + "/api/me").status == 401
    assert violations == []


# -- club time, whatever the browser's locale and zone; the device log as lines a person reads ----------------

# Expected texts, worked out by hand from the calendar (and `date` with TZ=Europe/Brussels), not by the page's code.
SUMMER_KICKOFF = 2069865900  # Sat 4 Aug 2035 20:45 CEST (18:45 UTC)
WINTER_KICKOFF = 2081360700  # Sat 15 Dec 2035 20:45 CET (19:45 UTC)
LOG_DAY = 1754160000  # Sat 2 Aug 2025 20:40:00 CEST
CLUB_VIEW = {
    "events": ["Sat 4 Aug 2035, 20:45", "Sat 15 Dec 2035, 20:45"],
    "alerts": ["Sat 4 Aug 2035, 16:45 (10 min, policy)", "Sat 4 Aug 2035, 17:15 (10 min, policy)",
               "Sat 4 Aug 2035, 17:30 (10 min, policy)", "Sat 15 Dec 2035, 16:45 (10 min, policy)",
               "Sat 15 Dec 2035, 17:15 (10 min, policy)", "Sat 15 Dec 2035, 17:30 (10 min, policy)"],
    "days": ["Sat 2 Aug 2025"],
    # newest first: time, level, what happened
    "lines": [("20:45:07", "info", "Light switched on"),
              ("20:44:50", "info", "controller: plain text, not JSON"),
              ("20:44:30", "info", "gain=3 unit=dB"),
              ("20:44:00", "warning", "The cloud refused a job report: VersionMismatch"),
              ("20:40:00", "info", "Event created: Concert, Sat 4 Aug 2035, 20:45")],
    "fold": "3 periodic pushes, 20:41:00–20:43:00",
}
# Wall-clock times typed in club time, and where they land (the DST rule of system/decisions/localtime.py).
TYPED = {"2035-08-04T20:45": SUMMER_KICKOFF, "2035-12-15T20:45": WINTER_KICKOFF,
         "2026-03-29T02:30": 1774747800,  # in the spring gap: read as 03:30 CEST
         "2026-03-29T12:00": 1774778400,  # the afternoon of that day: CEST
         "2026-10-25T02:30": 1792888200,  # happens twice: the first, CEST (00:30 UTC)
         "2026-10-25T03:30": 1792895400}  # after the change: CET
SHOWN = {1792888200: "Sun 25 Oct 2026, 02:30", 1792891800: "Sun 25 Oct 2026, 02:30",  # the hour that repeats
         1774747800: "Sun 29 Mar 2026, 03:30", 1774744200: "Sun 29 Mar 2026, 01:30"}


@pytest.fixture
def quiet_world(tmp_path):
    """Broker and cloud only: the device's mirror and log come straight through the device API, with known times."""
    world = CloudWorld(tmp_path)
    token = (tmp_path / "pi.token").read_text().strip()
    device = httpx.Client(base_url=world.url, headers={"Authorization": f"Bearer {token}"}, timeout=10.0)
    events = [("g-summer", "KAA Gent - Club Brugge", SUMMER_KICKOFF),
              ("g-winter", "KAA Gent - Standard", WINTER_KICKOFF)]
    changes = [{"id": i, "table": "events", "key": key, "payload": {"key": key, "kind": "game", "title": title,
                                                                     "start": start, "status": "scheduled"}}
               for i, (key, title, start) in enumerate(events, 1)]
    assert device.post("/api/device/pi/sync", json={"base": 0, "last": 2, "changes": changes}).status_code == 200

    def line(dt: float, kind: str, **fields) -> dict:
        return {"at": LOG_DAY + dt, "kind": kind, "line": json.dumps({"t": dt, "src": "controller", "kind": kind,
                                                                      **fields})}
    lines = [line(0, "event.created", event="custom:1", title="Concert", start=SUMMER_KICKOFF, event_kind="custom"),
             *(line(60 * i, "metrics.pushed", job="controller", RPI_BACKEND_STATUS=1) for i in (1, 2, 3)),
             line(240, "job.update_refused", code="VersionMismatch", topic="hil/things/pi/jobs/x/update/rejected"),
             line(270, "gizmo.calibrated", gain=3, unit="dB"),
             line(307, "relay.on"),
             {"at": LOG_DAY + 290, "kind": "stderr", "line": "controller: plain text, not JSON"}]  # shipped late
    assert device.post("/api/device/pi/logs", json={"lines": lines, "dropped": 0}).status_code == 200
    device.close()
    yield world
    world.stop()


def open_dashboard(browser, world, locale: str, zone: str):
    context = browser.new_context(locale=locale, timezone_id=zone, viewport=PHONE, device_scale_factor=2,
                                  is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(world.url + "/")
    page.fill("#username", "ann")
    page.fill("#password", PASSWORD)
    page.click("#login")
    page.locator('li[data-event="g-winter"]').wait_for()
    page.locator("li.fold").wait_for()
    return page


def club_view(page) -> dict:
    texts = lambda selector: [t.strip() for t in page.locator(selector).all_inner_texts()]  # noqa: E731
    lines = [(li.locator("time").inner_text(), li.get_attribute("data-level"),
              li.locator(".what, code").inner_text()) for li in page.locator("#logs > li.log").all()]
    return {"events": texts("li[data-event] .start"), "alerts": texts("li.alert .when"), "days": texts("li.day"),
            "lines": lines, "fold": page.locator("li.fold summary").inner_text().split(" (")[0]}


@pytest.mark.parametrize("locale, zone", [("en-US", "America/New_York"), ("ja-JP", "Asia/Tokyo")])
def test_times_are_the_clubs_whatever_the_browsers_locale(quiet_world, browser, locale, zone):
    page = open_dashboard(browser, quiet_world, locale, zone)
    assert page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone") == zone  # the browser is elsewhere
    assert page.evaluate("navigator.language") == locale
    assert page.text_content("#zone") == "times in Europe/Brussels"
    assert club_view(page) == CLUB_VIEW
    assert page.evaluate("(typed) => Object.fromEntries(Object.keys(typed).map((k) => [k, ClubTime.toEpoch(k)]))",
                         TYPED) == TYPED
    assert page.evaluate("(ts) => ts.map((t) => ClubTime.when(t))", list(SHOWN)) == list(SHOWN.values())
    shot(page, f"6-club-time-{locale}")

    # a kickoff typed in club time reaches the device as that instant, whatever the browser's zone
    page.fill("#new-title", "Concert")
    page.fill("#new-date", "2035-08-04")
    page.fill("#new-time", "20:45")
    page.click("#create button")
    wait_until(page, "document.querySelector('li.job .status')?.textContent === 'QUEUED'")
    client, _ = quiet_world.session()
    (job,) = client.get("/api/devices/pi/jobs").json()["jobs"]
    client.close()
    assert job["document"] == {"operation": "createEvent", "title": "Concert", "start": SUMMER_KICKOFF}
    page.context.close()


def test_the_device_log_reads_as_lines_with_pushes_folded_and_filters(quiet_world, browser):
    page = open_dashboard(browser, quiet_world, "en-GB", "Europe/London")
    pushes = page.locator('li.fold li.log[data-kind="metrics.pushed"]')
    assert pushes.count() == 3 and not any(p.is_visible() for p in pushes.all())  # folded away by default
    shot(page, "7-log-folded")
    page.click("li.fold summary")
    assert all(p.is_visible() for p in pushes.all())
    assert [p.locator(".what").inner_text() for p in pushes.all()] == ["Counters and heartbeat pushed"] * 3
    # the list is drawn again every 1.5 s: an opened fold stays open
    page.evaluate("document.querySelector('#logs li.day').dataset.old = 'yes'")
    wait_until(page, "document.querySelector('#logs li.day').dataset.old === undefined")
    assert all(p.is_visible() for p in pushes.all())
    shot(page, "8-log-pushes-shown")

    visible = ("[...document.querySelectorAll('li.log')].filter((e) => e.offsetParent !== null)"
               ".map((e) => e.dataset.kind)")
    page.select_option("#log-level", "warning")
    assert page.evaluate(visible) == ["job.update_refused"]
    page.select_option("#log-level", "info")
    assert page.evaluate(visible) == ["relay.on", "stderr", "gizmo.calibrated", "job.update_refused", "event.created"]
    shot(page, "9-log-info-and-above")
    page.select_option("#log-level", "debug")
    page.fill("#log-kind", "metrics.")
    page.click("#logfilter button")
    wait_until(page, "document.querySelectorAll('#logs > li.log').length === 0")
    assert page.locator("li.log").count() == 3 and page.locator("li.fold").count() == 1
    page.context.close()
