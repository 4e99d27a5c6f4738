"""The grpc.aio adapter around the pure engines: services, auth, journal, scheduler, fan-out.

Thin by design: per RPC it converts protobuf to domain values, makes one call into the
engine, journals the events, and converts back. No auction rule lives here. Nothing outside
the ``closeout serve`` entry point imports this package.
"""
