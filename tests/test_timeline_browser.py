"""The interactive timeline (timeline.html, written by hilsim run) in headless Chromium, opened from disk
with no network: it shows the faults, latency and light windows the scenario files schedule, and zooms.

Expected values come from the scenario files: quickstart takes node-2~broker down at 08:20 for 5 min,
restarts the broker at 08:40 and slows bridge~broker by 2 s from 08:45 for 5 min; offline-snooze has
the user snooze at 15:00 and the light on for the alerts at 17:00-17:10 and 17:15-17:25, dark at 16:30.
Times on the axis are the scenario's wall-clock times, as Date.UTC(...) counts them.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from browsers import chromium

from processes import ROOT

pytestmark = pytest.mark.live

READY = "window.Bokeh !== undefined && Bokeh.documents.length > 0 && Bokeh.documents[0].get_model_by_name('faults') !== null"


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


def timeline_of(scenario: str, out) -> str:
    run = subprocess.run([sys.executable, "-m", "hilsim", "run", f"scenarios/{scenario}.yaml", "--out", str(out),
                          "-q"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    return (out / "timeline.html").as_uri()


def open_offline(browser, url: str):
    context = browser.new_context(viewport={"width": 1300, "height": 750})
    context.route("http*://**", lambda route: route.abort())  # offline: any request out would fail
    page = context.new_page()
    page.goto(url)
    wait_until(page, READY)
    return page


def wait_until(page, expression: str, timeout: float = 30_000) -> None:
    deadline = time.monotonic() + timeout / 1000
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"not seen within {timeout / 1000:g} s: {expression}"
        page.wait_for_timeout(100)


def column(page, renderer: str, field: str) -> list:
    return page.evaluate(f"Array.from(Bokeh.documents[0].get_model_by_name('{renderer}').data_source.data['{field}'])")


def at(page, *wall: int) -> float:
    return page.evaluate(f"Date.UTC({', '.join(map(str, wall))})")


def test_quickstart_timeline_marks_faults_outages_and_the_latency_window_and_zooms(browser, tmp_path):
    page = open_offline(browser, timeline_of("quickstart", tmp_path))
    kinds = sorted(column(page, "faults", "kind"))
    assert kinds == ["broker.started", "broker.stopped", "link.changed", "link.changed", "link.down", "link.up"]
    assert column(page, "latency_windows", "left") == [at(page, 2026, 2, 14, 8, 45)]
    assert column(page, "latency_windows", "right") == [at(page, 2026, 2, 14, 8, 50)]
    outages = sorted(zip(column(page, "outage_windows", "left"), column(page, "outage_windows", "lane")))
    assert outages[0] == (at(page, 2026, 2, 14, 8, 20), "links") and outages[1][1] == "broker"
    context = column(page, "faults", "context")[kinds.index("link.down")]
    assert context.count("\n") >= 2 and '"t":' in context  # trace lines around the mark, for its tooltip

    # zoom with the mouse wheel over the lanes (the wheel zoom is the active scroll tool), then to one minute
    span = "(() => { const r = Bokeh.documents[0].get_model_by_name('time'); return r.end - r.start; })()"
    whole = page.evaluate(span)
    assert whole == 3600 * 1000
    page.mouse.move(650, 200)
    for _ in range(5):
        page.mouse.wheel(0, -300)
    wait_until(page, f"{span} < {whole / 2}")
    page.evaluate(f"(() => {{ const r = Bokeh.documents[0].get_model_by_name('time');"
                  f" r.start = {at(page, 2026, 2, 14, 8, 20)}; r.end = {at(page, 2026, 2, 14, 8, 21)}; }})()")
    wait_until(page, f"{span} === 60000")


def test_offline_snooze_timeline_shows_the_light_windows_and_the_user_action(browser, tmp_path):
    page = open_offline(browser, timeline_of("offline-snooze", tmp_path))
    windows = list(zip(column(page, "light_windows", "left"), column(page, "light_windows", "right")))
    lit = lambda *wall: any(a <= at(page, *wall) <= b for a, b in windows)  # noqa: E731
    assert lit(2025, 7, 17, 17, 5) and lit(2025, 7, 17, 17, 20) and not lit(2025, 7, 17, 16, 35)
    assert len(windows) == 2
    user = [x for x, lane in zip(column(page, "faults", "x"), column(page, "faults", "lane")) if lane == "user"]
    assert user == [at(page, 2025, 7, 17, 15, 0)]
