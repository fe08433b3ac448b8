"""Services: thin async loops over the runtime and the ports, the same code in every world.

``bridge`` (MQTT readings into a store and Prometheus), ``scraper`` (hourly fixtures,
reconciled), ``scheduler`` (alerts to the relay), ``relay`` (the driver that never
leaves the light on), ``metrics`` and ``prometheus`` (counters and gauges pushed),
``controller`` (the match-day services wired once), ``sync`` (the store's outbox to the
cloud), ``jobs`` (cloud jobs executed at most once), ``cloud_push`` (counters and logs to the
cloud), ``ota`` (the application update job). A service decides nothing itself:
it calls a decision and talks to its ports.

May import: ``system.decisions``, ``system.ports``, ``system.mqtt``, ``system.errors``, ``firmware``,
httpx (its transport is the port); never ``system.adapters``, a clock, sockets or an
event loop (checked by tests/test_layout.py).
"""
