"""Build and run the Closeout gRPC server (grpc.aio on uvloop).

Startup: open the journal (taking its single-writer lock; with ``standby`` first waiting
until the current writer's lock is released, then taking over); ``register`` every module
of :data:`SERVICE_MODULES`; replay the journal through their ``replay`` hooks; their
``start`` hooks; health (SERVING), reflection; bind exclusively (TLS or mutual TLS when
configured, otherwise insecure with a warning; no ``SO_REUSEPORT``, so a port in use is an
error, never a port shared with another server); serve.

Shutdown, on SIGINT/SIGTERM or a journal failure: health goes NOT_SERVING, the server stops
taking new calls and gives running ones ``grace_seconds``, ``stop`` hooks run, the journal
commits what is queued and closes. A journal failure is logged as critical and the process
exits with status 1 (fail-stop: it must not acknowledge what it cannot keep); a signal exits 0.

Use :class:`CloseoutServer` in tests (``await server.start()`` on 127.0.0.1:0, ``server.port``,
``await server.stop()``) and :func:`run` from the ``closeout serve`` command.

This module holds no auction logic and must never catch and continue past a journal failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Sequence
from importlib import metadata
from typing import Any, TypeVar

import grpc
import grpc.aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from server import admin_service, cds, default, pricing_service
from server.auth import AuthenticationError, Authenticator
from server.clock import Clock, SystemClock
from server.compute import Compute
from server.config import ConfigError, Role, ServerConfig, parse_listen
from server.events_log import configure_logging
from server.interceptors import GuardInterceptor
from server.journal import Journal
from server.journal_store import describe_location
from server.metrics import ServerMetrics
from server.runtime import Registration, Runtime, ServiceModule
from server.transport import server_options
from server.transport_policy import check_transport

__all__ = ["SERVICE_MODULES", "CloseoutServer", "run", "serve"]

#: THE list of service modules the server runs. Add a module here to serve it.
SERVICE_MODULES: tuple[ServiceModule, ...] = (admin_service, cds, pricing_service, default)

_log = logging.getLogger("closeout.server")
_S = TypeVar("_S")

#: The cyclic collector's thresholds. Its young-generation count is tracked objects allocated
#: less those freed. Most per-call garbage is freed by reference counting, but grpc.aio leaves
#: five objects of cyclic garbage per call (the closure of its ``_find_method_handler``,
#: measured with ``gc.DEBUG_SAVEALL``; the empty baseline makes the same), and the growing
#: book adds about one tracked object per resting order. A young collection's pause grows
#: with the threshold (everything young is scanned) and a middle one's with the survivors
#: since the last (the book's newest orders): with (50,000, 20, 10) one full ingest run
#: (720,000 orders) paused up to 300 ms in a young collection and 287 ms in a middle one,
#: the p99.9 outliers. With these, young pauses stay under a few ms (30 ms at most on a
#: busy machine), middle ones under 60 ms, and a full collection over the whole heap (the
#: book) waits for 1,000 middle ones, about 5 * 10^7 net objects (the default (700, 10, 10)
#: meant one every time the heap grew by a quarter: 0.2-0.4 s over a 10^6-order book).
GC_THRESHOLDS: tuple[int, int, int] = (5_000, 10, 1_000)


def settle_heap() -> None:
    """Collect once, then move every object alive now out of the collector's sight.

    After replay the heap is mostly the rebuilt books, which live until the process ends:
    scanning them in every full collection is what made the long latency tail (full
    collections over a heap that grows with the book). Frozen objects are still freed by
    reference counting; only cycles among them would wait for the process to end, and the
    collection just before the freeze leaves none that are garbage already.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _version() -> str:
    try:
        return metadata.version("closeout")
    except metadata.PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"


