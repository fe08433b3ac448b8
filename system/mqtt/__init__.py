"""MQTT as the system code sees it: the ``port`` the services are handed, the ``message`` it hands over,
and the ``inbox`` rule both ports (sim and live) keep.

May import: ``system.errors`` only.
"""
