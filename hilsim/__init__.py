"""hilsim's face and composition root: the command line, and the wiring of each live process.

- ``cli``: the ``hilsim`` command group and ``hilsim run`` (scenarios in the simulated world);
- ``commands/``: every other command, one module per command group, and what they share
  (``user_errors``: the one error idiom; ``options``: options written once);
- ``wiring/``: each live process assembled from the system's services and adapters, run by the one
  process helper (``wiring/process.py``).

Nothing imports this package (but tests); it may import every other package (``hil``, ``sim``,
``system``, ``firmware``). Inside it, ``cli`` imports ``commands``, ``commands`` import ``wiring``,
never the other way.
"""
