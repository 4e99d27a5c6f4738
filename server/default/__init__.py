"""Clearing-house default management (ClearingService, DefaultAuctionService) as one module.

``register`` builds the :class:`~server.default.registry.DefaultRegistry` around the
runtime's journal and clock, adds both servicers, and hands the app the registry's replay,
start (window scheduler) and stop hooks. Nothing here decides a rule.
"""

from __future__ import annotations

from typing import Any

from server.default import clearing_service, member_service
from server.default.registry import DefaultRegistry
from server.runtime import Registration, Runtime

__all__ = ["register"]


def register(server: Any, runtime: Runtime) -> Registration:
    """Add ClearingService and DefaultAuctionService to ``server``."""
    registry = DefaultRegistry(
        runtime.journal, runtime.clock.now, runtime.durability, runtime.compute
    )
    names = (
        clearing_service.add(server, registry, runtime),
        member_service.add(server, registry, runtime),
    )
    return Registration(
        service_names=names,
        replay=registry.replay,
        start=registry.start,
        stop=registry.stop,
        state=registry,
    )
