"""``hilsim controller`` as deployed: a real process, a real web server for the fixtures, a real Pushgateway.

The fixtures are served by ``http.server`` on loopback and can be changed while the
controller runs; its trace (``--trace -``) is read line by line and every wait ends as
soon as its condition holds (generous timeouts, no sleeps as synchronisation).
"""

from __future__ import annotations

import signal
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from system.decisions.alerts import DEFAULT_POLICIES
from system.decisions.events import CANCELLED, GAME, SCHEDULED, Event
from system.adapters.controller_store import Store

from processes import ROOT, WAIT, TracedProcess, free_port

pytestmark = pytest.mark.live

BRUSSELS = ZoneInfo("Europe/Brussels")
STARTUP = 20.0  # seconds a controller process may take to start and plan, on 2 loaded cores
LEAD = 10.0  # seconds from its first fetch of the feed to the alert window: parse, store and plan in between
LATE = 5.0  # the light goes on at most this long after its window opens


class ClubSite:
    """A loopback web server whose one page (``/kalender``) the test rewrites at will (``body`` is the text, or a
    function called for each request)."""

    def __init__(self, body: str, content_type: str):
        site = self
        self.body, self.content_type, self.requests = body, content_type, 0

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                site.requests += 1
                data = (site.body() if callable(site.body) else site.body).encode()
                self.send_response(200 if self.path == "/kalender" else 404)
                self.send_header("content-type", site.content_type)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):  # keep pytest's output clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/kalender"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class ControllerProcess(TracedProcess):
    """``hilsim controller --relay sim --trace - ...``."""

    def __init__(self, *args: str):
        super().__init__("controller", "--relay", "sim", *args)

    def wall(self, record: dict) -> float:
        """The wall-clock time of a trace record (its ``t`` counts from the run's start)."""
        (started,) = self.of_kind("controller.started")
        return started["epoch"] + record["t"]


def _row(kickoff: datetime, home: str, away: str) -> str:
    """One row of the club calendar, in the layout of fixtures/pages/kaagent-2025-26.html."""
    local = kickoff.astimezone(BRUSSELS)
    return (f'<tr class="wedstrijd"><td class="datum">{local:%d/%m/%Y}</td><td class="uur">{local:%H}u{local:%M}</td>'
            f'<td class="competitie">Jupiler Pro League</td><td class="thuis">{home}</td><td class="uit">{away}</td>'
            f'<td class="stadion">-</td></tr>')


def calendar(games: list[tuple[datetime, str, str]]) -> str:
    shipped = (ROOT / "fixtures/pages/kaagent-2025-26.html").read_text(encoding="utf-8")
    head, _, rest = shipped.partition("<tbody>")
    _, _, tail = rest.partition("</tbody>")
    return head + "<tbody>\n" + "\n".join(_row(*g) for g in games) + "\n</tbody>" + tail


def gauges(text: str, job: str) -> dict[str, float]:
    return {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples
            if s.labels.get("job") == job}


def test_the_controller_scrapes_a_real_page_follows_its_changes_and_pushes_counters(tmp_path, pushgateway):
    day = datetime.now(timezone.utc).replace(hour=18, minute=30, second=0, microsecond=0)
    games = [(day + timedelta(days=7), "KAA Gent", "Club Brugge"),
             (day + timedelta(days=14), "KRC Genk", "KAA Gent"),
             (day + timedelta(days=21), "KAA Gent", "Standard Luik"),
             (day + timedelta(days=28), "KAA Gent", "OH Leuven"),
             (day + timedelta(days=35), "KV Mechelen", "KAA Gent")]
    site = ClubSite(calendar(games), "text/html; charset=utf-8")
    db = tmp_path / "controller.db"
    ctl = ControllerProcess("--db", str(db), "--fixtures-url", site.url, "--push-url", pushgateway,
                            "--scrape-every", "1", "--push-every", "1")
    try:
        ctl.until(lambda rs: len(ctl.of_kind("fixture.added")) == 3, "the three home games added")
        ctl.until(lambda rs: any(r.get("events_added") for r in ctl.of_kind("metrics.pushed")), "counters pushed")
        # The club moves the Standard game by a day and an hour.
        moved = games[2][0] + timedelta(days=1, hours=1)
        site.body = calendar([*games[:2], (moved, "KAA Gent", "Standard Luik"), *games[3:]])
        ctl.until(lambda rs: ctl.of_kind("fixture.rescheduled"), "the reschedule seen")
        ctl.until(lambda rs: any(r.get("events_updated") for r in ctl.of_kind("metrics.pushed")), "update pushed")
        scraped = httpx.get(f"{pushgateway}/metrics", timeout=WAIT).text
    finally:
        code = ctl.stop()
        site.close()
    assert code == 0, ctl.proc.stderr.read()

    added = ctl.of_kind("fixture.added")
    assert sorted(r["title"] for r in added) == ["KAA Gent - Club Brugge", "KAA Gent - OH Leuven",
                                                 "KAA Gent - Standard Luik"]
    (rescheduled,) = ctl.of_kind("fixture.rescheduled")
    assert rescheduled["new"] == moved.timestamp() and rescheduled["old"] == games[2][0].timestamp()
    assert not ctl.of_kind("fixture.cancelled") and not ctl.of_kind("source.suspicious")
    pushed = ctl.of_kind("metrics.pushed")
    assert sum(r["events_added"] for r in pushed) == 3 and sum(r["events_updated"] for r in pushed) == 1
    assert sum(r["scrapes"] for r in pushed) >= 2 and not ctl.of_kind("metrics.failed")
    seen = gauges(scraped, "controller")
    assert seen["RPI_BACKEND_STATUS"] == 1 and "events_added" in seen and "alerts_started" in seen

    store = Store(str(db))
    starts = {e.title: e.start for e in store.stored_events() if e.status != CANCELLED}
    store.close()
    assert starts == {"KAA Gent - Club Brugge": games[0][0].timestamp(),
                      "KAA Gent - Standard Luik": moved.timestamp(), "KAA Gent - OH Leuven": games[3][0].timestamp()}


