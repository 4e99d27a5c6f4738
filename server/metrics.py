"""Prometheus metrics of one server: ``closeout serve --metrics HOST:PORT`` serves ``/metrics``.

What is counted where, so the hot path stays cheap:

* RPCs by method and status, and their latency (``closeout_rpc_*``): the guard interceptor
  calls :meth:`ServerMetrics.rpc_done` once per call with its start time; the labelled
  children are looked up once per (method, status) and kept.
* Open streams by method (``closeout_open_streams``): incremented and decremented around
  each streaming handler.
* Journal commits (``closeout_journal_commit_seconds``, ``closeout_journal_batch_records``):
  the journal's writer thread reports each commit (prometheus_client is thread-safe).
* Auctions by kind and phase, and submissions per auction (``closeout_auctions``,
  ``closeout_auction_submissions``): nothing on the hot path; read from the registries when
  Prometheus scrapes; an auction's submissions only once it is no longer sealed (the
  registries give no count while the engine's ``is_sealed()`` says so).

The endpoint answers only a scrape with ``Authorization: Bearer <token>`` of an operator or
observer (401 otherwise); it has no TLS, so ``server/transport_policy.py`` refuses it off
loopback unless ``server.allow_insecure`` waives it.

Every server instance has its own :class:`prometheus_client.CollectorRegistry`, so tests
may run several servers in one process. This module must never label a metric with a
participant's token, a price or an amount, and never slow a call down when metrics are off
(the server then has no :class:`ServerMetrics` at all).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from http.server import ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import MetricsHandler
from prometheus_client.registry import Collector

__all__ = ["ServerMetrics"]

#: Latency buckets, seconds: from a fast unary call (~100 us) to a slow bulk stream.
_RPC_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    10.0,
)
_COMMIT_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0)
_BATCH_BUCKETS = (1, 2, 5, 10, 50, 100, 500, 1000, 5000, 20000)

#: A scrape's ``Authorization`` header (None: absent) -> None if it may read the metrics,
#: else the reason it may not.
Authorize = Callable[[str | None], str | None]

#: A source of (kind, auction id, phase, submissions; None while sealed) rows, read at
#: scrape time.
AuctionSource = Callable[[], Iterator[tuple[str, str, str, int | None]]]


class _AuctionCollector(Collector):
    """Auctions by kind and phase, and per-auction submission counts, at scrape time."""

    def __init__(self) -> None:
        self.sources: list[AuctionSource] = []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        by_phase = GaugeMetricFamily(
            "closeout_auctions",
            "Auctions on the server by kind and phase.",
            labels=["kind", "phase"],
        )
        submissions = GaugeMetricFamily(
            "closeout_auction_submissions",
            "Accepted submissions (markets, requests, orders and their changes) per auction.",
            labels=["kind", "auction_id"],
        )
        counts: dict[tuple[str, str], int] = {}
        for source in self.sources:
            for kind, auction_id, phase, submitted in source():
                counts[(kind, phase)] = counts.get((kind, phase), 0) + 1
                if submitted is not None:  # None: sealed (not to be exported)
                    submissions.add_metric([kind, auction_id], submitted)
        for (kind, phase), count in sorted(counts.items()):
            by_phase.add_metric([kind, phase], count)
        yield by_phase
        yield submissions

    def describe(self) -> list[Any]:
        return []


class ServerMetrics:
    """The metrics of one server and, once :meth:`serve` ran, their HTTP endpoint."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._rpcs = Counter(
            "closeout_rpcs",
            "RPCs handled, by method and final status.",
            ["method", "code"],
            registry=self.registry,
        )
        self._latency = Histogram(
            "closeout_rpc_seconds",
            "RPC handling time (streams: until the stream ends), by method.",
            ["method"],
            buckets=_RPC_BUCKETS,
            registry=self.registry,
        )
        self._streams = Gauge(
            "closeout_open_streams",
            "Streaming RPCs in progress, by method.",
            ["method"],
            registry=self.registry,
        )
        self._commit = Histogram(
            "closeout_journal_commit_seconds",
            "Time to write and commit one journal batch (durable on return).",
            buckets=_COMMIT_BUCKETS,
            registry=self.registry,
        )
        self._batch = Histogram(
            "closeout_journal_batch_records",
            "Records per journal commit (group commit batch size).",
            buckets=_BATCH_BUCKETS,
            registry=self.registry,
        )
        self._auctions = _AuctionCollector()
        self.registry.register(self._auctions)
        self._children: dict[tuple[str, str], tuple[Any, Any]] = {}
        self._http: Any = None

    # -- hooks ---------------------------------------------------------------------------

    def rpc_done(self, method: str, code: str, started: float) -> None:
        """One RPC ended with ``code`` (a grpc.StatusCode name); ``started``: perf_counter."""
        children = self._children.get((method, code))
        if children is None:
            children = (self._rpcs.labels(method, code), self._latency.labels(method))
            self._children[(method, code)] = children
        children[0].inc()
        children[1].observe(time.perf_counter() - started)

    def stream_opened(self, method: str) -> None:
        """A streaming RPC started."""
        self._streams.labels(method).inc()

    def stream_closed(self, method: str) -> None:
        """A streaming RPC ended."""
        self._streams.labels(method).dec()

    def journal_commit(self, seconds: float, records: int) -> None:
        """The journal committed ``records`` records in ``seconds`` (from its writer thread)."""
        self._commit.observe(seconds)
        self._batch.observe(records)

    def add_auction_source(self, source: AuctionSource) -> None:
        """Rows of (kind, auction id, phase, submissions or None), read at each scrape."""
        self._auctions.sources.append(source)

    def watch_states(self, states: Iterable[object]) -> None:
        """Add every service state that has an ``auction_rows()`` (the registries)."""
        for state in states:
            rows = getattr(state, "auction_rows", None)
            if callable(rows):
                self.add_auction_source(rows)

    # -- endpoint ------------------------------------------------------------------------

    def serve(self, host: str, port: int, authorize: Authorize) -> int:
        """Serve ``/metrics`` on ``host:port`` (a thread) to scrapers whose ``Authorization``
        header ``authorize`` accepts (it returns None, else why not: answered 401 with
        that reason); returns the bound port."""
        registry = self.registry

        class Handler(MetricsHandler):
            def do_GET(self) -> None:  # noqa: N802 -- http.server's name
                refusal = authorize(self.headers.get("Authorization"))
                if refusal is not None:
                    body = (refusal + "\n").encode()
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Bearer realm="closeout metrics"')
                    self.send_header("Content-Type", "text/plain; charset=utf-8")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                super().do_GET()

        Handler.registry = registry
        address = host.strip("[]")  # "[::1]" -> "::1"

        class Server(ThreadingHTTPServer):
            # An IPv6 host needs an IPv6 socket (the class's default family is IPv4).
            address_family = socket.getaddrinfo(address, port, type=socket.SOCK_STREAM)[0][0]

        server = Server((address, port), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, name="closeout-metrics", daemon=True).start()
        self._http = server
        bound: int = server.server_address[1]
        return bound

    def close(self) -> None:
        """Stop the endpoint, if serving."""
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
