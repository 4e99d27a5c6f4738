"""``closeout.v1.AuctionService``: what dealers do in a CDS auction, over gRPC.

Each RPC: check the role, convert the request, make one call into the engine through the
registry (which journals before it returns), convert back. The dealer is always the
authenticated participant, never a field of the request. Domain errors propagate to the
guard interceptor, which maps them to status codes through the one table.

This module must never decide an auction rule, never show a dealer another dealer's
submissions, and never acknowledge before the registry says the events are durable.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import nullcontext
from operator import attrgetter
from typing import Any

from closeout.v1 import auction_pb2 as pb
from closeout.v1 import auction_pb2_grpc
from closeout.v1.common_pb2 import Ack
from matching.cds.auction import Ack as Accepted
from matching.cds.auction import BulkDecision, CdsAuction, Decision, OrderTerms
from matching.cds.phases import Phase
from matching.errors import DomainError, InvalidInput, LimitExceeded, NotFound
from server.acks import ack_into, ack_out
from server.auth import Principal, require_role
from server.cds import wire
from server.cds.registry import WATCH_PAGE, AuctionRegistry
from server.config import Role
from server.errors import STATUS_FOR
from server.request_checks import check_request
from server.runtime import Runtime
from server.sequences import AUCTION_NUMBERS, Numbering
from server.streams import receive_whole

#: Orders one SubmitOrders stream may carry. Its answer (at most a rejection per order, each
#: with a bounded message and id) then stays well below gRPC's 4 MiB message limit.
MAX_BULK_ORDERS = 10_000
#: A SubmitOrders stream must be complete (half-closed) within this many seconds.
BULK_STREAM_SECONDS = 60.0
#: Characters of a rejection's message and of the echoed client order id in a bulk answer.
MAX_REJECTION_MESSAGE = 200
MAX_ID_ECHO = 100

WATCH_ROLES = (Role.DEALER, Role.OPERATOR, Role.OBSERVER)


def _dealer() -> str:
    return require_role(Role.DEALER).participant_id


def hidden(auction_id: str) -> NotFound:
    """The refusal for an auction the caller may not see: word for word the one for an auction
    that does not exist, so that a dealer off the panel cannot tell real ids from unknown."""
    return NotFound(f"no auction {auction_id!r}")


def viewer_of(principal: Principal, auction: CdsAuction) -> str | None:
    """The dealer whose private events a caller may see (None: public events only).

    Dealers must be on the auction's panel (else NOT_FOUND, as for an unknown auction);
    operators and observers see public events.
    """
    if principal.role is Role.DEALER:
        if principal.participant_id not in auction.panel:
            raise hidden(auction.auction_id)
        return principal.participant_id
    return None


def numbering_of(registry: AuctionRegistry, principal: Principal, auction_id: str) -> Numbering:
    """How ``principal`` numbers the auction's events (``server.sequences``): operators by
    the auction's own numbers; a dealer by its position among the public events and its own
    submissions; an observer by its position among the public events. Only the operator's
    numbers move when someone else submits."""
    if principal.role is Role.OPERATOR:
        return AUCTION_NUMBERS
    viewer = principal.participant_id if principal.role is Role.DEALER else None
    return registry.numbers(auction_id).of(viewer)


def sealed_auction_out(
    registry: AuctionRegistry, principal: Principal, auction: CdsAuction
) -> pb.Auction:
    """The auction as ``principal`` may see it: ``last_sequence`` is the number of the last
    durable event it may see, as it counts (for operators: the auction's last event)."""
    if principal.role is Role.OPERATOR:
        return wire.auction_out(auction)
    viewer = principal.participant_id if principal.role is Role.DEALER else None
    return wire.auction_out(auction, registry.seen_count(auction.auction_id, viewer))


def _panel_dealer(registry: AuctionRegistry, auction_id: str) -> str:
    """The calling dealer, if on the panel of ``auction_id``; NOT_FOUND otherwise."""
    dealer = _dealer()
    if dealer not in registry.get(auction_id).panel:
        raise hidden(auction_id)
    return dealer


class AuctionServicer(auction_pb2_grpc.AuctionServiceServicer):
    """Dealer RPCs over the registry."""

    def __init__(self, registry: AuctionRegistry, runtime: Runtime) -> None:
        self._registry = registry
        self._now = runtime.clock.now

    def _ack(self, auction_id: str, dealer: str, decision: Decision) -> Ack:
        """The dealer's acknowledgement, numbered as the dealer counts."""
        return ack_out(decision.ack, self._registry.numbers(auction_id).of(dealer))

    async def SubmitMarket(  # noqa: N802 - RPC names are fixed by the proto
        self, request: pb.SubmitMarketRequest, context: Any
    ) -> pb.SubmitMarketResponse:
        dealer = _panel_dealer(self._registry, request.auction_id)
        check_request(request)  # every bad field at once (server/request_checks.py)
        decision = await self._registry.execute(
            request.auction_id,
            lambda a: a.submit_market(
                dealer=dealer,
                client_order_id=request.client_order_id,
                bid=request.bid,
                offer=request.offer,
                now=self._now(),
            ),
        )
        return pb.SubmitMarketResponse(ack=self._ack(request.auction_id, dealer, decision))

    async def WithdrawMarket(  # noqa: N802
        self, request: pb.WithdrawMarketRequest, context: Any
    ) -> pb.WithdrawMarketResponse:
        dealer = _panel_dealer(self._registry, request.auction_id)
        check_request(request)  # every bad field at once (server/request_checks.py)
        decision = await self._registry.execute(
            request.auction_id,
            lambda a: a.withdraw_market(
                dealer=dealer, client_order_id=request.client_order_id, now=self._now()
            ),
        )
        return pb.WithdrawMarketResponse(ack=self._ack(request.auction_id, dealer, decision))

    async def SubmitSettlementRequest(  # noqa: N802
        self, request: pb.SubmitSettlementRequestRequest, context: Any
    ) -> pb.SubmitSettlementRequestResponse:
        dealer = _panel_dealer(self._registry, request.auction_id)
        check_request(request)  # every bad field at once (server/request_checks.py)
        side = wire.side_in(request.side, "side")
        position = position_side = None
        if request.HasField("market_position"):
            position = request.market_position.size
            position_side = wire.side_in(request.market_position.side, "market_position.side")
        decision = await self._registry.execute(
            request.auction_id,
            lambda a: a.submit_request(
                dealer=dealer,
                client_order_id=request.client_order_id,
                side=side,
                size=request.size,
                customer=request.customer or None,
                market_position=position,
                market_position_side=position_side,
                now=self._now(),
            ),
        )
        return pb.SubmitSettlementRequestResponse(
            ack=self._ack(request.auction_id, dealer, decision)
        )

    async def WithdrawSettlementRequest(  # noqa: N802
        self, request: pb.WithdrawSettlementRequestRequest, context: Any
    ) -> pb.WithdrawSettlementRequestResponse:
        dealer = _panel_dealer(self._registry, request.auction_id)
        check_request(request)  # every bad field at once (server/request_checks.py)
        decision = await self._registry.execute(
            request.auction_id,
            lambda a: a.withdraw_request(
                dealer=dealer,
                client_order_id=request.client_order_id,
                customer=request.customer or None,
                now=self._now(),
            ),
        )
        return pb.WithdrawSettlementRequestResponse(
            ack=self._ack(request.auction_id, dealer, decision)
        )

    async def SubmitLimitOrder(  # noqa: N802
        self, request: pb.SubmitLimitOrderRequest, context: Any
    ) -> pb.SubmitLimitOrderResponse:
        dealer = _panel_dealer(self._registry, request.auction_id)
        check_request(request)  # every bad field at once (server/request_checks.py)
        side = wire.order_side_in(request.side)
        # The registry's execute, without its coroutine: the busiest call of the server.
        decision, durable = self._registry.begin(
            request.auction_id,
            lambda a: a.submit_limit_order(
                dealer=dealer,
                client_order_id=request.client_order_id,
                side=side,
                price=request.price,
                size=request.size,
                customer=request.customer or None,
                now=self._now(),
            ),
        )
        await durable
        response = pb.SubmitLimitOrderResponse(order_id=f"{dealer}/{request.client_order_id}")
        ack_into(response.ack, decision.ack, self._registry.numbers(request.auction_id).of(dealer))
        return response

    async def ReplaceLimitOrder(  # noqa: N802
        self, request: pb.ReplaceLimitOrderRequest, context: Any
    ) -> pb.ReplaceLimitOrderResponse:
        dealer = _panel_dealer(self._registry, request.auction_id)
        check_request(request)  # every bad field at once (server/request_checks.py)
        decision = await self._registry.execute(
            request.auction_id,
            lambda a: a.replace_limit_order(
                dealer=dealer,
                client_order_id=request.client_order_id,
                order_client_id=request.order_client_order_id,
                price=request.price,
                size=request.size,
                now=self._now(),
            ),
        )
        return pb.ReplaceLimitOrderResponse(ack=self._ack(request.auction_id, dealer, decision))

    async def CancelLimitOrder(  # noqa: N802
        self, request: pb.CancelLimitOrderRequest, context: Any
    ) -> pb.CancelLimitOrderResponse:
        dealer = _panel_dealer(self._registry, request.auction_id)
        check_request(request)  # every bad field at once (server/request_checks.py)
        decision = await self._registry.execute(
            request.auction_id,
            lambda a: a.cancel_limit_order(
                dealer=dealer,
                client_order_id=request.client_order_id,
                order_client_id=request.order_client_order_id,
                now=self._now(),
            ),
        )
        return pb.CancelLimitOrderResponse(ack=self._ack(request.auction_id, dealer, decision))

    async def DeclineCustomerRequest(  # noqa: N802
        self, request: pb.DeclineCustomerRequestRequest, context: Any
    ) -> pb.DeclineCustomerRequestResponse:
        dealer = _panel_dealer(self._registry, request.auction_id)
        check_request(request)  # every bad field at once (server/request_checks.py)
        decision = await self._registry.execute(
            request.auction_id,
            lambda a: a.decline_customer_request(
                dealer=dealer,
                client_order_id=request.client_order_id,
                customer=request.customer,
                kind=request.kind,
                side=request.side,
                size=request.size,
                price=request.price or None,
                reason=request.reason,
                now=self._now(),
            ),
        )
        return pb.DeclineCustomerRequestResponse(
            ack=self._ack(request.auction_id, dealer, decision)
        )

    async def SubmitOrders(  # noqa: N802
        self, request_iterator: AsyncIterator[pb.SubmitOrdersRequest], context: Any
    ) -> pb.SubmitOrdersResponse:
        """Bulk limit orders, all or nothing as a stream: nothing is applied until the whole
        stream has arrived (half-closed within :data:`BULK_STREAM_SECONDS`, at most
        :data:`MAX_BULK_ORDERS` orders, every message decodable); a stream that fails, is
        cancelled or times out before that leaves no order behind. Then every order is
        decided in one synchronous step, in order (a refused order does not stop the rest;
        the answer names each by index), and the answer goes out once every accepted order
        is durable.
        """
        dealer = _dealer()
        requests: list[pb.SubmitOrdersRequest] = []

        def take(request: pb.SubmitOrdersRequest) -> None:
            if len(requests) >= MAX_BULK_ORDERS:
                raise LimitExceeded(
                    f"a SubmitOrders stream carries at most {MAX_BULK_ORDERS} orders;"
                    " nothing was applied"
                )
            requests.append(request)

        await receive_whole(
            request_iterator,
            context,
            take,
            seconds=BULK_STREAM_SECONDS,
            nothing="nothing was applied",
        )
        response = pb.SubmitOrdersResponse()
        # No await from here to the last order: nothing can interrupt the application half
        # way (a cancellation lands only at an await). Commits complete in queue order and a
        # failed commit fails every later one, so awaiting each run's commit in turn waits
        # for every accepted order (and for the originals of repeats still in flight).
        durables: list[Awaitable[object]] = []
        accepted = duplicates = 0
        last_acked: dict[str, int] = {}  # auction id -> highest acknowledged event
        rejections = response.rejections
        # Each run of consecutive orders for one auction is decided by one engine command
        # (``submit_limit_orders``: every order's own outcome, as if submitted one by one).
        index = 0
        for auction_id, grouped in itertools.groupby(requests, key=attrgetter("auction_id")):
            run = list(grouped)
            outcomes, durable, highest = self._decide_run(dealer, auction_id, run)
            if durable is not None:
                durables.append(durable)
            if highest:
                last_acked[auction_id] = max(highest, last_acked.get(auction_id, 0))
            for request, outcome in zip(run, outcomes, strict=True):
                if isinstance(outcome, Accepted):
                    accepted += 1
                    duplicates += outcome.duplicate
                else:
                    rejections.append(
                        pb.OrderRejection(
                            index=index,
                            client_order_id=request.client_order_id[:MAX_ID_ECHO],
                            code=STATUS_FOR[outcome.code].name,
                            message=outcome.message[:MAX_REJECTION_MESSAGE],
                        )
                    )
                index += 1
        response.accepted = accepted
        response.duplicates = duplicates
        # The dealer's own number for its latest acknowledgement, as its acks count (numbers
        # only grow with the auction's, so the highest event gives the highest number).
        response.last_sequence = max(
            (self._registry.numbers(a).position(dealer, seq) for a, seq in last_acked.items()),
            default=0,
        )
        for durable in durables:
            await durable
        return response

    def _decide_run(
        self, dealer: str, auction_id: str, run: Sequence[pb.SubmitOrdersRequest]
    ) -> tuple[list[Accepted | DomainError], Awaitable[object] | None, int]:
        """Decide and apply ``run`` (orders of ``dealer`` for ``auction_id``) in one engine
        command: each order's acknowledgement or refusal, in order; the commit to await
        (None if nothing was decided); the highest acknowledged event (0 if none)."""
        try:
            if dealer not in self._registry.get(auction_id).panel:
                raise hidden(auction_id)
        except DomainError as exc:
            return [exc] * len(run), None, 0
        refused: dict[int, DomainError] = {}  # place in the run -> refusal before the engine
        terms: list[OrderTerms] = []
        for place, request in enumerate(run):
            try:
                side = wire.order_side_in(request.side)
            except DomainError as exc:  # not an order the engine can read
                refused[place] = exc
                continue
            terms.append(
                (
                    request.client_order_id,
                    side,
                    request.price,
                    request.size,
                    request.customer or None,
                )
            )
        places = range(len(run))
        if not terms:
            return [refused[place] for place in places], None, 0
        try:
            decision, durable = self._registry.begin(
                auction_id,
                lambda a: a.submit_limit_orders(dealer=dealer, orders=terms, now=self._now()),
            )
        except DomainError as exc:  # the run as a whole (the command refuses order by order)
            return [refused.get(place, exc) for place in places], None, 0
        assert isinstance(decision, BulkDecision)
        decided = iter(decision.outcomes)
        outcomes = [refused[place] if place in refused else next(decided) for place in places]
        return outcomes, durable, decision.ack.seq if decision.ack is not None else 0

    async def ListMySubmissions(  # noqa: N802
        self, request: pb.ListMySubmissionsRequest, context: Any
    ) -> pb.ListMySubmissionsResponse:
        dealer = _panel_dealer(self._registry, request.auction_id)
        check_request(request)  # every bad field at once (server/request_checks.py)
        auction = self._registry.get(request.auction_id)
        return wire.view_out(
            auction, auction.view_of(dealer), self._registry.numbers(request.auction_id).of(dealer)
        )

    async def GetAuction(  # noqa: N802
        self, request: pb.GetAuctionRequest, context: Any
    ) -> pb.GetAuctionResponse:
        principal = require_role(*WATCH_ROLES)
        auction = self._registry.get(request.auction_id)
        viewer_of(principal, auction)
        return pb.GetAuctionResponse(auction=sealed_auction_out(self._registry, principal, auction))

    async def WatchAuction(  # noqa: N802
        self, request: pb.WatchAuctionRequest, context: Any
    ) -> AsyncIterator[pb.WatchAuctionResponse]:
        principal = require_role(*WATCH_ROLES)
        auction = self._registry.get(request.auction_id)
        viewer = viewer_of(principal, auction)
        # Numbers as the caller counts them (``server.sequences``): no gaps for others' events.
        numbering = numbering_of(self._registry, principal, request.auction_id)
        known = numbering.out(self._registry.durable_seq(request.auction_id))
        if request.after_sequence > known:
            raise InvalidInput(
                "after_sequence", f"you have been shown only {known} events of this auction"
            )
        after = numbering.into(request.after_sequence)
        phase = Phase.SCHEDULED
        for event in self._registry.public_history(request.auction_id, 0):
            if event.seq <= after:  # only these change the phase
                phase = wire.phase_after(event, phase)
        buffers = self._registry.watch_buffers
        while True:
            durable = self._registry.durable_seq(request.auction_id)
            # One page at a time, within the participant's share of the watch buffer: a slow
            # or non-reading client holds its page (gRPC waits for the client to read), never
            # the history, and never more than the participant's cap over all its streams.
            page = nullcontext(WATCH_PAGE) if viewer is None else buffers.page(viewer, WATCH_PAGE)
            with page as size:
                if viewer is None:  # operators and observers see public events (in memory)
                    events = self._registry.public_history(request.auction_id, after)
                    through = durable
                else:  # the dealer's own events only, read back from the journal
                    events, through = await self._registry.visible_history(
                        request.auction_id, viewer, after, size
                    )
                for event in events:
                    phase = wire.phase_after(event, phase)
                    after = event.seq
                    message = wire.watch_out(
                        event, phase, viewer, auction, numbering.out(event.seq)
                    )
                    if message is not None:
                        yield message
            if phase in (Phase.FINAL, Phase.FAILED, Phase.CANCELLED):
                return
            after = max(after, through)  # everything up to ``through`` has been through
            if after < self._registry.durable_seq(request.auction_id):
                continue  # more pages are durable already
            await self._registry.wait_for_events(request.auction_id, after)


def add(server: Any, registry: AuctionRegistry, runtime: Runtime) -> str:
    """Add the servicer; returns its full service name."""
    auction_pb2_grpc.add_AuctionServiceServicer_to_server(
        AuctionServicer(registry, runtime), server
    )
    return str(pb.DESCRIPTOR.services_by_name["AuctionService"].full_name)
