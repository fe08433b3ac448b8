"""The cloud service: each controller's read-only mirror, its job queue, metrics, logs, the heartbeat
alarm and the dashboard, as one ASGI app and two services over one store.

Its layers, top to bottom; a module imports only from its own layer's allowed list below:

1. **Assembly**: ``app`` (:func:`~system.cloud.app.create_app`, ``CloudSettings``, ``/healthz``,
   ``/openapi.json``, the security headers and the session cookie, ``Secure`` over TLS) and ``openapi`` (the
   description, made from the routes). Imports the handler modules, ``handling``, ``bodies``,
   ``system.adapters.cloud_store`` and ``system.adapters.passwords``.
2. **HTTP handlers** (Starlette endpoints at module level, reading their dependencies from
   ``request.app.state.cloud``): ``auth`` (credentials, server-side sessions, CSRF, the login delay per user and
   address, trusted proxies; login and logout),
   ``pages`` (the login form; the dashboard, served from ``static/``), ``dashboard_api`` (what users
   read, the jobs they queue) and ``device_api`` (what devices send). They import ``handling``, ``bodies``, ``auth``,
   ``views``, ``system.adapters.cloud_store`` (``auth``: ``passwords`` too) and ``system.decisions``; never ``jobs_api`` or ``alarm``
   (a queued job reaches the jobs service through the app's ``job_created`` callback).
   ``handling`` (what every handler shares) imports only ``system.adapters.cloud_store``; ``bodies`` (the
   request bodies as JSON Schemas, checked with ``jsonschema``) imports ``handling`` and ``system.decisions``.
3. **Services and views**: ``jobs_api`` (the AWS IoT Jobs MQTT API), ``alarm`` (the heartbeat alarm),
   ``views`` (what the dashboard shows, computed from a mirror). They import ``system.adapters.cloud_store``,
   ``system.decisions``, ``system.errors``, ``system.services.metrics`` and ``firmware``; never Starlette
   nor a module of the layers above.
4. **Below the cloud**: ``system.adapters.cloud_store`` (the only SQLite: nothing in ``system/cloud``
   imports ``sqlite3``; its sessions in ``cloud_sessions``, its bounded metrics in ``metric_history``) and ``system.decisions`` (``jobs_protocol``: the one place the Jobs topics,
   states and documents are spelled; ``alerts``: the one rule of lit and snoozed). Neither imports
   ``system.cloud``.

Nothing here imports asyncio: ``hilsim/wiring/live_cloud.py`` runs the app under uvicorn, and
``sim/scenario/cloud_party.py`` runs it in process. How a dashboard snooze reaches the relay, hop by
hop, is drawn in :mod:`system.cloud.dashboard_api`.
"""
