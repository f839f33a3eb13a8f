"""Operator commands (``admin ...``) and the server processes (``serve``, ``worker``, ``demo-serve``).

They need the ``server`` extra, and import server modules inside each command only.
"""
