"""Async SDK for Closeout: dealers submit and watch, operators create, run and publish.

::

    async with DealerClient("127.0.0.1:50051", token="demo-dealer-a-token") as dealer:
        ack = await dealer.submit_market("hertz-2020", "m-1", bid="26", offer="28")
        async for event in dealer.watch("hertz-2020"):
            ...

Every call sends ``authorization: Bearer <token>``; TLS is used when root certificates are
given (and a client certificate for mutual TLS). In-flight calls on one channel are capped
(``max_in_flight``) because thousands of concurrent calls on one channel get CANCELLED.
Refusals surface as ``grpc.aio.AioRpcError``; ``clients.errors.field_violations`` reads the
offending fields.

This module speaks only the wire API (``closeout.v1``); it never imports ``server``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Self, TypeVar, cast

import grpc
import grpc.aio
from google.protobuf.timestamp_pb2 import Timestamp

from clients.channel import (
    DEFAULT_MAX_MESSAGE_BYTES,
    DEFAULT_TIMEOUT,
    KEEPALIVE_TIME_MS,
    KEEPALIVE_TIMEOUT_MS,
    ChannelSettings,
    FailoverChannel,
    explain,
    never_reached,
    parse_targets,
)
from closeout.v1 import admin_pb2, admin_pb2_grpc, auction_pb2_grpc, common_pb2, operator_pb2_grpc
from closeout.v1 import auction_pb2 as apb
from closeout.v1 import operator_pb2 as opb

__all__ = ["DealerClient", "OperatorClient", "Session", "Unreachable"]

_R = TypeVar("_R")

SIDES = {"BUY": apb.SIDE_BUY, "SELL": apb.SIDE_SELL}
ORDER_SIDES = {"BID": apb.ORDER_SIDE_BID, "OFFER": apb.ORDER_SIDE_OFFER}


class Unreachable(grpc.aio.AioRpcError):  # type: ignore[misc]
    """No target answered: the status of the last failure, and ``details()`` saying which
    targets were tried and the likely cause (``is `closeout serve` running on ...?``)."""

    def __init__(self, last: grpc.aio.AioRpcError, message: str) -> None:
        super().__init__(
            last.code(), last.initial_metadata(), last.trailing_metadata(), message, None
        )


class Session:
    """Channels to a server (a primary and its standbys), the caller's bearer token, a
    deadline on every call, and a cap on calls in flight.

    ``target`` is ``"host:port"``, ``"a:1,b:2"`` or a sequence of them. A call that cannot
    reach the current target (UNAVAILABLE) is sent to the next one: always when it never
    left (no connection), and for idempotent calls (reads, and commands keyed by a client
    order id, which the server deduplicates) even when the connection broke mid-call.
    """

    def __init__(
        self,
        target: str | Sequence[str],
        token: str,
        *,
        root_certificates: bytes | None = None,
        private_key: bytes | None = None,
        certificate_chain: bytes | None = None,
        server_name: str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        keepalive_time_ms: int = KEEPALIVE_TIME_MS,
        keepalive_timeout_ms: int = KEEPALIVE_TIMEOUT_MS,
        max_in_flight: int = 64,
    ) -> None:
        self.targets = parse_targets(target)
        self.settings = ChannelSettings(
            root_certificates=root_certificates,
            private_key=private_key,
            certificate_chain=certificate_chain,
            server_name=server_name,
            timeout=timeout,
            max_message_bytes=max_message_bytes,
            keepalive_time_ms=keepalive_time_ms,
            keepalive_timeout_ms=keepalive_timeout_ms,
        )
        self._failover_channel = FailoverChannel(self.targets, self.settings)
        #: Pass this to stubs: each call goes to the current target.
        self.channel = cast(grpc.aio.Channel, self._failover_channel)
        self.metadata: tuple[tuple[str, str], ...] = (("authorization", f"Bearer {token}"),)
        self._slots = asyncio.Semaphore(max_in_flight)

    @property
    def target(self) -> str:
        """The target calls go to now."""
        return self._failover_channel.target

    async def caller(self) -> admin_pb2.GetCallerResponse:
        """Who the server takes this session's token for (participant id and role)."""
        stub = admin_pb2_grpc.AdminServiceStub(self.channel)
        response: admin_pb2.GetCallerResponse = await self._call(
            stub.GetCaller, admin_pb2.GetCallerRequest()
        )
        return response

    async def close(self) -> None:
        """Close every channel."""
        await self._failover_channel.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _unreachable(self, exc: grpc.aio.AioRpcError, tried: list[str]) -> grpc.aio.AioRpcError:
        """``exc`` as :class:`Unreachable` when it is about the connection, else ``exc``."""
        why = explain(exc, tried[-1], self.settings)
        if why is None:
            return exc
        others = [t for t in tried[:-1] if t != tried[-1]]
        also = f" (also tried {', '.join(others)})" if others else ""
        return Unreachable(exc, why + also)

    async def _failover(
        self, attempt: Callable[[], Awaitable[_R]], *, idempotent: bool = True
    ) -> _R:
        """Run ``attempt`` on the current target, then on the next ones while they are down."""
        tried: list[str] = []
        while True:
            tried.append(self.target)
            try:
                return await attempt()
            except grpc.aio.AioRpcError as exc:
                movable = exc.code() == grpc.StatusCode.UNAVAILABLE and (
                    idempotent or never_reached(exc)
                )
                if not movable or len(tried) >= len(self.targets):
                    raise self._unreachable(exc, tried) from None
                self._failover_channel.next_target()

    async def _call(self, method: Any, request: Any, *, idempotent: bool = True) -> Any:
        """One unary call with the deadline, failing over to the next target when down."""

        async def attempt() -> Any:
            return await method(request, metadata=self.metadata, timeout=self.settings.timeout)

        async with self._slots:
            return await self._failover(attempt, idempotent=idempotent)

    async def _watch(
        self, stub: auction_pb2_grpc.AuctionServiceStub, auction_id: str, after_sequence: int
    ) -> AsyncIterator[apb.WatchAuctionResponse]:
        """``WatchAuction``, resumed after the last event seen on the next target when the
        current one goes down (no deadline: keepalive pings find a dead connection)."""
        last, tried = after_sequence, [self.target]
        while True:
            call = stub.WatchAuction(
                apb.WatchAuctionRequest(auction_id=auction_id, after_sequence=last),
                metadata=self.metadata,
            )
            try:
                async for event in call:
                    tried = [self.target]
                    last = max(last, event.sequence)
                    yield event
                return
            except grpc.aio.AioRpcError as exc:
                if exc.code() != grpc.StatusCode.UNAVAILABLE or len(tried) >= len(self.targets):
                    raise self._unreachable(exc, tried) from None
                self._failover_channel.next_target()
                tried.append(self.target)


