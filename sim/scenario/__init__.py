"""Scenarios: the story (``spec``, ``yaml_value``; validated in three files: ``loader`` with the world
section and whole-scenario checks, ``faults`` with each timeline event's parser, ``expect`` with each
expectation's parser), the one world it plays in (``world`` with its backends per party, ``controller_party``,
``cloud_party``; ``controls``, the controls each fault acts through; ``player``, the one timeline player),
and the judging (``expect``, ``light_check``, ``cloud_check``, ``runner``, ``report``).

May import: ``sim.models``, ``sim.kernel``, ``system`` and ``firmware``.
"""
