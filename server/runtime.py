"""What a service module gets from the server, and what it gives back: the plug-in protocol.

A service module (``server/admin_service.py`` is the worked example) exposes::

    def register(server: grpc.aio.Server, runtime: Runtime) -> Registration

``register`` builds its servicer around ``runtime``, adds it to ``server`` with the generated
``add_XServicer_to_server`` and returns a :class:`Registration`: the full service names (for
reflection and health) and optional hooks. ``server/app.py`` keeps the one list of service
modules and drives the lifecycle:

1. ``register`` for every module (nothing is served yet);
2. ``replay(record)`` for every journal record, in sequence order, for every module that has
   a hook (each module ignores streams that are not its own) -- this rebuilds in-memory state;
3. ``start()`` hooks (e.g. start a window scheduler task), then the port opens;
4. on shutdown, after the server stopped taking calls: ``stop()`` hooks, then the journal
   closes.

This module holds no state and must never import a service module (they import it).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from server.clock import Clock
from server.compute import Compute
from server.config import ServerConfig
from server.durability import Durability
from server.journal import Journal, Record

__all__ = ["Registration", "Runtime", "ServiceModule"]


@dataclass(frozen=True)
class Runtime:
    """Shared by every service: configuration, the journal, the clock, a logger, the version.

    Services queue events with ``runtime.journal.submit_many`` in the step that applies
    them (or ``await runtime.journal.append(stream, events)``) and take
    ``now`` only from ``runtime.clock.now()`` (tests inject a ``FakeClock``). A service that
    changes memory before its commit is durable takes a ``durability`` ticket for it.
    """

    config: ServerConfig
    journal: Journal
    clock: Clock
    logger: logging.Logger
    version: str
    #: Registries take a ticket when they change memory and return it once durable; the
    #: guard holds every answer at its barrier (``server/durability.py``).
    durability: Durability = field(default_factory=Durability)
    #: The bounded worker pool for CPU-heavy requests (``server/compute.py``).
    compute: Compute = field(default_factory=Compute)


@dataclass(frozen=True)
class Registration:
    """What a service module registered, and its lifecycle hooks (all optional)."""

    #: Full protobuf service names, e.g. ``"closeout.v1.AdminService"``.
    service_names: tuple[str, ...]
    #: Called once per journal record at startup, before serving. Must not append.
    replay: Callable[[Record], None] | None = None
    #: Awaited after replay, before the port opens.
    start: Callable[[], Awaitable[None]] | None = None
    #: Awaited on shutdown after the server stopped taking calls, before the journal closes.
    stop: Callable[[], Awaitable[None]] | None = None
    #: The service's in-memory state (e.g. its registry), for ``CloseoutServer.state_of``.
    state: object | None = None


class ServiceModule(Protocol):
    """A module (or any object) with a ``register`` function; see the module docstring."""

    def register(self, server: Any, runtime: Runtime) -> Registration: ...
