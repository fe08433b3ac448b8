"""The live processes' wiring: the one process helper, state lines, and the assembly of each live
service (broker, bridge, controller, cloud) from the system's parts and adapters.

Never imports ``sim``.
"""
