"""The server's guard: authentication and the catch-all, around every RPC handler.

:class:`GuardInterceptor` is a ``grpc.aio.ServerInterceptor`` that returns the method's
handler with its behaviour function wrapped (all four kinds: unary-unary, unary-stream,
stream-unary, stream-stream; coroutine and async-generator styles). The wrapper runs inside
the handler's own task, so the principal it binds (``server.auth.current_principal``) is the
caller of that RPC and nobody else's. In order, the wrapper:

1. refuses with UNAUTHENTICATED when the method is not public and the token is missing or
   unknown, or belongs to a participant bound to a client certificate the call does not
   present (mutual TLS, ``server/transport_policy.py``) (the handler never runs, so bad
   credentials change nothing), and with
   INVALID_ARGUMENT a request that does not decode (grpc would answer UNKNOWN with the
   parser's exception text); for streamed requests this holds for handlers that iterate
   ``request_iterator``, not for ones that call ``context.read()``;
2. maps a raised :class:`matching.errors.DomainError` to its status through the one table
   (``server/errors.py``), with field violations as ``google.rpc.BadRequest``;
3. maps :class:`server.journal.JournalFailed` to UNAVAILABLE (the server is stopping);
4. holds every unary answer and every refusal at the read barrier
   (:class:`server.durability.Durability`) until the journal holds everything it reflects,
   except the methods of :data:`UNFENCED` whose answers are durable by construction (an
   acknowledgement goes out only after the commit holding its events, which follows every
   earlier event of its auction); streamed answers (watches) are built from durable events
   only;
5. counts each participant's open streams (watches, bulk submissions) and refuses one over
   :data:`MAX_STREAMS_PER_PARTICIPANT` with RESOURCE_EXHAUSTED (what a stream may hold is
   bounded by its service: watches read their history a page at a time), and its unary calls
   in progress, from the handler's start until the RPC is over (an answer the client does
   not read keeps its call in progress), refusing one over
   :data:`MAX_CALLS_PER_PARTICIPANT` the same way;
6. turns any other exception into INTERNAL ``internal error (correlation id <id>)`` and logs
   the traceback under that id.

Every refusal is logged as a structured ``request refused`` line (method, status, caller,
auction id; never the message), under the call's correlation id (``server.events_log``), the
same id an INTERNAL error reports. With a :class:`server.metrics.ServerMetrics` it also counts
each call by method and final status, times it, and counts open streams; without one (the
default) it does none of that.

This module must never send exception text or a traceback to a client, and never swallow
cancellation (``asyncio.CancelledError`` is not an ``Exception`` and passes through).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import grpc.aio

from matching.errors import DomainError, LimitExceeded
from server.auth import (
    PUBLIC_SERVICES,
    AuthenticationError,
    Authenticator,
    Principal,
    _reset_principal,
    _set_principal,
)
from server.durability import Durability
from server.errors import MALFORMED, abort, abort_with
from server.events_log import correlation_id, log_refusal, new_call
from server.journal import JournalFailed
from server.metrics import ServerMetrics
from server.transport_policy import certificate_refusal

__all__ = ["UNFENCED", "GuardInterceptor"]

#: Methods whose answers never reflect state beyond what they awaited to be durable:
#: acknowledgements of single commands, stateless pricing, health and reflection.
UNFENCED: frozenset[str] = frozenset(
    {
        *(
            f"/closeout.v1.AuctionService/{m}"
            for m in (
                "SubmitMarket",
                "WithdrawMarket",
                "SubmitSettlementRequest",
                "WithdrawSettlementRequest",
                "SubmitLimitOrder",
                "ReplaceLimitOrder",
                "CancelLimitOrder",
            )
        ),
        "/closeout.v1.DefaultAuctionService/SubmitBid",
        "/closeout.v1.DefaultAuctionService/WithdrawBid",
    }
)
#: Streams (watches, bulk submissions) one participant may have open at once.
MAX_STREAMS_PER_PARTICIPANT = 16
#: Unary calls one participant may have in progress (``server.max_calls_per_participant``).
MAX_CALLS_PER_PARTICIPANT = 64
_UNFENCED_SERVICES = ("/closeout.v1.PricingService/", "/grpc.")

_KINDS = ("unary_unary", "unary_stream", "stream_unary", "stream_stream")
#: Guarded handlers kept per (method, principal); cleared when full.
_GUARDED_CACHE = 4096


class _Undecodable:
    """Stands in for a request that failed to decode, so the guard can refuse it itself."""


_UNDECODABLE = _Undecodable()


def _safe(deserializer: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    def deserialize(data: bytes) -> Any:
        try:
            return deserializer(data)
        except Exception:
            return _UNDECODABLE

    return deserialize


async def _checked(requests: AsyncIterator[Any], context: Any) -> AsyncIterator[Any]:
    async for request in requests:
        if request is _UNDECODABLE:
            await abort_with(context, grpc.StatusCode.INVALID_ARGUMENT, MALFORMED)
        yield request


class GuardInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]  # grpc is untyped
    """Authenticates callers and converts every failure to a precise, opaque status."""

    def __init__(
        self,
        authenticator: Authenticator,
        *,
        public_services: frozenset[str] = PUBLIC_SERVICES,
        logger: logging.Logger | None = None,
        metrics: ServerMetrics | None = None,
        durability: Durability | None = None,
        max_streams: int | None = None,
        max_calls: int | None = None,
    ) -> None:
        self._authenticator = authenticator
        self._max_streams = max_streams or MAX_STREAMS_PER_PARTICIPANT
        self._streams: dict[str, int] = {}
        self._max_calls = max_calls or MAX_CALLS_PER_PARTICIPANT
        self._calls: dict[str, int] = {}
        self._metrics = metrics
        self._durability = durability or Durability()
        self._public = public_services
        self._log = logger or logging.getLogger("closeout.rpc")
        self._guarded: dict[tuple[str, Principal | None], tuple[Any, Any]] = {}

    def _take_stream(self, principal: Principal | None) -> bool:
        """Count a stream of ``principal``; RESOURCE_EXHAUSTED over the per-participant limit."""
        if principal is None:
            return False
        pid = principal.participant_id
        open_now = self._streams.get(pid, 0)
        if open_now >= self._max_streams:
            raise LimitExceeded(
                f"at most {self._max_streams} open streams per participant; close one first"
            )
        self._streams[pid] = open_now + 1
        return True

    def _take_call(self, principal: Principal | None, context: Any) -> None:
        """Count a unary call of ``principal`` until the RPC is over, its answer sent
        included (a client that does not read keeps it); RESOURCE_EXHAUSTED over the limit."""
        if principal is None:
            return
        pid = principal.participant_id
        in_progress = self._calls.get(pid, 0)
        if in_progress >= self._max_calls:
            raise LimitExceeded(
                f"at most {self._max_calls} calls in progress per participant (answers not yet"
                " read included); wait for one to finish"
            )
        self._calls[pid] = in_progress + 1
        context.add_done_callback(lambda _: self._give_call(pid))

    def _give_call(self, pid: str) -> None:
        left = self._calls[pid] - 1
        if left:
            self._calls[pid] = left
        else:
            del self._calls[pid]

    def _give_stream(self, principal: Principal | None) -> None:
        assert principal is not None
        pid = principal.participant_id
        left = self._streams[pid] - 1
        if left:
            self._streams[pid] = left
        else:
            del self._streams[pid]

    async def intercept_service(
        self,
        continuation: Callable[[Any], Awaitable[Any]],
        handler_call_details: Any,
    ) -> Any:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None  # unknown method: grpc answers UNIMPLEMENTED
        method: str = handler_call_details.method
        service = method.lstrip("/").split("/", 1)[0]
        principal: Principal | None = None
        refusal: str | None = None
        if service not in self._public:
            try:
                principal = self._authenticator.authenticate(
                    handler_call_details.invocation_metadata
                )
            except AuthenticationError as exc:
                refusal = str(exc)
        # The guarded handler depends only on (method, caller): build it once per caller and
        # method rather than new closures on every call. Refusals are not kept.
        key = (method, principal)
        if refusal is None:
            known = self._guarded.get(key)
            if known is not None and known[0] is handler:
                return known[1]
        guarded = handler
        for kind in _KINDS:
            behaviour = getattr(handler, kind)
            if behaviour is not None:
                wrapped = self._wrap(behaviour, method, principal, refusal, kind)
                changes: dict[str, Any] = {kind: wrapped}
                if handler.request_deserializer is not None:
                    changes["request_deserializer"] = _safe(handler.request_deserializer)
                guarded = handler._replace(**changes)
                break
        if refusal is None:
            if len(self._guarded) >= _GUARDED_CACHE:
                self._guarded.clear()
            self._guarded[key] = (handler, guarded)
        return guarded

    def _wrap(
        self,
        behaviour: Callable[..., Any],
        method: str,
        principal: Principal | None,
        refusal: str | None,
        kind: str,
    ) -> Callable[..., Any]:
        guard = self
        metrics = self._metrics
        streamed_requests = kind.startswith("stream_")
        # Under mutual TLS a participant may be bound to its certificate's common name.
        bound = self._authenticator.bound_name(principal) if principal is not None else None
        fenced = method not in UNFENCED and not method.startswith(_UNFENCED_SERVICES)
        barrier = self._durability.barrier

        async def admit(request: Any, context: Any) -> Any:
            """Refuse bad credentials or an undecodable request; else the request to pass on."""
            why = refusal
            if why is None and bound is not None:
                why = certificate_refusal(bound, context.auth_context())
            if why is not None:
                guard._log.info("%s refused: %s (peer %s)", method, why, context.peer())
                await abort_with(context, grpc.StatusCode.UNAUTHENTICATED, why)
            if streamed_requests:
                return _checked(request, context)
            if request is _UNDECODABLE:
                await abort_with(context, grpc.StatusCode.INVALID_ARGUMENT, MALFORMED)
            return request

        if inspect.isasyncgenfunction(behaviour):

            async def stream_behaviour(request: Any, context: Any) -> AsyncIterator[Any]:
                token = _set_principal(principal)
                new_call()
                started = 0.0
                if metrics is not None:
                    started = time.perf_counter()
                    metrics.stream_opened(method)
                code = "OK"
                slot = False
                try:
                    request = await admit(request, context)
                    slot = guard._take_stream(principal)
                    async for response in behaviour(request, context):
                        yield response
                except Exception as exc:
                    code = "UNKNOWN"
                    try:
                        await guard._fail(context, exc, method, principal, request)
                    finally:
                        code = _code_name(context)
                except (asyncio.CancelledError, GeneratorExit):
                    code = "CANCELLED"
                    raise
                finally:
                    if slot:
                        guard._give_stream(principal)
                    if metrics is not None:
                        metrics.stream_closed(method)
                        metrics.rpc_done(method, code, started)
                    with contextlib.suppress(ValueError):  # a generator closed elsewhere
                        _reset_principal(token)

            return stream_behaviour

        # A unary request from a caller with nothing more to check (no refusal, no bound
        # certificate) needs only the decode check, done inline (no coroutine per call).
        plain_unary = refusal is None and bound is None and not streamed_requests
        is_coroutine = inspect.iscoroutinefunction(behaviour)

        async def call_behaviour(request: Any, context: Any) -> Any:
            token = _set_principal(principal)
            new_call()
            started = time.perf_counter() if metrics is not None else 0.0
            code = "OK"
            slot = False
            try:
                if not plain_unary or request is _UNDECODABLE:
                    request = await admit(request, context)
                if streamed_requests:
                    slot = guard._take_stream(principal)
                else:
                    guard._take_call(principal, context)
                result = behaviour(request, context)
                if is_coroutine or inspect.isawaitable(result):
                    result = await result
                if fenced and (pending := barrier()) is not None:
                    await pending  # the answer may reflect commits still in flight
                return result
            except Exception as exc:
                code = "UNKNOWN"
                try:
                    await guard._fail(context, exc, method, principal, request)
                finally:
                    code = _code_name(context)
            except asyncio.CancelledError:
                code = "CANCELLED"
                raise
            finally:
                if slot:
                    guard._give_stream(principal)
                if metrics is not None:
                    metrics.rpc_done(method, code, started)
                with contextlib.suppress(ValueError):
                    _reset_principal(token)

        return call_behaviour

    async def _fail(
        self, context: Any, exc: Exception, method: str, principal: Principal | None, request: Any
    ) -> None:
        """Turn ``exc`` into a status; always raises (abort) or re-raises."""
        who = principal.participant_id if principal else "-"
        if isinstance(exc, grpc.aio.AbortError):
            # The handler (or we, for credentials or an undecodable request) chose a status.
            log_refusal(method, _code_name(context), who, _auction_of(request))
            raise exc
        if isinstance(exc, DomainError):
            try:
                # A refusal reflects state too ("the window is closed"): only once it is durable.
                pending = self._durability.barrier()
                if pending is not None:
                    try:
                        await pending
                    except JournalFailed as failed:
                        exc = failed
                    else:
                        await abort(context, exc)
                else:
                    await abort(context, exc)
            finally:
                if not isinstance(exc, JournalFailed):
                    log_refusal(method, _code_name(context), who, _auction_of(request))
        if isinstance(exc, JournalFailed):
            self._log.error("%s by %s refused: journal failed", method, who)
            await abort_with(
                context, grpc.StatusCode.UNAVAILABLE, "journal unavailable; the server is stopping"
            )
        cid = correlation_id()
        self._log.error(
            "unexpected exception in %s (participant %s, correlation id %s)",
            method,
            who,
            cid,
            exc_info=exc,
        )
        await abort_with(
            context,
            grpc.StatusCode.INTERNAL,
            f"internal error (correlation id {cid})",
        )


def _code_name(context: Any) -> str:
    """The status a call ended with, by name ("NOT_FOUND"); UNKNOWN if none was set."""
    code = context.code()
    return code.name if isinstance(code, grpc.StatusCode) else "UNKNOWN"


def _auction_of(request: Any) -> str:
    """The auction id of a unary request, if it has one (never any other field)."""
    value = getattr(request, "auction_id", "")
    return value if isinstance(value, str) else ""