class CloseoutServer:
    """One server instance: journal, services, health, reflection, one listening port."""

    def __init__(
        self,
        config: ServerConfig,
        *,
        clock: Clock | None = None,
        services: Sequence[ServiceModule] = SERVICE_MODULES,
        logger: logging.Logger | None = None,
        compute: Compute | None = None,
    ) -> None:
        self.config = config
        self._compute = compute  # None: the default worker-process pool
        self._clock = clock or SystemClock()
        self._services = tuple(services)
        self._log = logger or _log
        self._server: Any = None
        self._health: Any = None
        self._registrations: list[Registration] = []
        self._stopped = False
        self.runtime: Runtime | None = None
        #: The bound port (the real one when ``listen`` asked for port 0); set by start().
        self.port: int = 0
        self.replayed: int = 0
        #: Set once the port is open and serving (for callers that start it in a task).
        self.serving = asyncio.Event()
        #: The Prometheus metrics when ``config.metrics`` is set (None: none are kept).
        self.metrics: ServerMetrics | None = ServerMetrics() if config.metrics else None
        #: The bound metrics port (the real one when ``metrics`` asked for port 0).
        self.metrics_port: int = 0

    @property
    def journal(self) -> Journal:
        if self.runtime is None:
            raise RuntimeError("server not started")
        return self.runtime.journal

    def state_of(self, kind: type[_S]) -> _S:
        """The registered service state of type ``kind`` (e.g. a registry), once started."""
        for registration in self._registrations:
            if isinstance(registration.state, kind):
                return registration.state
        raise LookupError(f"no service registered state of type {kind.__name__}")

    async def start(self) -> None:
        """Open the journal, register and replay services, bind and start serving.

        With ``config.standby`` this first waits (logging who holds the journal) until the
        journal's writer lock is free: the port opens only once this server is the leader.

        Raises:
            ConfigError: bad listen address, unreadable TLS files, or the port cannot be bound.
            server.journal.JournalCorrupt: the journal's chain is broken, or it ends before
                its anchor (``TailLost``); nothing is served.
            server.journal.JournalLocked: another server writes this journal (not standby).
            server.journal.JournalUnavailable: the journal cannot be opened.
        """
        host, port = parse_listen(self.config.listen)
        check_transport(self.config)  # no tokens in clear text, no demo tokens, off loopback
        where = describe_location(self.config.journal)

        def waiting(holder: str) -> None:
            self._log.info("standby: journal %s is held by %s; waiting to take over", where, holder)

        journal = await Journal.open(
            self.config.journal, standby=self.config.standby, on_wait=waiting
        )
        if self.config.standby:
            self._log.warning("standby: took over journal %s; replaying and serving", where)
        try:
            self.runtime = Runtime(
                config=self.config,
                journal=journal,
                clock=self._clock,
                logger=self._log,
                version=_version(),
                compute=self._compute or Compute(),
            )
            interceptor = GuardInterceptor(
                Authenticator(self.config.participants),
                logger=logging.getLogger("closeout.rpc"),
                metrics=self.metrics,
                durability=self.runtime.durability,
                max_calls=self.config.max_calls_per_participant,
            )
            # Exclusive bind (SO_REUSEPORT off), keepalive policy, message sizes.
            self._server = grpc.aio.server(
                interceptors=[interceptor],
                options=server_options(self.config.max_message_bytes),
            )
            self._registrations = [s.register(self._server, self.runtime) for s in self._services]
            if self.metrics is not None:
                journal.on_commit = self.metrics.journal_commit
                self.metrics.watch_states(r.state for r in self._registrations)
            self.replayed = self._replay(journal)
            settle_heap()
            for registration in self._registrations:
                if registration.start is not None:
                    await registration.start()
            names = [n for r in self._registrations for n in r.service_names]
            self._health = health.aio.HealthServicer()
            health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
            for name in ["", *names]:
                await self._health.set(name, health_pb2.HealthCheckResponse.SERVING)
            reflection.enable_server_reflection(
                [*names, health.SERVICE_NAME, reflection.SERVICE_NAME], self._server
            )
            self.port = self._bind(host, port)
            if self.metrics is not None and self.config.metrics is not None:
                self.metrics_port = self._serve_metrics(self.metrics, self.config.metrics)
            await self._server.start()
            self.serving.set()
        except BaseException:
            if self.metrics is not None:
                self.metrics.close()
            await journal.close()
            raise
        mode = "insecure"
        if self.config.tls is not None:
            mode = "mutual TLS" if self.config.tls.client_ca else "TLS"
        self._log.info(
            "closeout %s serving on %s:%d (%s), journal %s (%d records replayed), config: %s",
            self.runtime.version,
            host,
            self.port,
            mode,
            where,
            self.replayed,
            self.config.source,
        )

    def _replay(self, journal: Journal) -> int:
        hooks = [r.replay for r in self._registrations if r.replay is not None]
        count = 0
        # Replay builds the books and makes next to no garbage: with the collector on, a
        # 10^6-order book meant full collections over the growing heap (settle_heap collects
        # once afterwards).
        collecting = gc.isenabled()
        gc.disable()
        try:
            for record in journal.replay():
                for hook in hooks:
                    hook(record)
                count += 1
        finally:
            if collecting:
                gc.enable()
        return count

    def _serve_metrics(self, metrics: ServerMetrics, listen: str) -> int:
        host, port = parse_listen(listen, "server.metrics")
        authenticator = Authenticator(self.config.participants)

        def authorize(header: str | None) -> str | None:
            """Operators and observers may scrape (Prometheus: ``authorization`` with the
            bearer token); nobody else, and nobody without credentials."""
            try:
                who = authenticator.authenticate([("authorization", header)] if header else [])
            except AuthenticationError as exc:
                return str(exc)
            if who.role not in (Role.OPERATOR, Role.OBSERVER):
                return (
                    f"participant {who.participant_id} (role {who.role.value}) may not read metrics"
                )
            return None

        try:
            bound = metrics.serve(host, port, authorize)
        except OSError as exc:
            raise ConfigError(f"server.metrics: cannot listen on {listen}: {exc}") from None
        self._log.info("metrics on http://%s:%d/metrics", host, bound)
        return bound

    def _bind(self, host: str, port: int) -> int:
        address = f"{host}:{port}"
        tls = self.config.tls
        try:
            if tls is None:
                self._log.warning(
                    "no TLS configured: listening without encryption; bearer tokens travel"
                    " in clear text (fine for a local demo only)"
                )
                bound: int = self._server.add_insecure_port(address)
            else:
                bound = self._server.add_secure_port(address, _credentials(self.config))
        except RuntimeError as exc:
            raise ConfigError(
                f"server.listen: cannot listen on {address}: {exc} (is another server"
                " already listening there?)"
            ) from None
        if bound == 0:
            raise ConfigError(
                f"server.listen: cannot listen on {address}: the port is in use or the"
                " address is not this machine's"
            )
        return bound

    async def stop(self, grace: float | None = None) -> None:
        """Health NOT_SERVING, stop taking calls, finish running ones, close the journal."""
        if self._stopped or self._server is None:
            return
        self._stopped = True
        if self._health is not None:
            await self._health.enter_graceful_shutdown()
        await self._server.stop(self.config.grace_seconds if grace is None else grace)
        for registration in self._registrations:
            if registration.stop is not None:
                try:
                    await registration.stop()
                except Exception:
                    self._log.exception("a service's stop hook failed")
        if self.runtime is not None:
            self.runtime.compute.shutdown()
            await self.runtime.journal.close()
        if self.metrics is not None:
            self.metrics.close()
        self._log.info("closeout stopped")


