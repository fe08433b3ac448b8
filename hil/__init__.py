"""Real hardware on the bench: boards over serial, wall-clock runs with real parts.

May import: ``sim``, ``system`` and ``firmware``; never ``hilsim``.
"""
