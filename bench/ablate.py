"""Where the server's extra CPU per order goes: ``python -m bench.ablate [VARIANT ...]``.

A measurement tool, never a production switch. It runs the ingest bench's unary (and, with
``--stream``, streamed) load against variants of two servers, each in its own process, each
run next to a run of the plain empty baseline so every figure is a ratio within one moment:

* the **real server** (``bench.serverproc``) with one piece taken out by a monkeypatch
  applied only inside this module's own server process: ``full`` (nothing taken out),
  ``nosync`` (SQLite ``synchronous=OFF`` and no anchor ``fdatasync``: what the disk flushes
  cost), ``nostore`` (no SQLite and no anchor at all: the writer still hashes and answers),
  ``nowriter`` (no writer thread: each group commit is answered on the loop at once, after
  JSON encoding, without hashing or storing); ``noengine`` (``SubmitLimitOrder`` answers a
  fixed acknowledgement: no check, no engine, no journal); ``nogc`` (no cyclic collector);
  ``nowait`` (acknowledged without awaiting the commit); ``inflight1``, ``inflight4`` (a
  registry's group commits in the journal at once; the server's is 2); ``bareguard`` (the guard
  interceptor replaced by one that only binds the caller); ``bare`` (both);
* the **empty baseline** (``bench.baseline``) with one piece of ours added: ``intercept`` (a
  pass-through ``grpc.aio`` interceptor), ``suspend`` (the handler awaits a future resolved
  one loop turn later, as ours awaits its commit), ``thread`` (the handler awaits a future
  that another thread resolves, per group of calls, with one ``call_soon_threadsafe``).

Variants that drop durability exist only in the process this module starts for the
measurement; nothing in ``server`` knows of them. Figures are noisy on a shared machine:
compare a variant's CPU per order with the baseline run beside it, and repeat.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

from bench.ingest import IngestConfig, _measure, _specs
from bench.procs import ServerProcess
from bench.report import progress
from bench.serverproc import dealer_ids

REAL: tuple[str, ...] = (
    "full",
    "nosync",
    "nostore",
    "nowriter",
    "noengine",
    "bareguard",
    "bare",
    "nogc",
    "nowait",
)
REAL += ("inflight1", "inflight4")
BASE = ("plain", "intercept", "suspend", "thread")


# -- the real server with a piece taken out (runs in the child process) ---------------------


def _patch_real(variant: str) -> None:
    from server import journal as journal_mod
    from server import journal_sqlite

    if variant in ("nosync", "nostore"):
        original_prepare = journal_sqlite.SqliteStore.prepare

        def prepare(self: Any) -> tuple[int, str]:
            head = original_prepare(self)
            self._conn.execute("PRAGMA synchronous=OFF")
            return head

        journal_sqlite.SqliteStore.prepare = prepare  # type: ignore[method-assign]
        setattr(journal_sqlite, "os", _NoSync())  # noqa: B010 - the module it calls
    if variant == "nostore":

        def write(self: Any, rows: list[Any]) -> None:
            self._head = (rows[-1][0], rows[-1][5])

        journal_sqlite.SqliteStore.write = write  # type: ignore[method-assign]
    if variant == "nowriter":

        def submit_many(self: Any, items: Any) -> asyncio.Future[int]:
            loop = asyncio.get_running_loop()
            future: asyncio.Future[int] = loop.create_future()
            count = 0
            for _stream, events in items:
                count += len(journal_mod._encode(events)[0])
            seq = self._head[0] + count
            self._head = (seq, self._head[1])
            loop.call_soon(future.set_result, seq)
            return future

        journal_mod.Journal.submit_many = submit_many  # type: ignore[method-assign]
    if variant.startswith("inflight"):
        from server.cds import registry

        registry.COMMITS_IN_FLIGHT = int(variant.removeprefix("inflight"))
    if variant == "nogc":
        from server import app

        app.GC_THRESHOLDS = (0, 0, 0)  # 0: the collector never runs
    if variant == "nowait":
        from server.cds import registry

        def execute(self: Any, auction_id: str, command: Any) -> Any:
            decision, _durable = self.begin(auction_id, command)
            return _now(decision)

        async def _now(value: Any) -> Any:
            return value

        registry.AuctionRegistry.execute = execute  # type: ignore[method-assign]
    if variant in ("noengine", "bare"):
        from closeout.v1 import auction_pb2 as pb
        from closeout.v1.common_pb2 import Ack
        from server.cds import dealer_service

        fixed = Ack(sequence=1, client_order_id="x")

        async def submit(self: Any, request: Any, context: Any) -> Any:
            return pb.SubmitLimitOrderResponse(ack=fixed, order_id="x")

        dealer_service.AuctionServicer.SubmitLimitOrder = submit  # type: ignore[method-assign]
    if variant in ("bareguard", "bare"):
        import grpc.aio

        from server import app, auth

        class Bare(grpc.aio.ServerInterceptor):  # type: ignore[misc]
            """Binds the caller, nothing else."""

            def __init__(self, authenticator: Any, **_: Any) -> None:
                self._auth = authenticator

            async def intercept_service(self, continuation: Any, details: Any) -> Any:
                handler = await continuation(details)
                if handler is None or handler.unary_unary is None:
                    return handler
                try:
                    principal = self._auth.authenticate(details.invocation_metadata)
                except auth.AuthenticationError:
                    principal = None
                behaviour = handler.unary_unary

                async def call(request: Any, context: Any) -> Any:
                    auth._set_principal(principal)
                    return await behaviour(request, context)

                return handler._replace(unary_unary=call)

        setattr(app, "GuardInterceptor", Bare)  # noqa: B010 - the name the server builds


class _NoSync:
    """``os`` for the SQLite store without its flushes."""

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    @staticmethod
    def fdatasync(fd: int) -> None:
        return None


def _serve_real(variant: str, journal: str) -> int:
    import logging

    import uvloop

    from bench.serverproc import _run

    _patch_real(variant)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("closeout.server").setLevel(logging.ERROR)
    out = os.environ.get("ABLATE_CPROFILE")  # the event loop thread's profile, for reading
    if out:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
        try:
            status: int = uvloop.run(_run(25, journal))
        finally:
            profiler.disable()
            profiler.dump_stats(out)
        return status
    status = uvloop.run(_run(25, journal))
    return status


# -- the empty baseline with a piece added (runs in the child process) ----------------------


def _serve_base(variant: str) -> int:
    import signal

    import grpc
    import grpc.aio
    import uvloop

    from bench.baseline import EmptyAuctionService
    from closeout.v1 import auction_pb2 as pb
    from closeout.v1 import auction_pb2_grpc

    class PassThrough(grpc.aio.ServerInterceptor):  # type: ignore[misc]
        async def intercept_service(self, continuation: Callable[..., Any], details: Any) -> Any:
            return await continuation(details)

    class Committer:
        """Resolves waiting futures from another thread, a group at a time."""

        def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
            self._loop = loop
            self._cond = threading.Condition()
            self._queue: list[asyncio.Future[None]] = []
            threading.Thread(target=self._run, daemon=True).start()

        def wait(self) -> asyncio.Future[None]:
            future: asyncio.Future[None] = self._loop.create_future()
            with self._cond:
                self._queue.append(future)
                self._cond.notify()
            return future

        def _run(self) -> None:
            while True:
                with self._cond:
                    while not self._queue:
                        self._cond.wait()
                    batch, self._queue = self._queue, []

                def resolve(batch: list[asyncio.Future[None]] = batch) -> None:
                    for f in batch:
                        f.set_result(None)

                self._loop.call_soon_threadsafe(resolve)

    class Service(EmptyAuctionService):
        committer: Committer | None = None

        async def SubmitLimitOrder(  # noqa: N802
            self, request: pb.SubmitLimitOrderRequest, context: Any
        ) -> pb.SubmitLimitOrderResponse:
            if variant == "suspend":
                future = asyncio.get_running_loop().create_future()
                asyncio.get_running_loop().call_soon(future.set_result, None)
                await future
            elif variant == "thread":
                assert self.committer is not None
                await self.committer.wait()
            return await super().SubmitLimitOrder(request, context)

        async def SubmitOrders(  # noqa: N802
            self, request_iterator: AsyncIterator[pb.SubmitOrdersRequest], context: Any
        ) -> pb.SubmitOrdersResponse:
            return await super().SubmitOrders(request_iterator, context)

    async def serve() -> None:
        service = Service()  # type: ignore[abstract]  # the other methods: UNIMPLEMENTED
        if variant == "thread":
            service.committer = Committer(asyncio.get_running_loop())
        interceptors = [PassThrough()] if variant == "intercept" else []
        server = grpc.aio.server(interceptors=interceptors)
        auction_pb2_grpc.add_AuctionServiceServicer_to_server(service, server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        print(f"PORT {port}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        await server.stop(1.0)

    uvloop.run(serve())
    return 0


# -- the driver ------------------------------------------------------------------------------


def thread_cpu(pid: int) -> dict[str, list[float]]:
    """CPU seconds (user, system) per thread name of process ``pid``."""
    ticks = os.sysconf("SC_CLK_TCK")
    out: dict[str, list[float]] = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat", encoding="ascii") as f:
                text = f.read()
        except OSError:
            continue
        name = "main" if tid == str(pid) else text[text.index("(") + 1 : text.rindex(")")] + tid
        fields = text.rsplit(")", 1)[1].split()
        got = out.setdefault(name, [0.0, 0.0])
        got[0] += int(fields[11]) / ticks
        got[1] += int(fields[12]) / ticks
    return out


def _split(before: dict[str, list[float]], after: dict[str, list[float]], n: int) -> str:
    parts = []
    for name, (u, s) in sorted(after.items()):
        u0, s0 = before.get(name, [0.0, 0.0])
        du, ds = (u - u0) / n * 1e6, (s - s0) / n * 1e6
        if du + ds >= 1:
            parts.append(f"{name} {du:.0f}u+{ds:.0f}s")
    return ", ".join(parts)


def run(variants: list[str], cfg: IngestConfig, modes: tuple[str, ...]) -> list[dict[str, Any]]:
    from bench.setup import open_stage2

    rows: list[dict[str, Any]] = []
    with progress(False) as bar, tempfile.TemporaryDirectory() as tmp:
        for n, variant in enumerate(variants):
            real = variant in REAL
            args = ["serve-base", variant]
            if real:
                args = ["serve-real", variant, f"{tmp}/j{n}.sqlite"]
            with (
                ServerProcess("bench.ablate", args) as proc,
                ServerProcess("bench.baseline") as plain,
            ):
                auction = "baseline"
                if real:
                    auction = f"ablate-{n}"
                    asyncio.run(open_stage2(proc.target, auction, dealer_ids(cfg.panel), 10**15))
                for mode in modes:
                    for round_ in range(cfg.rounds):
                        prefix = f"{mode[0]}{round_}-"
                        specs = _specs(cfg, proc.target, auction, mode, prefix)
                        t0 = thread_cpu(proc.pid)
                        ours, cpu = _measure(specs, proc, bar, variant)
                        t1 = thread_cpu(proc.pid)
                        specs = _specs(cfg, plain.target, "baseline", mode, prefix)
                        b0 = thread_cpu(plain.pid)
                        base, base_cpu = _measure(specs, plain, bar, "plain")
                        b1 = thread_cpu(plain.pid)
                        assert cpu is not None
                        assert base_cpu is not None
                        row: dict[str, Any] = {
                            "variant": variant,
                            "mode": mode,
                            "per_s": round(ours.per_s),
                            "baseline_per_s": round(base.per_s),
                            "ratio": round(ours.per_s / base.per_s, 3),
                            "cpu_us": round(cpu / max(ours.ok, 1) * 1e6, 1),
                            "baseline_cpu_us": round(base_cpu / max(base.ok, 1) * 1e6, 1),
                            "p99_ms": round(ours.percentile_ms(99), 1),
                            "baseline_p99_ms": round(base.percentile_ms(99), 1),
                            "errors": ours.errors,
                        }
                        row["cpu_x"] = round(row["cpu_us"] / row["baseline_cpu_us"], 2)
                        rows.append(row)
                        print(
                            f"{variant:10} {mode:6} ratio {row['ratio']:.3f}"
                            f"  cpu {row['cpu_us']:6.1f} vs {row['baseline_cpu_us']:6.1f} µs"
                            f" ({row['cpu_x']:.2f}x)  p99 {row['p99_ms']} vs"
                            f" {row['baseline_p99_ms']} ms  errors {row['errors']}",
                            flush=True,
                        )
                        print(f"    ours:  {_split(t0, t1, max(ours.ok, 1))}")
                        print(f"    plain: {_split(b0, b1, max(base.ok, 1))}", flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["serve-real"]:
        return _serve_real(argv[1], argv[2])
    if argv[:1] == ["serve-base"]:
        return _serve_base(argv[1])
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("variants", nargs="*", default=[*REAL, *BASE[1:]])
    parser.add_argument("--stream", action="store_true", help="also the streamed load")
    parser.add_argument("--unary-orders", type=int, default=8_000)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args(argv)
    for v in args.variants:
        if v not in REAL + BASE:
            parser.error(f"unknown variant {v!r}: one of {', '.join(REAL + BASE)}")
    cfg = IngestConfig(unary_orders=args.unary_orders, stream_orders=40_000, rounds=args.rounds)
    modes = ("unary", "stream") if args.stream else ("unary",)
    run(args.variants, cfg, modes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