class DealerClient(Session):
    """A dealer's calls: submissions (stage 1 and 2), its own book, the event stream."""

    def __init__(self, target: str | Sequence[str], token: str, **kwargs: Any) -> None:
        super().__init__(target, token, **kwargs)
        self.stub = auction_pb2_grpc.AuctionServiceStub(self.channel)

    async def submit_market(
        self, auction_id: str, client_order_id: str, *, bid: str, offer: str
    ) -> common_pb2.Ack:
        """Submit or replace the initial market; the ack once it is durable."""
        request = apb.SubmitMarketRequest(
            auction_id=auction_id, client_order_id=client_order_id, bid=bid, offer=offer
        )
        response: apb.SubmitMarketResponse = await self._call(self.stub.SubmitMarket, request)
        return response.ack

    async def withdraw_market(self, auction_id: str, client_order_id: str) -> common_pb2.Ack:
        """Withdraw the initial market."""
        request = apb.WithdrawMarketRequest(auction_id=auction_id, client_order_id=client_order_id)
        response: apb.WithdrawMarketResponse = await self._call(self.stub.WithdrawMarket, request)
        return response.ack

    async def submit_settlement_request(
        self,
        auction_id: str,
        client_order_id: str,
        *,
        side: str,
        size: int,
        customer: str | None = None,
        market_position: tuple[str, int] | None = None,
    ) -> common_pb2.Ack:
        """Submit or replace a physical settlement request (``market_position``: side, size)."""
        request = apb.SubmitSettlementRequestRequest(
            auction_id=auction_id,
            client_order_id=client_order_id,
            side=SIDES[side.upper()],
            size=size,
            customer=customer or "",
        )
        if market_position is not None:
            request.market_position.CopyFrom(
                apb.MarketPosition(side=SIDES[market_position[0].upper()], size=market_position[1])
            )
        response: apb.SubmitSettlementRequestResponse = await self._call(
            self.stub.SubmitSettlementRequest, request
        )
        return response.ack

    async def submit_limit_order(
        self,
        auction_id: str,
        client_order_id: str,
        *,
        side: str,
        price: str,
        size: int,
        customer: str | None = None,
    ) -> apb.SubmitLimitOrderResponse:
        """Submit a stage-2 limit order; the response has the ack and the order id."""
        request = apb.SubmitLimitOrderRequest(
            auction_id=auction_id,
            client_order_id=client_order_id,
            side=ORDER_SIDES[side.upper()],
            price=price,
            size=size,
            customer=customer or "",
        )
        response: apb.SubmitLimitOrderResponse = await self._call(
            self.stub.SubmitLimitOrder, request
        )
        return response

    async def replace_limit_order(
        self,
        auction_id: str,
        client_order_id: str,
        order_client_order_id: str,
        *,
        price: str,
        size: int,
    ) -> common_pb2.Ack:
        """New price and size for one of the caller's limit orders."""
        request = apb.ReplaceLimitOrderRequest(
            auction_id=auction_id,
            client_order_id=client_order_id,
            order_client_order_id=order_client_order_id,
            price=price,
            size=size,
        )
        response: apb.ReplaceLimitOrderResponse = await self._call(
            self.stub.ReplaceLimitOrder, request
        )
        return response.ack

    async def cancel_limit_order(
        self, auction_id: str, client_order_id: str, order_client_order_id: str
    ) -> common_pb2.Ack:
        """Withdraw one of the caller's limit orders."""
        request = apb.CancelLimitOrderRequest(
            auction_id=auction_id,
            client_order_id=client_order_id,
            order_client_order_id=order_client_order_id,
        )
        response: apb.CancelLimitOrderResponse = await self._call(
            self.stub.CancelLimitOrder, request
        )
        return response.ack

    async def decline_customer_request(
        self,
        auction_id: str,
        client_order_id: str,
        *,
        customer: str,
        kind: str,
        side: str,
        size: int,
        reason: str,
        price: str = "",
    ) -> common_pb2.Ack:
        """Record that the dealer declined a customer's request (kind PSR or LIMIT_ORDER)."""
        response: apb.DeclineCustomerRequestResponse = await self._call(
            self.stub.DeclineCustomerRequest,
            apb.DeclineCustomerRequestRequest(
                auction_id=auction_id,
                client_order_id=client_order_id,
                customer=customer,
                kind=kind,
                side=side,
                size=size,
                price=price,
                reason=reason,
            ),
        )
        return response.ack

    async def submit_orders(
        self, orders: Iterable[apb.SubmitOrdersRequest] | AsyncIterable[apb.SubmitOrdersRequest]
    ) -> apb.SubmitOrdersResponse:
        """Stream many limit orders; one answer once every accepted one is durable.

        The deadline covers the whole stream. It is not sent again to another target (the
        orders may have been consumed); resend them: their client order ids make it safe."""
        async with self._slots:
            try:
                response: apb.SubmitOrdersResponse = await self.stub.SubmitOrders(
                    orders, metadata=self.metadata, timeout=self.settings.timeout
                )
            except grpc.aio.AioRpcError as exc:
                raise self._unreachable(exc, [self.target]) from None
        return response

    async def my_submissions(self, auction_id: str) -> apb.ListMySubmissionsResponse:
        """The caller's own submissions."""
        response: apb.ListMySubmissionsResponse = await self._call(
            self.stub.ListMySubmissions, apb.ListMySubmissionsRequest(auction_id=auction_id)
        )
        return response

    async def auction(self, auction_id: str) -> apb.Auction:
        """Public facts of the auction."""
        response: apb.GetAuctionResponse = await self._call(
            self.stub.GetAuction, apb.GetAuctionRequest(auction_id=auction_id)
        )
        return response.auction

    async def watch(
        self, auction_id: str, after_sequence: int = 0
    ) -> AsyncIterator[apb.WatchAuctionResponse]:
        """Events after ``after_sequence`` then live ones, until the auction ends."""
        async for event in self._watch(self.stub, auction_id, after_sequence):
            yield event


