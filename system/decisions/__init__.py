"""Pure decisions over plain data: what the system does, decided without doing it.

``readings`` (decode and validate a reading), ``alerts`` (which alert windows exist and
which light the light), ``reconcile`` (what a scrape changes in the store), ``fixtures``
with ``selectors``, ``kickoff``, ``page_text`` and ``suggest`` (read a club's page or
feed), ``localtime`` (the one rule for wall-clock times), ``jobs`` (validate a job
document), ``events`` (the controller's plain data), ``mqtt_message`` (what the MQTT ports
hand over). Each takes data and returns data, never awaits, and is
tested directly, with examples and Hypothesis.

May import: ``system.errors``, each other, ``firmware`` (pure functions); no I/O library,
no clock, no randomness (checked by tests/test_layout.py).
"""
