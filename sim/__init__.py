"""The deterministic simulated world, in three parts that point one way (scenario -> models -> kernel):

- ``kernel``: ``runtime`` (system coroutines as simpy processes; the only simpy importer).
- ``models``: the simulated parts the system talks to or suffers: ``network`` (links, HTTP over a
  link), ``broker_model`` with ``subscriptions`` (MQTT 3.1.1, no I/O) and ``sim_mqtt`` (the MQTT port
  over a link), ``sensors`` (DHT22), ``radio`` (WiFi, SNTP), ``club_site`` (the club's web site,
  rendered from season data), ``sim_relay`` and ``push_recorder`` (sim fakes of ports).
- ``scenario``: the story and its judging: ``spec`` (plain data), ``yaml_value``, ``loader`` (file ->
  validated scenario), ``faults`` (timeline events, each applied through a control), ``controls``,
  ``player`` (the one timeline player), ``world`` (the one world builder, each party on the backend
  handed in) with ``controller_party`` and ``cloud_party``, ``expect``, ``light_check`` and
  ``cloud_check`` (expectations), ``runner``, ``report`` (JUnit, HTML).

May import: ``system`` and ``firmware`` (it runs them); never ``hil`` or ``hilsim``: the wall-clock
backends of ``hil`` are handed to the world builder, not looked up by it.
"""
