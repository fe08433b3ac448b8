"""The cloud's dashboard in a real headless browser (Debian's chromium, driven by Playwright), on a phone-sized
screen, against real ``hilsim broker``, ``hilsim cloud`` and ``hilsim controller`` processes.

A user logs in, snoozes an alert while the controller is away (the job shows QUEUED), the controller comes
back and picks the job up (SUCCEEDED), and the alert shows snoozed. Screenshots of each step are kept in
``$HILSIM_ARTIFACTS/dashboard`` (default ``test-artifacts/dashboard``) for the CI run's artifacts.
Every wait is on a condition in the page or in a process's trace.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from cloud_world import PASSWORD, CloudWorld
from processes import ROOT
from system.adapters.controller_store import Store

pytestmark = pytest.mark.live

CHROMIUM = "/usr/bin/chromium"
PHONE = {"width": 390, "height": 844}
ARTIFACTS = Path(os.environ.get("HILSIM_ARTIFACTS", ROOT / "test-artifacts")) / "dashboard"


@pytest.fixture
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip("Debian package chromium not installed")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
            "--disable-extensions", "--no-first-run"])
        try:
            yield browser
        finally:
            browser.close()


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
