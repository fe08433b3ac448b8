"""The match-day controller: store, scraper, scheduler, relay driver and metrics, wired once.

The sim world and the live process build the same ``Controller``; only what is
passed in differs (the HTTP client's transport, the relay backend, the push target).
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

import httpx

from system.decisions.alerts import DEFAULT_POLICIES
from system.errors import ConfigError
from system.services.metrics import Metrics, MetricsCollector, PERIOD
from system.services.relay import LightPattern, RelayDriver
from system.services.scheduler import Scheduler
from system.services.scraper import Scraper, Source


class Controller:
    """Every controller service on one runtime; ``services()`` lists what to spawn."""

    def __init__(self, rt, *, store: Any, relay_backend: Any, push_target: Any,
                 client: httpx.AsyncClient | None = None, source: Source | None = None,
                 pattern: LightPattern = LightPattern(), scrape_every: float = 3600.0,
                 push_every: float = PERIOD, policies=DEFAULT_POLICIES, max_sleep: float = 3600.0):
        self.rt = rt.child("controller")
        self.metrics = Metrics()
        self.store = store  # opened by the caller: a reboot in sim keeps the same "disk"
        self.store.metrics = self.metrics
        self.relay = RelayDriver(self.rt, relay_backend, pattern=pattern, metrics=self.metrics)
        self.scheduler = Scheduler(self.rt, self.store, self.relay, self.metrics, policies, max_sleep=max_sleep)
        self.scraper = None
        if source is not None:
            if client is None:
                raise ConfigError("a fixtures source needs an HTTP client")
            self.scraper = Scraper(self.rt, client, source, self.store, every=scrape_every,
                                   count=self.metrics.count)
        self.collector = MetricsCollector(self.rt, self.metrics, push_target, period=push_every)

    def services(self) -> list[tuple[str, Callable[[], Awaitable[None]]]]:
        found = [("controller/relay", self.relay.run), ("controller/scheduler", self.scheduler.run),
                 ("controller/metrics", self.collector.run)]
        if self.scraper is not None:
            found.append(("controller/scraper", self.scraper.run))
        return found

    def close(self) -> None:
        self.relay.close()
        self.store.close()
