"""Production code of the system under test, the same in sim, hil and live.

Three folders show the architecture; the modules here are shared by all of them:

- ``decisions/``: pure decisions over plain data (readings, alerts, reconcile, fixtures,
  events). They take data and return data: no I/O, no clock, no randomness.
- ``services/``: thin async loops over the runtime and the ports (bridge, scraper,
  scheduler, relay driver, controller, metrics). They import decisions and ports, never
  adapters: what they talk to is handed in.
- ``adapters/``: the live world (asyncio runtime, MQTT client and amqtt broker, SQLite
  stores, HTTP, GPIO and serial relays, Pushgateway). They may import both of the above.
- ``cloud/``: the cloud service (ASGI app, its SQLite store, jobs, alarm, dashboard).
- ``mqtt/``: MQTT as the system code sees it (the port, its message, the inbox rule).
- ``ports.py`` the other ports as ``typing.Protocol``s; ``errors.py`` the one exception tree;
  ``runtime.py`` what both runtimes share; ``trace.py`` the canonical trace.

May import: ``firmware`` (shared formats and pure decisions such as ``next_backoff``);
never ``sim``, ``hil`` or ``hilsim``.
"""
