"""``closeout.v1.OperatorService``: creating and running CDS auctions, and their results.

Commands need the operator role and go through the registry like dealers' submissions
(journaled before acknowledged). Results are open to operators, observers and dealers on the
panel, because a result never holds a sealed book. Reading a sealed book needs an audited
disclosure, which is journaled first.

This module must never decide an auction rule or return a sealed book without the record.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from closeout.v1 import common_pb2, operator_pb2_grpc
from closeout.v1 import operator_pb2 as pb
from matching.cds.auction import CdsAuction, Decision
from matching.cds.auction_set import AuctionOfSet, plan_auction_set
from matching.cds.phases import Phase
from matching.cds.publication import public_set
from matching.cds.settlement import settlement_statement
from matching.errors import AlreadyExists, InvalidInput, InvalidTransition, NotFound, NotPermitted
from server.acks import ack_out
from server.auth import Principal, require_role
from server.cds import wire
from server.cds.dealer_service import WATCH_ROLES, hidden, sealed_auction_out, viewer_of
from server.cds.registry import AuctionRegistry
from server.config import Role
from server.parts import split
from server.request_checks import check_request
from server.runtime import Runtime

MAX_PAGE = 500


#: Bounds of a StreamResults part, in bytes (the default is the largest; never more than half
#: the server's message limit).
MIN_PART_BYTES = 16 * 1024
MAX_PART_BYTES = 1024 * 1024


#: Phases in which nothing of an auction is published yet (stage 1 results come at its close).
UNPUBLISHED = frozenset({Phase.SCHEDULED, Phase.STAGE1_OPEN})


def published_to(principal: Principal, auction: CdsAuction) -> bool:
    """Whether ``principal`` may read ``auction``'s public results now: operators, observers
    and its panel always; any other dealer once something is published (stage 1 closed).
    Before that, the auction is hidden from it exactly as an unknown one (its existence, its
    currency and its phase are not public yet)."""
    if principal.role is not Role.DEALER or principal.participant_id in auction.panel:
        return True
    return auction.phase not in UNPUBLISHED


class OperatorServicer(operator_pb2_grpc.OperatorServiceServicer):
    """Operator RPCs over the registry."""

    def __init__(self, registry: AuctionRegistry, runtime: Runtime) -> None:
        self._registry = registry
        self._now = runtime.clock.now
        self._barrier = runtime.durability.barrier
        # Parts stay well under the server's own message limit, whatever it is configured to.
        self._part_ceiling = min(MAX_PART_BYTES, max(1024, runtime.config.max_message_bytes // 2))

    async def CreateAuction(  # noqa: N802 - RPC names are fixed by the proto
        self, request: pb.CreateAuctionRequest, context: Any
    ) -> pb.CreateAuctionResponse:
        operator = require_role(Role.OPERATOR).participant_id
        check_request(request)  # every bad field at once (server/request_checks.py)
        decision = CdsAuction.create(
            params=wire.params_in(request.parameters),
            panel=list(request.panel),
            schedule=wire.schedule_in(request.schedule),
            by=operator,
            now=self._now(),
            dealer_names=dict(request.dealer_names),
        )
        auction = await self._registry.create(decision)
        return pb.CreateAuctionResponse(
            auction=wire.auction_out(auction), ack=ack_out(decision.ack)
        )

    async def OpenWindow(  # noqa: N802
        self, request: pb.OpenWindowRequest, context: Any
    ) -> pb.OpenWindowResponse:
        operator = require_role(Role.OPERATOR).participant_id

        def open_next(a: CdsAuction) -> Decision:
            if a.phase is Phase.SCHEDULED:
                return a.open_stage1(by=operator, now=self._now())
            if a.phase is Phase.STAGE1_CLOSED:
                return a.open_stage2(by=operator, now=self._now())
            raise InvalidTransition(f"no window to open: the auction is {a.phase.value}")

        decision = await self._registry.execute(request.auction_id, open_next)
        auction = self._registry.get(request.auction_id)
        return pb.OpenWindowResponse(auction=wire.auction_out(auction), ack=ack_out(decision.ack))

    async def CloseWindow(  # noqa: N802
        self, request: pb.CloseWindowRequest, context: Any
    ) -> pb.CloseWindowResponse:
        operator = require_role(Role.OPERATOR).participant_id

        def close_open(a: CdsAuction) -> Decision:
            if a.phase is Phase.STAGE1_OPEN:
                return a.close_stage1(by=operator, now=self._now())
            if a.phase is Phase.STAGE2_OPEN:
                return a.close_stage2(by=operator, now=self._now())
            raise InvalidTransition(f"no window is open: the auction is {a.phase.value}")

        decision = await self._registry.execute(request.auction_id, close_open)
        auction = self._registry.get(request.auction_id)
        return pb.CloseWindowResponse(auction=wire.auction_out(auction), ack=ack_out(decision.ack))

    async def CancelAuction(  # noqa: N802
        self, request: pb.CancelAuctionRequest, context: Any
    ) -> pb.CancelAuctionResponse:
        operator = require_role(Role.OPERATOR).participant_id
        decision = await self._registry.execute(
            request.auction_id,
            lambda a: a.cancel(by=operator, reason=request.reason, now=self._now()),
        )
        auction = self._registry.get(request.auction_id)
        return pb.CancelAuctionResponse(
            auction=wire.auction_out(auction), ack=ack_out(decision.ack)
        )

    async def DiscloseBook(  # noqa: N802
        self, request: pb.DiscloseBookRequest, context: Any
    ) -> pb.DiscloseBookResponse:
        operator = require_role(Role.OPERATOR).participant_id
        decision = await self._registry.execute(
            request.auction_id,
            lambda a: a.disclose_book(by=operator, reason=request.reason, now=self._now()),
        )
        auction = self._registry.get(request.auction_id)
        return pb.DiscloseBookResponse(
            ack=ack_out(decision.ack),
            dealers=[
                pb.DealerSubmissions(dealer=v.dealer, submissions=wire.view_out(auction, v))
                for v in auction.all_views(disclosed=True)
            ],
        )

    def _result(self, auction_id: str) -> pb.AuctionResult:
        """The auction's result as the caller may see it (GetResults and StreamResults)."""
        principal = require_role(*WATCH_ROLES)
        auction = self._registry.get(auction_id)
        viewer = viewer_of(principal, auction)
        # Customer ids: every one for operators, a dealer's own for it, none for observers.
        customers: str | bool = (
            True if principal.role is Role.OPERATOR else viewer if viewer is not None else False
        )
        return wire.result_out(auction.result(customers_of=customers))

    async def GetResults(  # noqa: N802
        self, request: pb.GetResultsRequest, context: Any
    ) -> pb.GetResultsResponse:
        return pb.GetResultsResponse(result=self._result(request.auction_id))

    async def StreamResults(  # noqa: N802
        self, request: pb.StreamResultsRequest, context: Any
    ) -> AsyncIterator[pb.StreamResultsResponse]:
        """GetResults' answer in parts (:func:`server.parts.split`): computed once, so every
        part is of one moment, and sent only once everything it reflects is durable (the
        guard's barrier covers unary answers; a stream waits here)."""
        result = self._result(request.auction_id)
        if (pending := self._barrier()) is not None:
            await pending
        wanted = request.max_part_bytes or MAX_PART_BYTES
        budget = min(max(wanted, MIN_PART_BYTES), self._part_ceiling)
        parts = split(result, budget)
        for index, part in enumerate(parts):
            yield pb.StreamResultsResponse(part=part, index=index, count=len(parts))

    async def GetPublicResults(  # noqa: N802
        self, request: pb.GetPublicResultsRequest, context: Any
    ) -> pb.GetPublicResultsResponse:
        principal = require_role(*WATCH_ROLES)  # public once published: every caller
        if request.auction_set:
            found = [
                a
                for a in self._registry.auctions()
                if a.auction_set is not None
                and a.auction_set.get("id") == request.auction_set
                and published_to(principal, a)
            ]
            if not found:
                raise NotFound(f"no auction set {request.auction_set!r}")
            if request.auction_id and request.auction_id not in {a.auction_id for a in found}:
                raise InvalidInput("auction_id", f"is not in the set {request.auction_set!r}")
        elif request.auction_id:
            auction = self._registry.get(request.auction_id)
            if not published_to(principal, auction):
                raise hidden(request.auction_id)  # word for word an unknown auction's refusal
            found = [auction]
        else:
            raise InvalidInput("auction_id", "name an auction or an auction_set")
        return pb.GetPublicResultsResponse(results=[wire.public_out(r) for r in public_set(found)])

    async def GetSettlementStatement(  # noqa: N802
        self, request: pb.GetSettlementStatementRequest, context: Any
    ) -> pb.GetSettlementStatementResponse:
        principal = require_role(Role.DEALER, Role.OPERATOR)
        auction = self._registry.get(request.auction_id)
        if principal.role is Role.DEALER:
            viewer_of(principal, auction)
            if request.dealer and request.dealer != principal.participant_id:
                raise NotPermitted("a dealer sees only its own settlement statement")
            dealer = principal.participant_id
        else:
            if not request.dealer:
                raise InvalidInput("dealer", "required for an operator")
            dealer = request.dealer
        return pb.GetSettlementStatementResponse(
            statement=wire.statement_out(settlement_statement(auction, dealer))
        )

    async def CreateAuctionSet(  # noqa: N802
        self, request: pb.CreateAuctionSetRequest, context: Any
    ) -> pb.CreateAuctionSetResponse:
        operator = require_role(Role.OPERATOR).participant_id
        check_request(request)  # every bad field at once (server/request_checks.py)
        members = [
            AuctionOfSet(wire.params_in(a.parameters, f"auctions[{i}].parameters"), a.description)
            for i, a in enumerate(request.auctions)
        ]
        decisions = plan_auction_set(
            set_id=request.auction_set,
            terms=request.terms,
            panel=list(request.panel),
            dealer_names=dict(request.dealer_names),
            currency_rates=dict(request.currency_rates),
            auctions=members,
            schedule=wire.schedule_in(request.schedule),
            by=operator,
            now=self._now(),
        )
        existing = self._registry.auctions()
        if any(
            a.auction_set is not None and a.auction_set.get("id") == request.auction_set
            for a in existing
        ):
            raise AlreadyExists(f"an auction set {request.auction_set!r} already exists")
        taken = {a.auction_id for a in existing}
        for decision in decisions:
            aid = decision.events[0].auction_id
            if aid in taken:
                raise AlreadyExists(f"an auction {aid!r} already exists")
        created = [await self._registry.create(d) for d in decisions]
        return pb.CreateAuctionSetResponse(auctions=[wire.auction_out(a) for a in created])

    async def ListAuctions(  # noqa: N802
        self, request: pb.ListAuctionsRequest, context: Any
    ) -> pb.ListAuctionsResponse:
        principal = require_role(*WATCH_ROLES)
        visible = [
            a
            for a in self._registry.auctions()
            if principal.role is not Role.DEALER or principal.participant_id in a.panel
        ]
        size = min(request.page.page_size or 100, MAX_PAGE)
        token = request.page.page_token
        try:
            start = int(token) if token else 0
        except ValueError:
            raise InvalidInput("page.page_token", "not a token this server issued") from None
        if start < 0 or start > len(visible):
            raise InvalidInput("page.page_token", "not a token this server issued")
        page = visible[start : start + size]
        nxt = str(start + size) if start + size < len(visible) else ""
        return pb.ListAuctionsResponse(
            auctions=[sealed_auction_out(self._registry, principal, a) for a in page],
            page=common_pb2.PageInfo(next_page_token=nxt),
        )

    async def ListSubmitters(  # noqa: N802
        self, request: pb.ListSubmittersRequest, context: Any
    ) -> pb.ListSubmittersResponse:
        require_role(Role.OPERATOR, Role.OBSERVER)
        auction = self._registry.get(request.auction_id)
        return pb.ListSubmittersResponse(
            phase=wire.auction_out(auction).phase,
            submitters=[
                pb.Submitter(
                    dealer=dealer, market=market, settlement_requests=psrs, limit_orders=orders
                )
                for dealer, market, psrs, orders in auction.activity()
            ],
        )


def add(server: Any, registry: AuctionRegistry, runtime: Runtime) -> str:
    """Add the servicer; returns its full service name."""
    operator_pb2_grpc.add_OperatorServiceServicer_to_server(
        OperatorServicer(registry, runtime), server
    )
    return str(pb.DESCRIPTOR.services_by_name["OperatorService"].full_name)
