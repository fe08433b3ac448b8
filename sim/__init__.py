"""The deterministic simulated world: the simpy runtime, the world models and the scenario machinery.

- runtime: ``runtime`` (system coroutines as simpy processes; the only simpy importer).
- world models: ``network`` (links), ``broker_model`` and ``mqtt`` (MQTT 3.1.1 broker and
  client port), ``sensors`` (DHT22), ``radio`` (WiFi, SNTP), ``website`` (the club's
  site), ``relay`` and ``pushgateway`` (sim fakes of ports), ``controller_world`` (the
  controller's machine, internet link and power), ``cloud_world`` (the cloud service in
  process), ``subscriptions`` (the broker model's topic index), ``world`` (builds it all).
- scenarios: ``scenario`` (plain data), ``yaml_value`` (YAML with lines), ``faults``
  (timeline events), ``expect`` and ``light_check`` (expectations), ``vocabulary`` (all
  the words, gathered explicitly), ``loader`` (file -> validated scenario), ``runner``,
  ``report`` (JUnit, HTML).

May import: ``system`` and ``firmware`` (it runs them); never ``hil`` or ``hilsim``.
"""
