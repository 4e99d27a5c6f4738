"""The CDS auction services (dealer and operator) as one server module.

``register`` builds the :class:`~server.cds.registry.AuctionRegistry` around the runtime's
journal and clock, adds both servicers, and hands the app the registry's replay, start
(window scheduler) and stop hooks.
"""

from __future__ import annotations

from typing import Any

from server.cds import dealer_service, operator_service
from server.cds.registry import AuctionRegistry
from server.runtime import Registration, Runtime

__all__ = ["register"]


def register(server: Any, runtime: Runtime) -> Registration:
    """Add AuctionService and OperatorService to ``server``."""
    registry = AuctionRegistry(runtime.journal, runtime.clock.now, runtime.durability)
    names = (
        dealer_service.add(server, registry, runtime),
        operator_service.add(server, registry, runtime),
    )
    return Registration(
        service_names=names,
        replay=registry.replay,
        start=registry.start,
        stop=registry.stop,
        state=registry,
    )