def ics(kickoff: datetime) -> str:
    return "\r\n".join(["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//hilsim test//NL", "BEGIN:VEVENT",
                        "UID:game-42@club.example", "SUMMARY:KAA Gent - Club Brugge",
                        f"DTSTART:{kickoff.astimezone(timezone.utc):%Y%m%dT%H%M%SZ}", "LOCATION:Planet Group Arena",
                        "END:VEVENT", "END:VCALENDAR", ""])


def test_a_game_from_the_ical_feed_turns_the_real_controllers_light_on_at_its_first_alert(tmp_path):
    first_alert = max(rule.before for rule in DEFAULT_POLICIES[GAME])
    fixed: list[datetime] = []

    def feed() -> str:
        # The kickoff is fixed when the controller first asks, so that its window opens LEAD seconds later
        # however long the process took to start: the light must go on while we watch, never at start-up.
        if not fixed:
            fixed.append(datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=first_alert + LEAD))
        return ics(fixed[0])

    site = ClubSite(feed, "text/calendar")
    ctl = ControllerProcess("--db", str(tmp_path / "c.db"), "--fixtures-url", site.url, "--format", "ical")
    try:
        ctl.until(lambda rs: ctl.of_kind("relay.on"), "the light on")
    finally:
        code = ctl.stop(signal.SIGTERM)  # as systemd stops it
        site.close()
    assert code == 0 and "controller: stopped" in ctl.proc.stderr.read()
    (kickoff,) = fixed
    (added,) = ctl.of_kind("fixture.added")
    assert added["start"] == kickoff.timestamp()
    (fired,) = ctl.of_kind("alert.fired")
    opens = kickoff.timestamp() - first_alert
    assert fired["at"] == opens
    (on,) = ctl.of_kind("relay.on")
    assert opens <= ctl.wall(on) < opens + LATE, "the light goes on when the window opens, not before, not much after"


def test_offline_from_the_start_the_stored_game_still_turns_the_light_on(tmp_path):
    """No internet at all (fixtures and push endpoints refuse connections): the local store decides."""
    first_alert = max(rule.before for rule in DEFAULT_POLICIES[GAME])
    kickoff = time.time() + first_alert + STARTUP  # the store is read at start: the window opens after that
    db = str(tmp_path / "c.db")
    store = Store(db)
    store.put_event(Event(key="g1", kind=GAME, title="KAA Gent - Club Brugge", start=kickoff))
    store.close()
    dead = f"http://127.0.0.1:{free_port()}"
    ctl = ControllerProcess("--db", db, "--fixtures-url", f"{dead}/kalender", "--scrape-every", "2", "--push-url", dead,
                            "--push-every", "1")
    try:
        ctl.until(lambda rs: ctl.of_kind("scrape.failed") and ctl.of_kind("metrics.failed"), "failures counted")
        ctl.until(lambda rs: ctl.of_kind("relay.on"), "the light on")
    finally:
        code = ctl.stop()
    assert code == 0
    assert {r["reason"] for r in ctl.of_kind("scrape.failed")} == {"unreachable"}
    assert not ctl.of_kind("fixture.cancelled") and not ctl.of_kind("metrics.pushed")
    (started,) = ctl.of_kind("controller.started")
    assert started["epoch"] < kickoff - first_alert, f"the controller took more than {STARTUP} s to start"
    (on,) = ctl.of_kind("relay.on")
    assert kickoff - first_alert <= ctl.wall(on) < kickoff - first_alert + LATE
    store = Store(db)
    (kept,) = store.stored_events()
    assert (kept.key, kept.start, kept.status) == ("g1", kickoff, SCHEDULED)


def test_a_snooze_from_the_console_darkens_the_running_controllers_light_within_seconds(tmp_path):
    """An operator on the Pi: the light is on for an alert; ``hilsim controller snooze`` in another process
    writes the snooze to the store, and the running controller (which polls the store for changes made
    elsewhere every 2 s) switches the light off."""
    import subprocess
    import sys

    first_alert = max(rule.before for rule in DEFAULT_POLICIES[GAME])
    kickoff = time.time() + first_alert - 2  # the first alert's window opened two seconds ago
    db = str(tmp_path / "c.db")
    store = Store(db)
    store.put_event(Event(key="g1", kind=GAME, title="KAA Gent - Club Brugge", start=kickoff))
    store.close()
    ctl = ControllerProcess("--db", db)
    try:
        ctl.until(lambda rs: ctl.of_kind("relay.on"), "the light on")
        plan = subprocess.run([sys.executable, "-m", "hilsim", "controller", "plan", "--db", db], cwd=ROOT,
                              capture_output=True, text=True, timeout=WAIT)
        assert plan.returncode == 0 and "on now (fired)" in plan.stdout, plan.stdout + plan.stderr
        asked = time.time()
        snooze = subprocess.run([sys.executable, "-m", "hilsim", "controller", "snooze", "--db", db,
                                 f"g1/policy/{int(first_alert)}"], cwd=ROOT, capture_output=True, text=True,
                                timeout=WAIT)
        assert snooze.returncode == 0, snooze.stderr
        ctl.until(lambda rs: ctl.of_kind("relay.off"), "the light off after the console's snooze")
    finally:
        code = ctl.stop()
    assert code == 0
    (off,) = ctl.of_kind("relay.off")
    assert ctl.wall(off) - asked < 8, "picked up at the controller's next look at the store (every 2 s)"
