"""Client side of Closeout: the async SDK, the ``closeout`` CLI and scenario replay.

Clients speak only the wire API (``closeout.v1``); offline replay may call the pure engines
in ``matching``/``pricing`` directly, never ``server`` internals.
"""
