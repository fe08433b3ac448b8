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
                 push_every: float = PERIOD, policies=DEFAULT_POLICIES, max_sleep: float = 3600.0,
                 watch_store: float | None = None):
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
        self.watch_store = watch_store  # live: seconds between looks for changes made by another process

    async def _watch_store(self) -> None:
        """Wake the scheduler when another process (the console) changed the store."""
        self.store.changed_elsewhere()
        while True:
            await self.rt.sleep(self.watch_store)
            if self.store.changed_elsewhere():
                self.scheduler.changed()

    def services(self) -> list[tuple[str, Callable[[], Awaitable[None]]]]:
        found = [("controller/relay", self.relay.run), ("controller/scheduler", self.scheduler.run),
                 ("controller/metrics", self.collector.run)]
        if self.scraper is not None:
            found.append(("controller/scraper", self.scraper.run))
        if self.watch_store is not None:
            found.append(("controller/store-watch", self._watch_store))
        return found

    def close(self) -> None:
        self.relay.close()
        self.store.close()
