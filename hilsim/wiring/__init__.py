"""The live processes' wiring: the one process helper (``process``: start parts in order, run until a
signal, stop them in reverse), the operator's state lines (``state_lines``), and the assembly of each live
process from the system's services and adapters: ``live_broker``, ``live_bridge``, ``live_controller``,
``live_cloud``, ``live_virtual_board`` (a ``hil`` virtual board).

Knows nothing of the command line (no click): commands in ``hilsim.commands`` hand it plain
configuration. May import ``system``, ``firmware`` and ``hil``; never ``sim`` (the live world has
backends of its own, e.g. ``system.adapters.relays.TracedRelay``) and never ``hilsim.commands``.
"""
