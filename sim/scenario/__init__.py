"""Scenarios: the story (``spec``, ``yaml_value``, ``loader``, ``vocabulary``, ``faults``), the one world
it plays in (``world`` with its parties), and the judging (``expect``, ``light_check``, ``runner``,
``report``).

May import: ``sim.models``, ``sim.kernel``, ``system`` and ``firmware``.
"""
