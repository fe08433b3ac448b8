"""``hilsim controller``: run the live match-day controller until stopped."""

from __future__ import annotations

import click

from hilsim.fixtures_cmd import load_selectors_file
from hilsim.live import ConfigProblem, trace_sink, user_errors
from hilsim.live_controller import LiveControllerConfig, parse_relay, run_live_controller
from system.services.relay import LightPattern


@click.command(short_help="Live: the match-day controller (fixtures, alerts, the light).")
@click.option("--db", required=True, type=click.Path(dir_okay=False),
              help="The controller's SQLite store (created if missing): the single source of truth.")
@click.option("--fixtures-url", default=None, help="The club's fixtures page or iCalendar feed (omit: no scraping).")
@click.option("--format", "fixtures_format", type=click.Choice(["html", "ical", "auto"]), default="html",
              show_default=True, help="html, ical, or auto (told apart by content).")
@click.option("--selectors", "selectors_path", default=None, metavar="FILE",
              help="Selectors file (TOML) for the club's page; try it first with hilsim fixtures check.")
@click.option("--club", multiple=True, metavar="NAME", help="A name the club goes by (repeat for more).")
@click.option("--relay", default="sim", show_default=True,
              help="sim (trace only), gpiod:/dev/gpiochip0:17[:active-low], or serial:/dev/ttyUSB0.")
@click.option("--blink", type=float, default=None, metavar="SECONDS",
              help="Blink the light with this on/off period instead of a steady light.")
@click.option("--push-url", default=None, help="Pushgateway (or any HTTP endpoint) base URL for the counters.")
@click.option("--scrape-every", type=float, default=3600.0, show_default=True, help="Seconds between scrapes.")
@click.option("--push-every", type=float, default=300.0, show_default=True, help="Seconds between counter pushes.")
@click.option("--trace", "trace_path", default=None,
              help="Write the JSON Lines trace to this file ('-' for standard output).")
@click.option("--for", "duration", type=click.FloatRange(min=0), default=None, help="Stop after this many seconds.")
def controller(db: str, fixtures_url: str | None, fixtures_format: str, selectors_path: str | None,
               club: tuple[str, ...], relay: str, blink: float | None,
               push_url: str | None, scrape_every: float, push_every: float, trace_path: str | None,
               duration: float | None) -> None:
    """Run the match-day controller: scrape fixtures, plan alerts, switch the light, push counters.

    It keeps working offline: alerts come from the local store. Killing it at any
    moment loses no committed change, and after a restart no alert fires twice.
    Until SIGINT or SIGTERM (or --for): state changes (started, relay or scrape
    failures, refused pages, stopped) go to stderr, one line each.
    """
    with user_errors("--blink"):
        parse_relay(relay)
        pattern = LightPattern("blink", blink, blink) if blink is not None else LightPattern()
    for option, seconds in (("--scrape-every", scrape_every), ("--push-every", push_every)):
        if seconds <= 0:
            raise ConfigProblem(f"{option}: {seconds:g} must be more than 0 seconds")
    with user_errors():
        page = load_selectors_file(selectors_path) if selectors_path else None
    config = LiveControllerConfig(db=db, fixtures_url=fixtures_url, fixtures_format=fixtures_format, relay=relay,
                                  pattern=pattern, push_url=push_url, scrape_every=scrape_every,
                                  push_every=push_every, page=page, club=club)
    with user_errors(), trace_sink(trace_path) as sink:
        run_live_controller(config, trace_file=sink, until=duration)
