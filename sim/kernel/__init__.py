"""The kernel: ``runtime`` drives the system's coroutines as simpy processes (the only simpy importer).

May import: ``system`` (the runtime base and the trace); never ``sim.models`` or ``sim.scenario``.
"""
