"""The commands of ``hilsim``, one module per command group (``broker_cmd``, ``bridge_cmd``, ``controller_cmd``,
``plan_cmd``, ``cloud_cmd``, ``fixtures_cmd``, ``supervise_cmd``, ``virtual_board_cmd``, ``board_cmd``,
``hil_cmds``, ``hil_run``, ``campaign_cmd``, ``sweep_cmd``), registered by ``hilsim.cli``; and what they share: ``user_errors`` (a mistake is
one ``Error: ...`` line, exit 2; missing hardware exit 1) and ``options`` (``--trace``, the MQTT TLS files,
durations).

A command reads its options, refuses mistakes before anything starts, and hands plain configuration to
``hilsim.wiring`` (live processes), ``hil`` (hardware) or ``sim`` (scenarios). May import ``hilsim.wiring``,
``hil``, ``sim``, ``system``; never ``hilsim.cli``. Only the scenario commands (``hilsim run`` in
``hilsim.cli``, ``hil_run``, ``campaign_cmd``, ``sweep_cmd``) reach into ``sim``: a live command runs the live world, with no sim part.
"""
