"""Adapters: the live world behind the ports, the only place system code touches real I/O.

``asyncio_runtime`` (the runtime API on the wall clock), ``mqtt_client`` (paho-mqtt),
``amqtt_broker`` (``hilsim broker``), ``store`` and ``reading_store`` (SQLite),
``relays`` (gpiod, serial relay board), ``pushgateway`` (httpx), ``metrics_http``
(``/metrics``), ``notify`` (SMTP, webhook), ``passwords`` (Argon2), ``ota`` (install and
restart into a new version). Each translates its library's exceptions into ``system.errors`` at its edge.

May import: ``system.decisions``, ``system.services``, ``system.ports``, ``firmware``, asyncio
and the libraries it adapts.
"""
