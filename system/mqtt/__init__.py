"""MQTT as the system code sees it: the ``message`` a port hands over, and the ``inbox`` rule both ports
(sim and live) keep.

May import: ``system.errors`` only.
"""