class OperatorClient(Session):
    """An operator's calls (results and listings also work for observers and dealers)."""

    def __init__(self, target: str | Sequence[str], token: str, **kwargs: Any) -> None:
        super().__init__(target, token, **kwargs)
        self.stub = operator_pb2_grpc.OperatorServiceStub(self.channel)
        self.auctions = auction_pb2_grpc.AuctionServiceStub(self.channel)

    async def create_auction(
        self,
        parameters: apb.AuctionParameters,
        panel: Sequence[str],
        schedule: dict[str, datetime] | None = None,
        dealer_names: dict[str, str] | None = None,
    ) -> opb.CreateAuctionResponse:
        """Create an auction; ``schedule`` maps stage1_open ... stage2_close to times,
        ``dealer_names`` panel ids to their published names."""
        request = opb.CreateAuctionRequest(
            parameters=parameters,
            panel=panel,
            schedule=_window(schedule),
            dealer_names=dealer_names or {},
        )
        response: opb.CreateAuctionResponse = await self._call(self.stub.CreateAuction, request)
        return response

    async def create_auction_set(
        self, request: opb.CreateAuctionSetRequest
    ) -> opb.CreateAuctionSetResponse:
        """Create several auctions under one set of terms."""
        response: opb.CreateAuctionSetResponse = await self._call(
            self.stub.CreateAuctionSet, request
        )
        return response

    async def public_results(
        self, auction_id: str = "", auction_set: str = ""
    ) -> list[opb.PublicResult]:
        """The public results (creditfixings shape) of an auction, or of every auction of a
        set; open to every authenticated caller."""
        response: opb.GetPublicResultsResponse = await self._call(
            self.stub.GetPublicResults,
            opb.GetPublicResultsRequest(auction_id=auction_id, auction_set=auction_set),
        )
        return list(response.results)

    async def settlement_statement(
        self, auction_id: str, dealer: str = ""
    ) -> opb.SettlementStatement:
        """A dealer's settlement statement (dealers: their own; operators: ``dealer``'s)."""
        response: opb.GetSettlementStatementResponse = await self._call(
            self.stub.GetSettlementStatement,
            opb.GetSettlementStatementRequest(auction_id=auction_id, dealer=dealer),
        )
        return response.statement

    async def open_window(self, auction_id: str) -> opb.OpenWindowResponse:
        """Open the next window."""
        response: opb.OpenWindowResponse = await self._call(
            self.stub.OpenWindow, opb.OpenWindowRequest(auction_id=auction_id), idempotent=False
        )
        return response

    async def close_window(self, auction_id: str) -> opb.CloseWindowResponse:
        """Close the open window."""
        response: opb.CloseWindowResponse = await self._call(
            self.stub.CloseWindow, opb.CloseWindowRequest(auction_id=auction_id), idempotent=False
        )
        return response

    async def cancel(self, auction_id: str, reason: str) -> opb.CancelAuctionResponse:
        """Cancel the auction."""
        response: opb.CancelAuctionResponse = await self._call(
            self.stub.CancelAuction, opb.CancelAuctionRequest(auction_id=auction_id, reason=reason)
        )
        return response

    async def disclose_book(self, auction_id: str, reason: str) -> opb.DiscloseBookResponse:
        """Read a sealed book, on the record."""
        response: opb.DiscloseBookResponse = await self._call(
            self.stub.DiscloseBook, opb.DiscloseBookRequest(auction_id=auction_id, reason=reason)
        )
        return response

    async def results(self, auction_id: str, max_part_bytes: int = 0) -> opb.AuctionResult:
        """The publication so far, as the caller may see it, streamed in parts and merged
        (StreamResults), so that an auction of any size fits under the message limit.
        ``max_part_bytes``: 0 for the server's default part size."""
        request = opb.StreamResultsRequest(auction_id=auction_id, max_part_bytes=max_part_bytes)

        async def attempt() -> opb.AuctionResult:
            result, count, seen = opb.AuctionResult(), 1, 0
            call = self.stub.StreamResults(
                request, metadata=self.metadata, timeout=self.settings.timeout
            )
            async for response in call:
                if response.index != seen:
                    raise ValueError(f"results part {response.index} came as part {seen}")
                result.MergeFrom(response.part)
                count, seen = response.count, seen + 1
            if seen != count:
                raise ValueError(f"the results stream ended after {seen} of {count} parts")
            return result

        async with self._slots:
            found: opb.AuctionResult = await self._failover(attempt, idempotent=True)
        return found

    async def auction(self, auction_id: str) -> apb.Auction:
        """Public facts of the auction (parameters, panel, schedule, phase)."""
        response: apb.GetAuctionResponse = await self._call(
            self.auctions.GetAuction, apb.GetAuctionRequest(auction_id=auction_id)
        )
        return response.auction

    async def submitters(self, auction_id: str) -> opb.ListSubmittersResponse:
        """Who has submitted in the auction, never what (operators and observers)."""
        response: opb.ListSubmittersResponse = await self._call(
            self.stub.ListSubmitters, opb.ListSubmittersRequest(auction_id=auction_id)
        )
        return response

    async def list_auctions(self) -> list[apb.Auction]:
        """Every auction visible to the caller, following pages."""
        found: list[apb.Auction] = []
        token = ""
        while True:
            response: opb.ListAuctionsResponse = await self._call(
                self.stub.ListAuctions,
                opb.ListAuctionsRequest(page=common_pb2.PageRequest(page_token=token)),
            )
            found.extend(response.auctions)
            token = response.page.next_page_token
            if not token:
                return found

    async def watch(
        self, auction_id: str, after_sequence: int = 0
    ) -> AsyncIterator[apb.WatchAuctionResponse]:
        """Public events of the auction (operators and observers see no private ones)."""
        async for event in self._watch(self.auctions, auction_id, after_sequence):
            yield event


def _window(schedule: dict[str, datetime] | None) -> apb.WindowSchedule:
    """A window schedule from stage1_open ... stage2_close times."""
    window = apb.WindowSchedule()
    for name, when in (schedule or {}).items():
        stamp = Timestamp()
        stamp.FromDatetime(when)
        getattr(window, name).CopyFrom(stamp)
    return window
