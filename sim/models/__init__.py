"""World models, each a simulated part the system talks to or suffers: ``network`` (links and HTTP over
them), ``broker_model`` with ``subscriptions`` (MQTT 3.1.1, no I/O) and ``sim_mqtt`` (the MQTT port over
a link), ``sensors`` (DHT22), ``radio`` (WiFi, SNTP), ``club_site`` (the club's web site) with
``club_season`` (its season files: the world's truth) and ``club_pages`` (its renderers),
``sim_relay`` and ``push_recorder`` (sim fakes of ports).

May import: ``sim.kernel``, ``system`` and ``firmware``; never ``sim.scenario``.
"""