def _credentials(config: ServerConfig) -> Any:
    tls = config.tls
    assert tls is not None

    def read(path: Any, key: str) -> bytes:
        try:
            data: bytes = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"{key}: cannot read {path}: {exc.strerror}") from None
        return data

    cert, key = read(tls.cert, "tls.cert"), read(tls.key, "tls.key")
    client_ca = read(tls.client_ca, "tls.client_ca") if tls.client_ca else None
    return grpc.ssl_server_credentials(
        [(key, cert)],
        root_certificates=client_ca,
        require_client_auth=client_ca is not None,
    )


async def serve(
    config: ServerConfig, *, clock: Clock | None = None, server: CloseoutServer | None = None
) -> int:
    """Run until SIGINT/SIGTERM (exit status 0) or a journal failure (exit status 1).

    A standby waiting for the journal is stopped by a signal too (exit status 0).
    ``server`` (not yet started) replaces the default one built from ``config``; for tests.
    """
    server = server or CloseoutServer(config, clock=clock)
    loop = asyncio.get_running_loop()
    stop_requested = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop_requested.set)
    signal_wait = asyncio.ensure_future(stop_requested.wait())
    try:
        starting = asyncio.ensure_future(server.start())
        await asyncio.wait({starting, signal_wait}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():  # a standby still waiting for the journal
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await starting
            _log.info("shutdown requested while waiting as a standby")
            return 0
        starting.result()  # a startup error propagates
        return await _serve_until_stopped(server, config, signal_wait)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        signal_wait.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await signal_wait


async def _serve_until_stopped(
    server: CloseoutServer, config: ServerConfig, signal_wait: asyncio.Future[Any]
) -> int:
    journal_wait = asyncio.ensure_future(server.journal.wait_failed())
    try:
        await asyncio.wait({signal_wait, journal_wait}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        status = 0
        if journal_wait.done() and not journal_wait.cancelled():
            _log.critical(
                "journal failed (%s): stopping the server; restart replays what was committed",
                journal_wait.result(),
            )
            status = 1
        else:
            _log.info("shutdown requested; grace period %.1fs", config.grace_seconds)
        journal_wait.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await journal_wait
        await server.stop()
    return status


def run(config: ServerConfig, log_format: str = "auto") -> int:
    """Configure logging (``auto``: text on a terminal, JSON lines otherwise; ``json``;
    ``text``) and run :func:`serve` under uvloop; return the exit status."""
    import uvloop

    configure_logging(config.log_level, log_format)
    status: int = uvloop.run(serve(config))
    return status
