"""The match-day controller: store, scraper, scheduler, relay driver and metrics, wired once.

The sim world and the live process build the same ``Controller``; only what is
passed in differs (the HTTP client's transport, the relay backend, the push target).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Awaitable, Callable

import httpx

from system.decisions.alerts import DEFAULT_POLICIES
from system.errors import ConfigError
from system.services.cloud_push import CloudMetricsTarget, CountBoth, LogShipper
from system.decisions.jobs_protocol import DEFAULT_PREFIX
from system.services.job_agent import JobAgent
from system.services.metrics import Metrics, MetricsCollector, PERIOD
from system.services.relay import LightPattern, RelayDriver
from system.services.scheduler import Scheduler
from system.services.scraper import Scraper, Source
from system.services.sync import Sync


@dataclass(frozen=True)
class CloudLink:
    """Where the controller's cloud is and who it is there: ``url`` of the cloud service, the device
    ``name`` (also its thing name for jobs) and its ``token``; jobs come over MQTT with ``prefix``."""

    url: str
    name: str
    token: str
    prefix: str = DEFAULT_PREFIX
    sync_every: float = 300.0
    poll_every: float = 30.0
    log_every: float = 60.0


class Controller:
    """Every controller service on one runtime; ``services()`` lists what to spawn."""

    def __init__(self, rt, *, store: Any, relay_backend: Any, push_target: Any,
                 client: httpx.AsyncClient | None = None, source: Source | None = None,
                 pattern: LightPattern = LightPattern(), scrape_every: float = 3600.0,
                 push_every: float = PERIOD, policies=DEFAULT_POLICIES, max_sleep: float = 3600.0,
                 watch_store: float | None = None, cloud: CloudLink | None = None,
                 cloud_client: httpx.AsyncClient | None = None, mqtt: Any = None, updater: Any = None,
                 cloud_backend: tuple[Any, Any] | None = None):
        self.rt = rt.child("controller")
        self.metrics = Metrics()
        counted: Any = self.metrics
        if cloud is not None:
            self.cloud_metrics = Metrics()  # the cloud's own copy: each target gets every count once
            counted = CountBoth(self.metrics, self.cloud_metrics)
        self.store = store  # opened by the caller: a reboot in sim keeps the same "disk"
        self.store.metrics = counted
        self.relay = RelayDriver(self.rt, relay_backend, pattern=pattern, metrics=counted)
        self.scheduler = Scheduler(self.rt, self.store, self.relay, counted, policies, max_sleep=max_sleep)
        self.scraper = None
        if source is not None:
            if client is None:
                raise ConfigError("a fixtures source needs an HTTP client")
            self.scraper = Scraper(self.rt, client, source, self.store, every=scrape_every,
                                   count=counted.count)
        self.collector = MetricsCollector(self.rt, self.metrics, push_target, period=push_every)
        self.watch_store = watch_store  # live: seconds between looks for changes made by another process
        self.sync = self.cloud_collector = self.logs = self.jobs = None
        if cloud is not None:
            self._link_cloud(cloud, cloud_client or client, cloud_backend, push_every)
            if mqtt is not None:
                self.jobs = JobAgent(self.rt, mqtt, cloud.name, self.store, self.scheduler, prefix=cloud.prefix,
                                     poll_every=cloud.poll_every, updater=updater, on_done=self.sync.wake)

    def _link_cloud(self, cloud: CloudLink, web: httpx.AsyncClient | None, backend: tuple[Any, Any] | None,
                    push_every: float) -> None:
        """The mirror and the cloud's counters: to ``hilsim cloud`` over ``web``, or through ``backend``'s
        (mirror, push target) pair (AWS), which takes no log lines."""
        if backend is None and web is None:
            raise ConfigError("a cloud link needs an HTTP client")
        mirror, target = backend if backend is not None else (None, CloudMetricsTarget(web, cloud.url, cloud.name,
                                                                                          cloud.token))
        # Retries never wait longer than a sync period: the mirror converges within one period of reconnection.
        self.sync = Sync(self.rt, self.store, web, cloud.url, cloud.name, cloud.token, every=cloud.sync_every,
                         retry_cap=cloud.sync_every, mirror=mirror)
        self.cloud_collector = MetricsCollector(self.rt, self.cloud_metrics, target, job="cloud", period=push_every)
        if backend is None:
            self.logs = LogShipper(self.rt, web, cloud.url, cloud.name, cloud.token, every=cloud.log_every)

    async def _watch_store(self) -> None:
        """Wake the scheduler when another process (the console) changed the store."""
        self.store.changed_elsewhere()
        while True:
            await self.rt.sleep(self.watch_store)
            if self.store.changed_elsewhere():
                self.scheduler.changed()
                if self.sync is not None:
                    self.sync.wake()  # the console's change goes to the mirror too

    def services(self) -> list[tuple[str, Callable[[], Awaitable[None]]]]:
        found = [("controller/relay", self.relay.run), ("controller/scheduler", self.scheduler.run),
                 ("controller/metrics", self.collector.run)]
        if self.scraper is not None:
            found.append(("controller/scraper", self.scraper.run))
        if self.watch_store is not None:
            found.append(("controller/store-watch", self._watch_store))
        if self.sync is not None:
            found += [("controller/sync", self.sync.run), ("controller/cloud-metrics", self.cloud_collector.run)]
        if self.logs is not None:
            found.append(("controller/logs", self.logs.run))
        if self.jobs is not None:
            found.append(("controller/jobs", self.jobs.run))
        return found

    def close(self) -> None:
        self.relay.close()
        self.store.close()
